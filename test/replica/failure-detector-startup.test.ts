// The failure detector's start-up bound S (docs/design.md "Failure detection"): in start-up
// silence is judged against S less the time the peer has been heard steadily; then D again.
import { describe, expect, it } from 'vitest';
import { FailureDetector, type DetectorOptions } from '../../src/replica/failure-detector.js';
import type { ReplicaOptions } from '../../src/replica/outbox.js';
import { Replica } from '../../src/replica/replica.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import { rsmConfig } from './rsm-harness.js';

const MS = 1000;
const D = 50 * MS;
const S = 500 * MS;
// H = 10 ms: steady means no gap over 2 H = 20 ms; start-up lasts until steady for S - D = 450 ms, at most 10 S.
const STARTUP: DetectorOptions = { minUs: D, maxUs: D, startupUs: S, steadyGapUs: 20 * MS, startupMaxUs: 10 * S };

function detector(times: number[], opts: Partial<DetectorOptions> = {}): FailureDetector {
  const d = new FailureDetector(0, { ...STARTUP, ...opts });
  for (const t of times) d.heard(t * MS);
  return d;
}

const every = (ms: number, count: number, from = 0) => Array.from({ length: count }, (_, i) => from + (i + 1) * ms);

/** The first µs at which the detector suspects, by stepping 1 µs at a time from `from`. */
function firstSuspicion(d: FailureDetector, from: number, to: number): number | undefined {
  for (let t = from; t <= to; t++) if (d.suspects(t)) return t;
  return undefined;
}

describe('failure detector: start-up bound', () => {
  it('without S (the default) it judges from its first moment at D', () => {
    const d = new FailureDetector(0, { minUs: D, maxUs: D });
    expect(d.inStartup(0)).toBe(false);
    expect(d.suspects(D - 1)).toBe(false);
    expect(d.suspects(D)).toBe(true);
  });

  it('a peer not heard at all yet (the backup not made, its first frames lost) is suspected only after S', () => {
    const d = detector([]);
    expect(d.inStartup(0)).toBe(true);
    expect(d.timeoutUs(0)).toBe(S);
    expect(d.suspects(120 * MS), 'the 120 ms a backup took to answer at the pair\'s birth').toBe(false);
    expect(d.suspects(S - 1)).toBe(false);
    expect(d.suspects(S)).toBe(true);
    expect(d.deadline()).toBe(S);
  });

  it('on a quiet machine a peer killed t after its first frame is suspected after max(D, S - t)', () => {
    const times = every(10, 21, 20); // 30 ... 230 ms, 10 ms apart: steady for 200 ms
    const d = detector(times);
    expect(d.inStartup(230 * MS)).toBe(true);
    expect(d.timeoutUs(230 * MS)).toBe(S - 200 * MS);
    expect(d.deadline()).toBe(230 * MS + 300 * MS);
    expect(d.suspects(529 * MS)).toBe(false);
    expect(d.suspects(530 * MS)).toBe(true);
    // steady for S - D = 450 ms (at 480 ms): start-up is over, a dead peer is suspected after D
    for (const t of every(10, 25, 230)) d.heard(t * MS);
    expect(d.inStartup(480 * MS)).toBe(false);
    expect(d.timeoutUs(480 * MS)).toBe(D);
    expect(d.deadline()).toBe(480 * MS + D);
    const early = detector(every(10, 45, 20)); // up to 470 ms: steady for 440 ms, allowance 60 ms
    expect(early.inStartup(470 * MS)).toBe(true);
    expect(early.timeoutUs(470 * MS)).toBe(60 * MS);
  });

  it('a gap over 2 H during start-up (either side stalled) gives back the whole of S', () => {
    const times = [...every(10, 30, 20), 380, ...every(10, 15, 380)]; // steady 30..320, then a 60 ms gap
    const d = detector(times);
    expect(d.timeoutUs(320 * MS)).toBeLessThan(S); // just before the gap: 500 - 290 = 210 ms
    expect(d.timeoutUs(530 * MS)).toBe(S - 150 * MS); // steady again since 380
    expect(d.suspects(530 * MS + 300 * MS), 'a 300 ms silence in start-up').toBe(false);
    d.heard(560 * MS); // a 30 ms gap: over 2 H
    expect(d.timeoutUs(560 * MS)).toBe(S);
    for (const t of every(10, 45, 560)) d.heard(t * MS);
    expect(d.inStartup(1010 * MS)).toBe(false);
    expect(d.timeoutUs(1010 * MS)).toBe(D);
  });

  it('start-up ends 10 S after it began even if the peer is never steady; the deadline then falls back to D', () => {
    const times = every(30, 166); // 30 ms gaps: never steady, up to 4980 ms
    const d = detector(times);
    expect(d.inStartup(4980 * MS)).toBe(true);
    // last frame at 4980: S would be 5480, but start-up ends at 5000 and D is over at 5030
    expect(d.deadline()).toBe(5030 * MS);
    expect(firstSuspicion(d, 4980 * MS, 5480 * MS)).toBe(5030 * MS);
    d.heard(5010 * MS);
    expect(d.inStartup(5010 * MS)).toBe(false);
    expect(d.deadline()).toBe(5060 * MS);
  });

  it('deadline() is the first moment suspects() holds, in and after start-up', () => {
    const cases: number[][] = [[], every(10, 5), every(30, 100), every(10, 25, 20), [...every(10, 10), 400, 4700]];
    for (const times of cases) {
      const d = detector(times);
      const last = times.at(-1) ?? 0;
      expect(firstSuspicion(d, last * MS, last * MS + S + 1), `after ${times.length} frames`).toBe(d.deadline());
    }
  });

  it('a new peer (a joiner) gets a start-up of its own; a new epoch with the same peer does not', () => {
    const d = detector(every(10, 60, 20));
    expect(d.inStartup(620 * MS)).toBe(false);
    d.reset(620 * MS);
    expect(d.inStartup(620 * MS)).toBe(false);
    d.reset(620 * MS, true);
    expect(d.inStartup(620 * MS)).toBe(true);
    expect(d.timeoutUs(620 * MS)).toBe(S);
  });

  it('with Dmax > D the start-up timeout is the larger of the allowance and the learned one', () => {
    const d = detector(every(10, 5), { maxUs: 800 * MS });
    expect(d.timeoutUs(50 * MS)).toBe(800 * MS); // warm-up at Dmax, above S
    const e = detector(every(10, 5), { maxUs: 300 * MS });
    expect(e.timeoutUs(50 * MS)).toBe(S - 40 * MS); // steady from 10 to 50 ms
  });

  it('rejects S below D', () => {
    expect(() => new FailureDetector(0, { minUs: D, maxUs: D, startupUs: D - 1 })).toThrow(/start-up bound/);
  });
});

describe('start-up bound in the roles', () => {
  const opts = (name: string, extra: Partial<ReplicaOptions>): ReplicaOptions => ({ name, rsm: rsmConfig('counter'), factory: stackFactory, heartbeatMs: 10, failureTimeoutMs: 50, ...extra });
  const relay = (from: Replica, to: Replica, now: number) => {
    for (let f = from.pollChannel(); f !== undefined; f = from.pollChannel()) to.handleChannel(now, f);
  };

  it('a primary whose backup is silent for 300 ms at the pair\'s birth does not ask the arbiter; once steady, a dead backup is suspected after D', () => {
    const a = Replica.primary(opts('a', { failureTimeoutStartMs: 500 }), 'b', 0);
    const b = Replica.backup(opts('b', { failureTimeoutStartMs: 500 }), 'a', 0);
    for (let now = 0; now <= 1000 * MS; now += MS) {
      for (const r of [a, b]) {
        const d = r.pollTimeout();
        if (d !== undefined && d <= now) r.handleTimeout(now);
      }
      relay(a, b, now);
      if (now < 300 * MS) {
        while (b.pollChannel() !== undefined); // b's answers lost: not yet running, say
      } else {
        relay(b, a, now);
      }
      expect(a.pollArbiter(), `a at ${now / MS} ms`).toBeUndefined();
      expect(b.pollArbiter(), `b at ${now / MS} ms`).toBeUndefined();
    }
    // b dies at 1000 ms: a suspects it D later
    let asked: number | undefined;
    for (let now = 1000 * MS; asked === undefined && now <= 1200 * MS; now += MS) {
      const d = a.pollTimeout();
      if (d !== undefined && d <= now) a.handleTimeout(now);
      while (a.pollChannel() !== undefined);
      if (a.pollArbiter() !== undefined) asked = now;
    }
    expect(asked).toBeGreaterThanOrEqual(1040 * MS);
    expect(asked).toBeLessThanOrEqual(1051 * MS);
  });

  it('without S (the simulator\'s default) the same silence at birth is suspected after D', () => {
    const a = Replica.primary(opts('a', {}), 'b', 0);
    let asked: number | undefined;
    for (let now = 0; asked === undefined && now <= 300 * MS; now += MS) {
      const d = a.pollTimeout();
      if (d !== undefined && d <= now) a.handleTimeout(now);
      while (a.pollChannel() !== undefined);
      if (a.pollArbiter() !== undefined) asked = now;
    }
    expect(asked).toBe(50 * MS);
  });
});
