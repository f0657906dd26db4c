// How the live demo ends when it cannot judge a failover: Ctrl-C says "interrupted" and
// exits 130; a false failover before the kill (here made by pausing the primary with
// SIGSTOP past the failure timeout) stops the demo at once, saying what to change; the
// reproduce line carries the timing and capture flags of the run. Real processes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist, killAll, startCli, stopProc } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-demo-stops-'));
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});
const timing = ['--heartbeat-ms', String(TEST_TIMING.heartbeatMs), '--failure-timeout-ms', String(TEST_TIMING.failureTimeoutMs)];

describeWithDist('the live demo stopped early', [...LIVE_SOURCES, 'cli/demo', 'lab/demo/live', 'lab/demo/report'], () => {
  it('SIGINT: "interrupted", exit 130, not a FAILED verdict', async () => {
    const p = startCli(['demo', 'failover', '--seed', '4', '--app', 'counter', '--kill-after-ms', '30000', '--capture-dir', dir, ...timing]);
    await p.waitFor(/client started/, 30_000);
    const end = await stopProc(p, 'SIGINT', 30_000);
    expect(end.code, p.stdout() + p.stderr()).toBe(130);
    expect(p.stdout()).toMatch(/^result: interrupted by SIGINT; every child was stopped, nothing was judged$/m);
    expect(p.stdout()).not.toMatch(/FAILED|broken/);
    expect(p.stdout()).toMatch(new RegExp(`^reproduce: ftcp demo failover .*--heartbeat-ms ${TEST_TIMING.heartbeatMs} --failure-timeout-ms ${TEST_TIMING.failureTimeoutMs}.* --capture-dir ${dir}$`, 'm'));
  }, 60_000);

  it('a false failover before the kill: the demo stops there and says what to change', async () => {
    const started = Date.now();
    const p = startCli(['demo', 'failover', '--seed', '5', '--app', 'counter', '--kill-after-ms', '40000', '--capture-dir', dir, ...timing]);
    const [, pid] = (await p.waitFor(/replica a started as primary \(pid (\d+)\)/, 30_000)) as unknown as [string, string];
    await p.waitFor(/client started/, 30_000);
    // the primary, a child of the demo this test started, paused past the failure timeout
    process.kill(Number(pid), 'SIGSTOP');
    await new Promise((r) => setTimeout(r, TEST_TIMING.failureTimeoutMs * 4));
    process.kill(Number(pid), 'SIGCONT');
    const end = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
    expect(end, p.stdout()).not.toBeNull();
    expect(Date.now() - started).toBeLessThan(40_000);
    expect(end!.code, p.stdout() + p.stderr()).toBe(1);
    expect(p.stdout()).toMatch(/^result: FAILED: a false failover before the kill, so the demo stopped there$/m);
    expect(p.stdout()).toMatch(/rerun with --heartbeat-ms \d+ --failure-timeout-ms \d+/);
    expect(p.stdout()).not.toMatch(/kill -9 replica/);
  }, 90_000);
});
