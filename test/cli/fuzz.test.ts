// `ftcp fuzz`: a short run against a real replica pair (real processes, UDP on
// loopback). Checked: no crash, every load stream intact, both replicas running in their
// roles at the end, the backup's drop counters identical to the primary's at the same log
// index, and the counters moved for the bad input sent (the switch's for what it refuses,
// the stacks' for what reaches them). Timing: TEST_TIMING (this machine is shared); no
// durations asserted. The longer run is recorded in docs/reliability.md.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist, killAll, startCli } from '../helpers/process.js';
import { cli } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killAll());

describeWithDist('ftcp fuzz against a live pair', [...LIVE_SOURCES, 'cli/fuzz', 'lab/fuzz-run', 'lab/fuzz', 'lab/launch'], () => {
  it('3 s of fuzz: no crash, streams intact, both replicas replicating, drops counted', async () => {
    const p = startCli(['fuzz', '--duration-ms', '3000', '--rate', '600', '--seed', '7', '--json', '--capture-dir', dir, '--heartbeat-ms', String(TEST_TIMING.heartbeatMs), '--failure-timeout-ms', String(TEST_TIMING.failureTimeoutMs)]);
    const exit = await p.exited;
    const r = JSON.parse(p.stdout().trim().split('\n').pop()!);
    expect(r.problems, p.stderr()).toEqual([]);
    expect(exit.code).toBe(0);
    expect(r.ok).toBe(true);
    expect(r.crashes).toBe(0);
    expect(r.streams.broken).toBe(0);
    expect(r.streams.intact).toBeGreaterThanOrEqual(4); // at least one load during the fuzz and the one after
    expect(r.resets).toBe(0);
    expect(r.replicating.alive).toEqual({ a: true, b: true });
    expect(r.replicating.dropsMatch).toBe(true);
    expect(r.replicas.a.role).toBe('primary');
    expect(r.replicas.b.role).toBe('backup');
    for (const n of Object.values(r.sent.byKind) as number[]) expect(n).toBeGreaterThan(0);
    expect(r.switch.dropped.malformed).toBeGreaterThan(0);
    expect(r.switch.dropped['bad-control']).toBeGreaterThan(0);
    expect(r.switch.dropped['bad-auth']).toBeGreaterThan(0); // spoofed registrations of the service address
    expect(r.switch.badAuth['no-mac'] + r.switch.badAuth['bad-mac']).toBe(r.switch.dropped['bad-auth']);
    expect(r.switch.serviceMoves).toBe(0); // none of them took the service address
    expect(r.switch.dropped['not-owner']).toBeGreaterThan(0); // the spoofed source
    for (const reason of ['tcp-bad-checksum', 'tcp-bad-option', 'unacceptable-segment']) expect(r.replicas.a.drops[reason], reason).toBeGreaterThan(0);
    expect(r.replies.rst).toBeGreaterThan(0);
  }, 180_000);
});

it('ftcp fuzz: bad flags exit 2', async () => {
  for (const [args, message] of [
    [['--rate', '0'], /--rate/],
    [['--heartbeat-ms', '50', '--failure-timeout-ms', '50'], /must be longer than --heartbeat-ms/],
  ] as const) {
    const r = await cli(['fuzz', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  }
});
