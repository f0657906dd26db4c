// redis-cli as the client: `ftcp demo failover --app redis --client kernel`
// runs one redis-cli per connection inside the project's network namespace, on the kernel's
// TCP through the TUN device, fed INCR and SET/GET through its stdin, across a kill -9 of the
// primary. The same checks as with the ftcp client (INCR replies exactly 1..N, each
// connection's own counter +1 per reply, every GET the value just set, the surviving Redis
// holding what the client last saw), the kernel's nstat counters in the report, and the
// namespace removed afterwards. Needs root, socat, iproute2 and redis-server (with redis-cli).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { destroyNetns, listNetns } from '../../src/lab/netns.js';
import { describeKernel } from '../helpers/kernel.js';
import { describeRedis } from '../helpers/redis.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist, killAll, startCli, type Proc } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-kernel-redis-'));
const outers: Proc[] = [];
afterEach(async () => {
  await killAll();
  for (const p of outers.splice(0)) for (const name of listNetns().filter((n) => n.startsWith(`ftcp-${p.pid}-`))) destroyNetns(name);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SOURCES = [...LIVE_SOURCES, 'lab/demo/live', 'lab/demo/kernel', 'lab/netns-run', 'lab/demo/redis', 'cli/kernel-client', 'lab/redis-cli-load', 'lab/redis-load', 'lab/redis-server', 'net/resp-sequencer', 'lab/netns'];

describeKernel('redis-cli as the client, through TUN in a network namespace', () => {
  describeRedis('with a redis-server behind each replica', () => {
    describeWithDist('ftcp demo failover --app redis --client kernel', SOURCES, () => {
      it('--json: every check holds across the kill, nstat is reported, the namespace is gone', async () => {
        const p = startCli(['demo', 'failover', '--client', 'kernel', '--app', 'redis', '--seed', '12', '--connections', '3', '--kill-after-ms', '400', '--json', '--capture-dir', dir, '--heartbeat-ms', String(TEST_TIMING.heartbeatMs), '--failure-timeout-ms', String(TEST_TIMING.failureTimeoutMs)]);
        outers.push(p);
        const exit = await p.exited;
        const last = p.stdout().trim().split('\n').pop() ?? '';
        const report = JSON.parse(last);
        expect(report.problems, p.stderr().slice(-2000)).toEqual([]);
        expect(exit.code).toBe(0);
        expect(report).toMatchObject({ ok: true, app: 'redis', streams: { intact: 3, broken: 0 }, resets: 0, splitBrain: 0, failover: { killed: 'a', by: 'b', epoch: 2 } });
        expect(report.redis.incr.exactly1toN).toBe(true);
        expect(report.redis.incr.replies).toBeGreaterThan(0);
        expect(report.redis.perConnection).toMatchObject({ connections: 3, incrs: report.redis.incr.replies });
        expect(report.redis.survivor).toMatchObject({ replica: 'b', counter: report.redis.incr.replies, agree: true, keysDiffering: 0 });
        // redis-cli's first command, COMMAND DOCS, was answered by each Redis in its own hash
        // order (a divergence per connection); the lab's servers have COMMAND off.
        expect(report.divergenceList).toEqual([]);
        expect(report.divergences).toBe(0);
        expect(typeof report.kernel.nstat.delta.TcpExtTCPDSACKOldSent).toBe('number');
        expect(report.netns.removed).toBe(true);
        expect(listNetns()).not.toContain(report.netns.name);
      }, 300_000);
    });
  });
});
