// `ftcp experiment state-transfer`: every method completes on the same workloads, the
// checkpoints restore to the primary's state, and the figures say what the runs show:
// for small requests, shipping state costs far more bytes than shipping operations, and
// holding output for a checkpoint costs latency; for an upload whose app keeps only a hash,
// the state is smaller than the operations.
import { describe, expect, it } from 'vitest';
import { runStateTransferExperiment, STATE_TRANSFER_DEFAULTS } from '../../src/lab/experiment-state-run.js';
import { runStateMethod } from '../../src/sim/experiment-state.js';
import { cli } from '../cli/cli-helpers.js';

describe('experiment state-transfer', () => {
  let clock = 0;
  // The experiment's own seeds: with two, one seed whose losses land badly for the checkpoint
  // (the upload's out-of-order data in every image) decides the upload figures alone.
  const report = runStateTransferExperiment({ seeds: STATE_TRANSFER_DEFAULTS.seeds, workloads: ['counter', 'upload'], intervalsUs: [25_000], cpuRepeats: 1 }, () => (clock += 7));
  const row = (workload: string, method: string) => report.rows.find((r) => r.workload === workload && r.method === method)!;

  it('every method completes every run: streams intact, every checkpoint image restores to the primary state', () => {
    expect(report.rows.map((r) => `${r.workload} ${r.method}`)).toEqual(['counter lone', 'counter log', 'counter checkpoint 25 ms', 'upload lone', 'upload log', 'upload checkpoint 25 ms']);
    for (const r of report.rows) expect(r.complete, `${r.workload} ${r.method}`).toBe(true);
    const c = runStateMethod('counter', 2, { kind: 'checkpoint', intervalUs: 25_000 });
    expect(c.backupConsistent).toBe(true);
    expect(c.checkpoints).toBeGreaterThan(10);
  });

  it('the same client bytes under every method; a lone server ships nothing', () => {
    for (const w of ['counter', 'upload']) {
      expect(row(w, 'lone').shippedPerClientByte).toBe(0);
      for (const m of ['log', 'checkpoint 25 ms']) expect(runStateMethod(w as 'counter', 5, { kind: 'lone' }).clientBytes).toBe(runStateMethod(w as 'counter', 5, m === 'log' ? { kind: 'log' } : { kind: 'checkpoint', intervalUs: 25_000 }).clientBytes);
    }
  });

  it('counter: checkpoints ship over ten times the bytes of the log, and hold answers longer', () => {
    const log = row('counter', 'log');
    const ckpt = row('counter', 'checkpoint 25 ms');
    expect(ckpt.shippedPerClientByte).toBeGreaterThan(10 * log.shippedPerClientByte);
    expect(ckpt.p50Ms!).toBeGreaterThan(log.p50Ms!);
    expect(log.p50Ms!).toBeGreaterThan(row('counter', 'lone').p50Ms!);
  });

  it('upload: the log ships every byte the client sent; a checkpoint of a hashing app ships less, at a lower throughput', () => {
    const log = row('upload', 'log');
    const ckpt = row('upload', 'checkpoint 25 ms');
    expect(log.shippedPerClientByte).toBeGreaterThanOrEqual(1);
    expect(ckpt.shippedPerClientByte).toBeLessThan(log.shippedPerClientByte);
    expect(ckpt.throughputKBps).toBeLessThan(log.throughputKBps);
  });

  it('CPU comes from the clock it is given, per MB of client payload', () => {
    for (const r of report.rows) expect(r.cpuMsPerMB).toBeGreaterThan(0);
  });
});

describe('ftcp experiment state-transfer', () => {
  it('--json prints one JSON object and nothing else', async () => {
    const r = await cli(['experiment', 'state-transfer', '--seeds', '2', '--workloads', 'counter', '--cpu-repeats', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const o = JSON.parse(lines[0]!);
    expect(o.options).toMatchObject({ seeds: [2], workloads: ['counter'], intervalsUs: [25_000], cpuRepeats: 1 });
    expect(o.rows.map((x: { method: string }) => x.method)).toEqual(['lone', 'log', 'checkpoint 25 ms']);
    expect(o.rows[2]).toEqual(expect.objectContaining({ shippedPerClientByte: expect.any(Number), dirtyPerClientByte: expect.any(Number), checkpoints: expect.any(Number), p50Ms: expect.any(Number), cpuMsPerMB: expect.any(Number), complete: true }));
  });

  it('a checkpoint interval under 1 ms is one line, exit 2', async () => {
    const r = await cli(['experiment', 'state-transfer', '--interval-ms', '0.5']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--interval-ms: a checkpoint interval must be at least 1 ms/);
  });
});
