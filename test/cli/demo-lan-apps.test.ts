// `ftcp demo failover --network lan` with an app upstream of each replica: each replica host
// runs its own instance of the app on its own loopback (a Node HTTP server, or Debian's
// redis-server), and the client host's kernel clients are tools nobody here wrote (curl,
// redis-cli). kill -9 of the primary under load; the --json report says:
// - every stream intact, no RST of a service connection on the bridge, no split brain;
// - curl: every body checked, one keep-alive connection per curl across the failover;
// - redis: INCR replies exactly 1..N, and b's own redis-server (in b's namespace, asked
//   after the run) holds what the client last saw of every key; no divergence;
// - the new primary's gratuitous ARP in the bridge capture; the service MAC on b's port;
// - nothing of the run is left: no namespace, no app process.
// And `--arbiter etcd`: the same failover with the arbiter on three etcd members, one in
// each of the hosts a, b and arb; the report names them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { lanDemoMissing } from '../../src/lab/demo/lan.js';
import { redisMissing } from '../../src/lab/demo/redis.js';
import { listNetns } from '../../src/lab/netns.js';
import { describeNeeding, toolsMissing } from '../helpers/kernel.js';
import { distProblem } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-demo-lan-apps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const missing = [...lanDemoMissing(), ...toolsMissing(['curl']), redisMissing(true) ?? '', distProblem(['cli/main', 'cli/replica', 'cli/kernel-client', 'lab/http-upstream-main', 'net/replica-host']) ?? '']
  .filter((m) => m !== '')
  .join('; ');

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function lanDemo(extra: string[], sub: string) {
  const r = await cli(['demo', 'failover', '--network', 'lan', '--connections', '2', '--kill-after-ms', '400', '--heartbeat-ms', '25', '--failure-timeout-ms', '300', '--capture-dir', join(dir, sub), '--json', ...extra]);
  const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
  expect(report.problems, r.stdout + r.stderr).toEqual([]);
  expect(r.code).toBe(0);
  expect(report).toMatchObject({ ok: true, streams: { intact: 2, broken: 0 }, resets: 0, splitBrain: 0, failover: { killed: 'a', by: 'b', epoch: 2 } });
  expect(report.lan.garpAfterKill.frame).toBeGreaterThan(0);
  expect(report.lan.serviceMacAt.host).toBe('b');
  expect(report.lan.bridgeCapture.serviceResets).toBe(0);
  expect(listNetns().filter((n) => n.startsWith(`${report.lan.prefix}-`))).toEqual([]);
  return report;
}

describeNeeding('ftcp demo failover --network lan with an upstream app per replica host', missing, () => {
  it('--app http --kernel-tool curl: every body checked, one keep-alive connection per curl, no divergence', async () => {
    const report = await lanDemo(['--app', 'http', '--kernel-tool', 'curl', '--seed', '6'], 'http');
    expect(report.app).toBe('http');
    expect(report.client).toMatchObject({ tool: 'curl', connectionsOpened: 2 });
    expect(report.client.requests).toBeGreaterThan(100);
    expect(report.divergences).toBe(0);
  }, 180_000);

  it('--app redis (redis-cli): INCR exactly 1..N across the failover; b`s own redis-server holds what the client last saw; no divergence', async () => {
    const report = await lanDemo(['--app', 'redis', '--seed', '7'], 'redis');
    expect(report.app).toBe('redis');
    expect(report.redis.incr.exactly1toN).toBe(true);
    expect(report.redis.incr.replies).toBeGreaterThan(0);
    expect(report.redis.survivor).toMatchObject({ replica: 'b', agree: true, keysDiffering: 0 });
    expect(report.redis.survivor.keysChecked).toBeGreaterThan(0);
    // redis-cli's COMMAND DOCS at connect diverged on every connection while COMMAND was on
    // (two instances list the command table in different orders); it is off in the lab.
    expect(report.divergenceList).toEqual([]);
    expect(report.divergences).toBe(0);
    // Each host's redis-server ran in that host's namespace and is gone with it.
    const servers = Object.values(report.redis.servers) as Array<{ port: number; pid: number }>;
    expect(servers.map((s) => s.port)).toEqual([9700, 9700]);
    for (const s of servers) expect(pidAlive(s.pid)).toBe(false);
  }, 180_000);
});

describeNeeding('ftcp demo failover --network lan --arbiter etcd', [...lanDemoMissing({ etcd: true }), distProblem(['cli/main', 'cli/replica', 'net/arbiter-etcd', 'lab/etcd-cluster']) ?? ''].filter((m) => m !== '').join('; '), () => {
  it('--arbiter etcd: ok across the failover; the replicas` arbiter is the three members on a, b and arb', async () => {
    const report = await lanDemo(['--arbiter', 'etcd', '--app', 'counter', '--kill-after-ms', '300', '--seed', '8'], 'etcd');
    const hosts = Object.fromEntries((report.lan.hosts as Array<{ name: string; address: string }>).map((h) => [h.name, h.address]));
    expect(report.lan.arbiter).toEqual({ kind: 'etcd', address: `etcd://${hosts['a']}:2379,${hosts['b']}:2379,${hosts['arb']}:2379` });
    expect(report.counter).toMatchObject({ consecutive: true });
    expect(report.command).toMatch(/ --arbiter etcd /);
  }, 180_000);
});
