// `ftcp soak` after a failover that no fault of its own caused: the backup is stopped from
// outside (SIGSTOP) before the soak's first fault, the primary wins the test-and-set alone.
// The soak counts one false failover, waits for the stopped replica to step down, lets a new
// backup join the survivor, and goes on with its own faults. No durations are asserted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Soak } from '../../src/lab/soak.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-soak-ff-'));
afterAll(() => { if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true }); });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describeWithDist('ftcp soak: a false failover is counted, the pair restored, the soak goes on', [...LIVE_SOURCES, 'lab/soak', 'lab/live-cluster'], () => {
  it('one false failover, then a false-failover recovery line, then faults of its own', async () => {
    let out = '';
    const soak = new Soak(
      { durationS: 40, seed: 11, app: 'echo', connections: 1, intervalMs: 12000, heartbeatMs: TEST_TIMING.heartbeatMs, failureTimeoutMs: TEST_TIMING.failureTimeoutMs, dir, json: false },
      { stdout: (t) => (out += t), stderr: (t) => (out += t), nowMs: () => Date.now() },
    );
    const run = soak.run();
    // The pair serves: a has accepted b's log channel (a fixed wait was too short on a loaded
    // machine, where b could be stopped before it connected and nobody suspected anyone),
    // then the start-up bound's 500 ms pass; all well before the first fault (12 s on).
    const bUp = () => soak.cluster.replicas.get('a')?.events.some((e) => e.event === 'channel-up') === true;
    for (let i = 0; i < 600 && !bUp(); i++) await sleep(50);
    expect(bUp(), out).toBe(true);
    await sleep(1000);
    const b = soak.cluster.replicas.get('b')!;
    b.signal('SIGSTOP'); // longer than the start-up bound and D: a is left to suspect b
    await sleep(2500);
    b.signal('SIGCONT');
    const outcome = await run;
    const lines = out.split('\n');
    expect(lines.find((l) => /fault 1 at .*: false-failover; restored after \d+ ms: a primary, j1 backup/.test(l)), out).toBeDefined();
    expect(out).toMatch(/false failovers 1\b/);
    expect(out).toMatch(/streams \d+ intact, 0 broken; resets 0/);
    // the soak went on with faults of its own after restoring the pair
    expect(lines.filter((l) => /^ok +fault \d+ at .*: (kill|pause|arbiter)/.test(l)).length, out).toBeGreaterThan(0);
    expect(outcome).toBe('liveness'); // a false failover fails the run (exit 3)
  }, 120_000);
});
