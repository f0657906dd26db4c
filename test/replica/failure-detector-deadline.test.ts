// deadline(floor) against suspects(now, floor) over varied histories (docs/design.md "Failure
// detection"): the replica sleeps until deadline(), so a deadline earlier than the first
// suspicion would wake it for nothing and a later one would suspect a dead peer late. The
// start-up bound S and the caller's floor (a joiner restoring its snapshot) came in by two
// changes merged by hand; the cases here mix both with own stalls, resets and Dmax > D.
import { describe, expect, it } from 'vitest';
import { FailureDetector, type DetectorOptions } from '../../src/replica/failure-detector.js';
import { prngBelow, prngSeed, type PrngState } from '../../src/tcp/prng.js';

const MS = 1000;
const D = 50 * MS;
const S = 500 * MS;

/** The first µs in [from, to] at which suspects(t, floor) holds; suspects is monotone in t for a fixed history. */
function firstSuspicion(d: FailureDetector, floorUs: number, from: number, to: number): number | undefined {
  if (!d.suspects(to, floorUs)) return undefined;
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (d.suspects(mid, floorUs)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A detector with a random history: frames 1-40 ms apart with a rare long gap, own stalls, excused stalls, resets. */
function randomHistory(rng: PrngState, opts: DetectorOptions): FailureDetector {
  const d = new FailureDetector(0, opts);
  let now = 0;
  const steps = prngBelow(rng, 120);
  for (let i = 0; i < steps; i++) {
    now += prngBelow(rng, 8) === 0 ? 40 * MS + prngBelow(rng, 400 * MS) : MS + prngBelow(rng, 40 * MS);
    const what = prngBelow(rng, 20);
    if (what === 0) d.noteStall(now - prngBelow(rng, 100 * MS), now);
    else if (what === 1) d.excuseStall(now - prngBelow(rng, 300 * MS), now);
    else if (what === 2) d.reset(now);
    else if (what === 3) d.reset(now, true);
    else d.heard(now);
  }
  return d;
}

function check(seed: number, opts: DetectorOptions): void {
  const rng = prngSeed(seed);
  const d = randomHistory(rng, opts);
  const floor = prngBelow(rng, 3) === 0 ? 0 : prngBelow(rng, 1200 * MS);
  const deadline = d.deadline(floor);
  const label = `seed ${seed}, floor ${floor} µs, deadline ${deadline} µs, in start-up ${d.inStartup(d.lastHeard)}`;
  expect(d.suspects(deadline, floor), label).toBe(true);
  const first = firstSuspicion(d, floor, d.lastHeard, deadline);
  if (opts.maxUs === opts.minUs) {
    // A fixed timeout does not decay: the deadline is the first moment, to the µs.
    expect(first, label).toBe(deadline);
  } else {
    // The learned timeout only shrinks as the largest gap decays: late by that, never early.
    expect(first, label).toBeLessThanOrEqual(deadline);
    expect(deadline - first!, label).toBeLessThanOrEqual(Math.ceil((deadline - d.lastHeard) * 0.1));
  }
}

describe('failure detector: deadline(floor) is when suspects(now, floor) first holds', () => {
  const shapes: [string, DetectorOptions][] = [
    ['fixed D with start-up S', { minUs: D, maxUs: D, startupUs: S, steadyGapUs: 20 * MS, startupMaxUs: 10 * S }],
    ['fixed D with a short start-up limit', { minUs: D, maxUs: D, startupUs: S, steadyGapUs: 20 * MS, startupMaxUs: 700 * MS }],
    ['fixed D without start-up', { minUs: D, maxUs: D }],
    ['Dmax above S', { minUs: D, maxUs: 800 * MS, startupUs: S, steadyGapUs: 20 * MS, startupMaxUs: 10 * S }],
    ['Dmax below S', { minUs: D, maxUs: 300 * MS, startupUs: S, steadyGapUs: 20 * MS, startupMaxUs: 900 * MS }],
  ];
  for (const [name, opts] of shapes) {
    it(`${name}: 300 random histories`, () => {
      for (let seed = 1; seed <= 300; seed++) check(seed, opts);
    });
  }

  it('in start-up a floor above the allowance is the wait, and the start-up limit does not cut it short', () => {
    const d = new FailureDetector(0, { minUs: D, maxUs: D, startupUs: S, steadyGapUs: 20 * MS, startupMaxUs: 600 * MS });
    for (let t = 10; t <= 200; t += 10) d.heard(t * MS); // steady for 190 ms: allowance 310 ms
    expect(d.inStartup(200 * MS)).toBe(true);
    expect(d.deadline()).toBe(200 * MS + 310 * MS);
    // A joiner's floor of 700 ms: start-up ends at 600 ms, but the floor still holds after it.
    expect(d.deadline(700 * MS)).toBe(900 * MS);
    expect(d.suspects(900 * MS - 1, 700 * MS)).toBe(false);
    expect(d.suspects(900 * MS, 700 * MS)).toBe(true);
    // A floor below the allowance changes nothing.
    expect(d.deadline(100 * MS)).toBe(510 * MS);
  });

  it('an ordinary stall after an excused one does not take back the excuse beyond Dmax', () => {
    const d = new FailureDetector(0, { minUs: D, maxUs: 200 * MS });
    for (let t = 10; t <= 100; t += 10) d.heard(t * MS);
    d.excuseStall(100 * MS, 2100 * MS); // taking a join snapshot: 2 s excused
    expect(d.deadline()).toBe(2100 * MS + D);
    d.noteStall(2100 * MS, 2110 * MS); // then a 10 ms stall of the usual kind: capped at Dmax, it must not cut the 2 s back
    expect(d.suspects(2110 * MS)).toBe(false);
    expect(d.suspects(2100 * MS + D - 1)).toBe(false);
    expect(d.deadline()).toBeGreaterThanOrEqual(2100 * MS + D);
  });
});
