// The fault campaign (src/sim/sweep.ts): plans are pure functions of the seed, every fault
// kind shows up across seeds, the runs pass their invariants, and a broken system is caught.
// FTCP_CAMPAIGN_SEEDS=N runs N seeds (default 150).
import { describe, expect, it } from 'vitest';
import { addToTotals, emptyTotals, planSweepRun, runSweepSeed, SWEEP_FAULT_KINDS } from '../../src/sim/sweep.js';

describe('sim sweep', () => {
  it('plans a seed the same way every time, and different seeds differently', () => {
    expect(JSON.stringify(planSweepRun(17))).toBe(JSON.stringify(planSweepRun(17)));
    expect(JSON.stringify(planSweepRun(17))).not.toBe(JSON.stringify(planSweepRun(18)));
    const r1 = runSweepSeed(5);
    const r2 = runSweepSeed(5);
    expect(r2).toEqual(r1);
  });

  it('every plan ends its faults before the heal and bounds the liveness phase', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const { options } = planSweepRun(seed);
      const f = options.faults!;
      expect(f.healAtUs).toBeGreaterThan(f.crashAtUs!);
      if (f.logPartition !== undefined) expect(f.logPartition.toUs).toBeLessThanOrEqual(f.healAtUs!);
      if (f.arbiterOutage !== undefined) expect(f.arbiterOutage.toUs).toBeLessThan(f.healAtUs!);
      expect(options.maxUs).toBeGreaterThan(f.healAtUs!);
    }
  });

  const count = Number(process.env['FTCP_CAMPAIGN_SEEDS'] ?? 150);
  it(`${count} seeds: no invariant violated, and every fault kind was injected`, () => {
    const t = emptyTotals();
    for (let seed = 1; seed <= count; seed++) addToTotals(t, runSweepSeed(seed));
    const failing = t.violations.map((v) => `seed ${v.seed} (${v.app}) ${v.kind}: ${v.message.split('\n')[0]}\n  reproduce: ${v.command}`);
    expect(failing).toEqual([]);
    expect(t.passed).toBe(count);
    for (const k of SWEEP_FAULT_KINDS) expect(t.seedsWith[k], k).toBeGreaterThan(0);
  }, 600_000);

  it('catches a broken system: without the output rule, seeds fail and say how to reproduce them', () => {
    let failed = 0;
    // A desynchronised pair can exchange ACKs until the time limit: keep that limit short.
    for (let seed = 1; seed <= 8; seed++) {
      const r = runSweepSeed(seed, { unsafeNoOutputRule: true, maxUs: 2_000_000 });
      if (!r.ok) {
        failed++;
        expect(r.violation?.message.length).toBeGreaterThan(0);
        expect(r.command).toBe(`ftcp sim sweep --first-seed ${seed} --seeds 1`);
      }
    }
    expect(failed).toBeGreaterThan(0);
  }, 600_000);
});
