// The seed sweep, shared by one test file per app (so vitest runs them in parallel).
// Every seed: random loss, duplication and reordering on the client links, the primary killed
// at a random moment, sometimes a log-channel partition or a slow arbiter (planFaults).
// FTCP_SWEEP_SEEDS=N runs N seeds per app (default 100); FTCP_SWEEP_FIRST_SEED moves the window.
import { describe, expect, it } from 'vitest';
import type { AppName } from '../../src/proxy/app.js';
import { planFaults, runCluster, type ClusterOptions } from '../../src/sim/cluster.js';

export interface Regression {
  why: string;
  options: ClusterOptions;
}

/** Seeds that once failed, kept as regression tests (each names the bug it caught). */
export const REGRESSIONS: Regression[] = [
  {
    why: 'bulk download larger than the send buffer stalled: the RSM never made a short write, so the stack never sent "writable"',
    options: { seed: 4, app: 'bulk', connections: 1, noCrash: true, faults: { clientLink: { delayUs: 10_000, loss: 0, duplicate: 0, reorder: 0, reorderDelayUs: 1_000 } } },
  },
  {
    why: 'a seeded partition made b win and a fence before the kill; killing the fenced a was counted as a failover and c\'s later go-live was credited to it',
    options: { seed: 2, app: 'counter', connections: 3, faults: { crashAtUs: 400_000 }, join: { atUs: 900_000, secondCrashAtUs: 1_300_000 }, load: { requests: [100, 120] } },
  },
];

export function sweep(app: AppName): void {
  const count = Number(process.env['FTCP_SWEEP_SEEDS'] ?? 100);
  const first = Number(process.env['FTCP_SWEEP_FIRST_SEED'] ?? 1);
  describe(`cluster sweep: ${app}`, () => {
    it(`${count} seeds from ${first}: every stream exact, no reset, one live replica per epoch, a failover each time`, () => {
      const t0 = performance.now();
      const failures: string[] = [];
      let reemitted = 0;
      let identical = 0;
      let duplicates = 0;
      let partitions = 0;
      let slowArbiter = 0;
      const liveMs: number[] = [];
      for (let seed = first; seed < first + count; seed++) {
        const connections = 1 + (seed % 4);
        const r = runCluster({ seed, app, connections, capture: 'none' });
        reemitted += r.reemitted.segments;
        identical += r.reemitted.identicalToPrimary;
        duplicates += r.client.duplicateSegmentsDropped;
        if (r.plan.logPartition !== undefined) partitions++;
        if (r.plan.arbiterDelayUs >= 20_000) slowArbiter++;
        if (r.failover?.liveMs != null) liveMs.push(r.failover.liveMs);
        const extra: string[] = [];
        if (r.failovers.length !== 1) extra.push(`expected one failover, saw ${r.failovers.length}`);
        if (r.splitBrain !== 0) extra.push(`split brain in ${r.splitBrain} epoch(s)`);
        if (!r.ok || extra.length > 0) {
          failures.push(`seed ${seed}: ${[...r.problems, ...extra].slice(0, 3).join(' | ')}\n  reproduce: ${r.command}`);
        }
      }
      const wallMs = Math.round(performance.now() - t0);
      liveMs.sort((a, b) => a - b);
      console.log(
        `cluster sweep ${app}: ${count} seeds in ${wallMs} ms; ${failures.length} failed; ${partitions} with a log partition, ` +
          `${slowArbiter} with a slow arbiter; re-emitted ${reemitted} segments, ${identical} identical to the primary's; ` +
          `client dropped ${duplicates} duplicates; go-live after the kill: median ${liveMs[liveMs.length >> 1]} ms, max ${liveMs[liveMs.length - 1]} ms`,
      );
      for (const f of failures) console.log(`FAILING ${app} ${f}`);
      expect(failures).toEqual([]);
      // Across the sweep the interesting cases happened.
      expect(reemitted).toBeGreaterThan(0);
      expect(identical).toBeGreaterThan(0);
      expect(duplicates).toBeGreaterThan(0);
      if (count >= 50) {
        expect(partitions).toBeGreaterThan(0);
        expect(slowArbiter).toBeGreaterThan(0);
      }
    }, 600_000);

    const joinSeeds = Number(process.env['FTCP_SWEEP_JOIN_SEEDS'] ?? 10);
    it(`${joinSeeds} seeds: kill a, c joins b by snapshot, kill b, c goes live; every stream exact`, () => {
      const failures: string[] = [];
      for (let seed = first; seed < first + joinSeeds; seed++) {
        const crashAtUs = planFaults(seed).crashAtUs!;
        const r = runCluster({
          seed,
          app,
          connections: 1 + (seed % 3),
          capture: 'none',
          join: { atUs: crashAtUs + 400_000, secondCrashAtUs: crashAtUs + 700_000 + ((seed * 7919) % 200_000) },
          load: { requests: [120, 150], bulkBytes: 3_000_000, uploadBytes: [300_000, 400_000] },
        });
        const path = r.failovers.map((f) => `${f.killed}->${f.by ?? 'nobody'}`).join(', ');
        if (!r.ok || path !== 'a->b, b->c') failures.push(`seed ${seed}: failovers ${path}; ${r.problems.slice(0, 2).join(' | ')}`);
      }
      expect(failures).toEqual([]);
    }, 600_000);

    const mine = REGRESSIONS.filter((r) => r.options.app === app);
    if (mine.length > 0) {
      it.each(mine.map((r) => [r.why, r] as const))('regression: %s', (_why, reg) => {
        const r = runCluster({ ...reg.options, capture: 'none' });
        expect(r.ok, `${r.command}\n${r.problems.join('\n')}`).toBe(true);
      });
    }
  });
}
