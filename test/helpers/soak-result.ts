// A synthetic `ftcp soak` result for the soak page's tests: 20 minutes, a sample every 2 s,
// a joiner every minute (the pair a+b, then b with j1, j1 with j2, ...), faults of several
// kinds and one false failover, the pair's RSS either flat or growing by half over the run.
// The verdict is rssVerdict()'s own on these samples.
import type { SoakResult } from '../../src/lab/soak.js';
import type { RssSample } from '../../src/lab/soak-rss.js';
import { rssVerdict } from '../../src/lab/soak-rss.js';

export const SYNTHETIC_DURATION_S = 1200;
/** The faults, by kind, of the synthetic soak (in this order over the run). */
export const SYNTHETIC_FAULTS: ReadonlyArray<[string, number]> = [
  ['kill-primary', 5],
  ['kill-backup', 4],
  ['pause-primary', 3],
  ['pause-backup', 2],
  ['arbiter-restart', 2],
  ['false-failover', 1],
];

/** The pair's RSS at `atS`, KiB: 150 MiB, growing by half over the run when `growing`. */
export function pairKiBAt(atS: number, growing: boolean): number {
  return Math.round(150 * 1024 * (growing ? 1 + (0.5 * atS) / SYNTHETIC_DURATION_S : 1));
}

export function syntheticSoak(growing: boolean): SoakResult {
  const samples: RssSample[] = [];
  const name = (i: number) => (i === 0 ? 'a' : i === 1 ? 'b' : `j${i - 1}`);
  for (let atS = 2; atS <= SYNTHETIC_DURATION_S; atS += 2) {
    // Replicas i and i+1 form the pair in minute i; the older one holds 55 % of the sum.
    const minute = Math.floor(atS / 60);
    const pair = pairKiBAt(atS, growing);
    const older = Math.round(pair * 0.55);
    samples.push({ atS, pairKiB: pair, byReplica: { [name(minute)]: older, [name(minute + 1)]: pair - older } });
  }
  const kinds = SYNTHETIC_FAULTS.flatMap(([k, n]) => Array.from({ length: n }, () => k));
  const faults = kinds.map((fault, i) => ({ n: i + 1, fault: fault as SoakResult['faults'][number]['fault'], atS: 30 + i * 60, primary: name(i + 1), backup: name(i + 2), restoredAfterMs: 1000 + 100 * i }));
  const verdict = rssVerdict(samples, SYNTHETIC_DURATION_S);
  const problems = ['false failover at 930.0 s: j15 won <b>'];
  if (verdict.flat === false) problems.push(`the pair's RSS is not flat: ${verdict.firstKiB} -> ${verdict.lastKiB} KiB`);
  return {
    ok: false,
    interrupted: false,
    seed: 11,
    durationS: SYNTHETIC_DURATION_S,
    faults,
    faultsSurvived: faults.length,
    loadRounds: 500,
    streams: { intact: 1000, broken: 0 },
    uploads: { checked: 1000, broken: 0, unchecked: 0 },
    resets: 0,
    falseFailovers: 1,
    problems,
    rss: { samples, verdict },
  };
}
