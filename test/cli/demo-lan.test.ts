// `ftcp demo failover --network lan`, run in-process through runCli: the failover demo on a
// real Linux bridge (src/lab/demo/lan.ts): replicas behind TAP devices in their own network
// namespaces, the kernel client in another; kill -9 of the primary. --json's report says ok,
// names the new primary's gratuitous ARP in the bridge capture, the bridge's fdb entry on
// b's port and the client namespace's nstat counters; the run leaves no namespace behind.
// The flags that do not fit a LAN are refused in one line (these need no root).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { lanDemoMissing } from '../../src/lab/demo/lan.js';
import { listNetns } from '../../src/lab/netns.js';
import { describeNeeding } from '../helpers/kernel.js';
import { distProblem } from '../helpers/process.js';
import { checkCaptureWithTshark, TSHARK_INSTALL_HINT, tsharkAvailable } from '../helpers/tshark.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-demo-lan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const missing = [...lanDemoMissing(), tsharkAvailable() ? '' : TSHARK_INSTALL_HINT, distProblem(['cli/main', 'cli/replica', 'cli/kernel-client', 'net/replica-host', 'net/service-link']) ?? ''].filter((m) => m !== '').join('; ');

/** tshark reads the bridge capture and every replica capture of the run with no malformed frame. */
function expectCapturesClean(report: { lan: { bridgeCapture: { file: string } }; captures: Record<string, string> }): void {
  const files = [report.lan.bridgeCapture.file, ...['primary', 'backup', 'shadow', 'log'].map((k) => report.captures[k]!).filter((f) => existsSync(f))];
  expect(files.length).toBeGreaterThanOrEqual(4);
  for (const file of files) {
    const check = checkCaptureWithTshark(file);
    expect({ file, malformed: check.malformed, exitCode: check.exitCode, cutShort: check.cutShort }, check.stderr).toEqual({ file, malformed: 0, exitCode: 0, cutShort: false });
    expect(check.packets, file).toBeGreaterThan(0);
  }
}

describeNeeding('ftcp demo failover --network lan', missing, () => {
  it('--json: ok, the GARP after the kill in the bridge capture, the service MAC on b`s port, nstat read', async () => {
    const r = await cli(['demo', 'failover', '--network', 'lan', '--seed', '4', '--app', 'counter', '--connections', '3', '--kill-after-ms', '300', '--heartbeat-ms', '25', '--failure-timeout-ms', '300', '--capture-dir', dir, '--json']);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(report.problems, r.stdout + r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    expect(report).toMatchObject({ ok: true, seed: 4, app: 'counter', connections: 3, streams: { intact: 3, broken: 0 }, resets: 0, splitBrain: 0, failover: { killed: 'a', by: 'b', epoch: 2 } });
    expect(report.counter).toMatchObject({ consecutive: true });
    expect(report.lan.garpAfterKill.frame).toBeGreaterThan(0);
    expect(report.lan.serviceMacAt.host).toBe('b');
    expect(report.lan.bridgeCapture.serviceResets).toBe(0);
    expect(Object.keys(report.lan.nstat.delta).sort()).toEqual(['TcpExtDelayedACKLost', 'TcpExtTCPDSACKOldSent']);
    expect(report.captures.client).toBe(report.lan.bridgeCapture.file);
    for (const name of ['client', 'primary', 'backup', 'log']) expect(existsSync(report.captures[name])).toBe(true);
    expect(report.command).toMatch(/^ftcp demo failover --network lan /);
    expect(listNetns().filter((n) => n.startsWith(`${report.lan.prefix}-`))).toEqual([]);
    expectCapturesClean(report);
  }, 180_000);

  it('--link-delay-ms 5: netem where the kernel has it, else the delaying log relay; still ok, no RST, no split brain', async () => {
    const r = await cli(['demo', 'failover', '--network', 'lan', '--link-delay-ms', '5', '--seed', '5', '--app', 'counter', '--connections', '2', '--kill-after-ms', '400',
      '--heartbeat-ms', '25', '--failure-timeout-ms', '300', '--capture-dir', join(dir, 'delay'), '--json']);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(report.problems, r.stdout + r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    expect(report).toMatchObject({ ok: true, streams: { intact: 2, broken: 0 }, resets: 0, splitBrain: 0, failover: { killed: 'a', by: 'b' } });
    expect(report.lan.linkDelay.ms).toBe(5);
    expect(['netem', 'log-relay']).toContain(report.lan.linkDelay.by);
    expect(report.lan.garpAfterKill.frame).toBeGreaterThan(0);
    expect(report.lan.serviceMacAt.host).toBe('b');
    expect(report.lan.bridgeCapture.serviceResets).toBe(0);
    expect(Object.keys(report.lan.nstat.delta).sort()).toEqual(['TcpExtDelayedACKLost', 'TcpExtTCPDSACKOldSent']);
    expect(listNetns().filter((n) => n.startsWith(`${report.lan.prefix}-`))).toEqual([]);
    expectCapturesClean(report);
  }, 180_000);
});

describe('ftcp demo failover --network lan: refused flags', () => {
  it.each([
    [['--sim'], /^error: --network lan runs real processes on a Linux bridge; drop --sim\n$/],
    [['--client', 'ftcp'], /^error: --network lan has the kernel's TCP as the client; drop --client ftcp\n$/],
    [['--unsafe-no-output-rule'], /^error: --unsafe-no-output-rule is for --network loopback/],
  ])('%j', async (extra, message) => {
    const r = await cli(['demo', 'failover', '--network', 'lan', ...extra, '--capture-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('no socat on PATH (the TAP device cannot be made): one line naming it, exit 2, nothing built', () => {
    const bin = join(dir, 'path-without-socat');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['ip', 'tc', 'tcpdump']) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      if (found !== '') symlinkSync(found, join(bin, tool));
    }
    const r = spawnSync(process.execPath, [fileURLToPath(new URL('../../bin/ftcp.js', import.meta.url)), 'demo', 'failover', '--network', 'lan', '--capture-dir', dir], { encoding: 'utf8', env: { ...process.env, PATH: bin }, timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: ftcp demo failover --network lan needs [^\n]*socat[^\n]*\n$/);
  });

  it('--link-delay-ms needs --network lan; --network takes loopback or lan', async () => {
    expect((await cli(['demo', 'failover', '--link-delay-ms', '5', '--capture-dir', dir])).stderr).toBe('error: --link-delay-ms needs --network lan\n');
    expect((await cli(['demo', 'failover', '--network', 'wan', '--capture-dir', dir])).stderr).toBe('error: --network must be loopback or lan, got wan\n');
    expect((await cli(['demo', 'failover', '--arbiter', 'etcd', '--capture-dir', dir])).stderr).toMatch(/^error: --arbiter needs --network lan /);
    expect((await cli(['demo', 'failover', '--network', 'lan', '--arbiter', 'zookeeper', '--capture-dir', dir])).stderr).toBe('error: --arbiter must be embedded or etcd, got zookeeper\n');
  });

});
