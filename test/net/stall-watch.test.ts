// The stall watch on a fake clock: it reports the time its own loop did not run, and nothing else.
import { describe, expect, it } from 'vitest';
import { StallWatch } from '../../src/net/stall-watch.js';

function watch(periodMs = 5, slackMs = 5) {
  let now = 1_000_000;
  const stalls: Array<[number, number]> = [];
  const w = new StallWatch(() => now, (from, to) => stalls.push([from, to]), { periodMs, slackMs });
  return { w, stalls, at: (us: number) => (now = us) };
}

describe('stall watch', () => {
  it('ticks on time report nothing', () => {
    const { w, stalls, at } = watch();
    for (let t = 1_005_000; t <= 1_100_000; t += 5_000) w.check(at(t));
    expect(stalls).toEqual([]);
    expect(w.stats.stalls).toBe(0);
  });

  it('a tick late by up to the slack is not a stall', () => {
    const { w, stalls, at } = watch();
    w.check(at(1_010_000)); // period 5 ms + slack 5 ms: exactly the limit
    expect(stalls).toEqual([]);
  });

  it('a 120 ms gap is a stall from the missed tick to now', () => {
    const { w, stalls, at } = watch();
    w.check(at(1_005_000));
    w.check(at(1_125_000));
    expect(stalls).toEqual([[1_010_000, 1_125_000]]);
    expect(w.stats).toEqual({ stalls: 1, stalledMs: 115, longestMs: 115 });
    w.check(at(1_130_000));
    expect(stalls.length).toBe(1);
  });

  it('a clock that does not move, or a check in between, never reports a negative stall', () => {
    const { w, stalls, at } = watch();
    w.check(at(1_000_000));
    w.check(at(999_000));
    w.check(at(1_004_000));
    expect(stalls).toEqual([]);
  });

  it('start() ticks on a real timer and stop() ends it', async () => {
    const stalls: Array<[number, number]> = [];
    const t0 = performance.now();
    const w = new StallWatch(() => Math.round((performance.now() - t0) * 1000), (from, to) => stalls.push([from, to]), { periodMs: 2, slackMs: 2 }).start();
    await new Promise((r) => setTimeout(r, 5));
    const busyUntil = performance.now() + 60;
    while (performance.now() < busyUntil) {
      // this process's own loop is blocked: that is what the watch must see
    }
    await new Promise((r) => setTimeout(r, 10));
    w.stop();
    const seen = stalls.length;
    expect(seen).toBeGreaterThanOrEqual(1);
    expect(w.stats.longestMs).toBeGreaterThanOrEqual(40);
    // Stopped: a later block of the loop goes unseen.
    const until = performance.now() + 30;
    while (performance.now() < until) {
      // blocked again
    }
    await new Promise((r) => setTimeout(r, 10));
    expect(stalls.length).toBe(seen);
  });
});
