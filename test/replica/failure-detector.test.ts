import { describe, expect, it } from 'vitest';
import { FailureDetector } from '../../src/replica/failure-detector.js';

const MS = 1000;
const D = 50 * MS;
const DMAX = 500 * MS;

/** A detector that heard a frame at each of these times (ms). */
function heardAt(times: number[], opts: { maxUs?: number } = {}): FailureDetector {
  const d = new FailureDetector(0, { minUs: D, maxUs: opts.maxUs ?? DMAX });
  for (const t of times) d.heard(t * MS);
  return d;
}

const every = (ms: number, count: number, from = 0) => Array.from({ length: count }, (_, i) => from + (i + 1) * ms);

describe('failure detector', () => {
  it('Dmax = D is the fixed timeout: suspects at exactly D of silence, whatever the history', () => {
    const d = heardAt([10, 20, 200, 210], { maxUs: D });
    expect(d.adaptive).toBe(false);
    expect(d.timeoutUs(210 * MS)).toBe(D);
    expect(d.suspects(259 * MS)).toBe(false);
    expect(d.suspects(260 * MS)).toBe(true);
    expect(d.deadline()).toBe(260 * MS);
    d.noteStall(215 * MS, 300 * MS); // no credit in the fixed mode
    expect(d.suspects(260 * MS)).toBe(true);
  });

  it('waits Dmax while it has too few gaps to judge', () => {
    const d = heardAt([10, 20, 30]);
    expect(d.timeoutUs(30 * MS)).toBe(DMAX);
    expect(d.suspects(30 * MS + DMAX - 1)).toBe(false);
    expect(d.suspects(30 * MS + DMAX)).toBe(true);
  });

  it('steady 10 ms heartbeats on a quiet machine: the timeout is D, a dead peer is suspected after D', () => {
    const d = heardAt(every(10, 100));
    expect(d.timeoutUs(1000 * MS)).toBe(D);
    expect(d.deadline()).toBe(1000 * MS + D);
    expect(d.suspects(1049 * MS)).toBe(false);
    expect(d.suspects(1050 * MS)).toBe(true);
  });

  it('a peer once unscheduled for 120 ms stretches the timeout to twice that, and a 130 ms silence is then not suspected', () => {
    const times = [...every(10, 50), 620, ...every(10, 50, 620)];
    const d = heardAt(times);
    const last = times.at(-1)!;
    const t = d.timeoutUs(last * MS);
    expect(t).toBeGreaterThanOrEqual(Math.floor(0.98 * 2 * 120 * MS)); // the peak, decayed by 0.5 s of a 30 s half-life
    expect(t).toBeLessThanOrEqual(240 * MS);
    expect(d.suspects((last + 130) * MS)).toBe(false);
    expect(d.suspects((last + 240) * MS)).toBe(true);
  });

  it('the stretch is bounded by Dmax however long the live peer was silent', () => {
    const d = heardAt([...every(10, 20), 200 + 2000, ...every(10, 20, 2200)]);
    expect(d.timeoutUs(2400 * MS)).toBe(DMAX);
  });

  it('the largest gap decays (half-life 30 s): after minutes of steady heartbeats the timeout is back to D', () => {
    const times = [...every(10, 20), 320, ...every(10, 20_000, 320)];
    const d = heardAt(times);
    expect(d.timeoutUs(times.at(-1)! * MS)).toBe(D);
  });

  it('jitter widens the timeout by k·σ: gaps alternating 5 and 45 ms give mean 25 + 4·20 = 105 ms', () => {
    const times: number[] = [];
    let t = 0;
    for (let i = 0; i < 128; i++) times.push((t += i % 2 === 0 ? 5 : 45));
    const d = heardAt(times, { maxUs: DMAX });
    // peak 2 × 45 = 90 ms < 105 ms
    expect(d.timeoutUs(t * MS)).toBe(105 * MS);
  });

  it("its own stall is not the peer's silence: an 80 ms stall of this replica delays suspicion by 80 ms", () => {
    const d = heardAt(every(10, 100));
    d.noteStall(1010 * MS, 1090 * MS);
    expect(d.suspects(1100 * MS)).toBe(false);
    expect(d.deadline()).toBe(1130 * MS);
    expect(d.suspects(1129 * MS)).toBe(false);
    expect(d.suspects(1130 * MS)).toBe(true);
  });

  it('only the part of a stall after the last frame counts, and a frame clears the credit', () => {
    const d = heardAt(every(10, 100));
    d.noteStall(960 * MS, 1020 * MS); // 20 ms after the last frame at 1000
    expect(d.deadline()).toBe(1070 * MS);
    d.heard(1080 * MS); // the gap recorded is 80 - 20 = 60 ms of the peer's own silence
    expect(d.deadline()).toBe(1080 * MS + d.timeoutUs(1080 * MS));
    expect(d.timeoutUs(1080 * MS)).toBe(120 * MS);
  });

  it('own-stall credit is capped at Dmax: the worst case for a dead peer is 2 × Dmax', () => {
    const d = heardAt(every(10, 100));
    d.noteStall(1000 * MS, 3000 * MS);
    d.noteStall(3000 * MS, 9000 * MS);
    expect(d.suspects(1000 * MS + D + DMAX - 1)).toBe(false);
    expect(d.suspects(1000 * MS + D + DMAX)).toBe(true);
  });

  it('is deterministic: the same arrivals give the same timeouts', () => {
    const times = [...every(7, 300), 2200, ...every(13, 300, 2200)];
    const a = heardAt(times);
    const b = heardAt(times);
    for (const now of [0, 2100, 2200, 5000, 9000]) expect(a.timeoutUs(now * MS)).toBe(b.timeoutUs(now * MS));
  });

  it('a new peer starts with the warm-up at Dmax, not with the timeout learned from the one before', () => {
    const d = heardAt(every(10, 100));
    expect(d.timeoutUs(1000 * MS)).toBe(D);
    d.reset(1000 * MS, true);
    expect(d.samples).toBe(0);
    expect(d.timeoutUs(1000 * MS)).toBe(DMAX);
    expect(d.suspects(1000 * MS + DMAX - 1)).toBe(false);
    const same = heardAt(every(10, 100));
    same.reset(1000 * MS);
    expect(same.timeoutUs(1000 * MS)).toBe(D);
  });

  it('rejects Dmax below D', () => {
    expect(() => new FailureDetector(0, { minUs: D, maxUs: D - 1 })).toThrow(/Dmax/);
  });
});
