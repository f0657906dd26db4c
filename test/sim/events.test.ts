import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../src/sim/events.js';
import { Simulator } from '../../src/sim/world.js';
import { Prng } from '../../src/tcp/prng.js';
import { deriveSeed } from '../../src/tcp/seed.js';
import { PatternStream } from '../../src/sim/pattern.js';

describe('EventQueue', () => {
  it('pops by time, then by insertion order', () => {
    const q = new EventQueue<string>();
    q.schedule(5, 'a');
    q.schedule(1, 'b');
    q.schedule(5, 'c');
    q.schedule(1, 'd');
    q.schedule(0, 'e');
    const out: string[] = [];
    for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e.item);
    expect(out).toEqual(['e', 'b', 'd', 'a', 'c']);
  });

  it('matches a stable sort on many random events with few distinct times', () => {
    const rng = new Prng(7);
    const q = new EventQueue<number>();
    const inserted: { t: number; i: number }[] = [];
    for (let i = 0; i < 5000; i++) {
      const t = rng.below(50);
      q.schedule(t, i);
      inserted.push({ t, i });
      // Interleave pops so the heap is exercised while it changes.
      if (i % 7 === 6) {
        const e = q.pop()!;
        const min = inserted.reduce((m, x) => (x.t < m.t || (x.t === m.t && x.i < m.i) ? x : m));
        expect([e.timeUs, e.item]).toEqual([min.t, min.i]);
        inserted.splice(inserted.indexOf(min), 1);
      }
    }
    inserted.sort((a, b) => a.t - b.t || a.i - b.i);
    const rest: number[] = [];
    for (let e = q.pop(); e !== undefined; e = q.pop()) rest.push(e.item);
    expect(rest).toEqual(inserted.map((x) => x.i));
  });

  it('rejects times that are not non-negative integers', () => {
    const q = new EventQueue<number>();
    expect(() => q.schedule(1.5, 0)).toThrow(/integer number of microseconds/);
    expect(() => q.schedule(-1, 0)).toThrow(/integer number of microseconds/);
  });
});

describe('Simulator.run', () => {
  const task = (log: string[], name: string) => ({ kind: 'test', target: name, run: () => log.push(name) });

  it('advances the clock to each event and stops when the goal is reached', () => {
    const sim = new Simulator();
    const log: string[] = [];
    sim.schedule(100, task(log, 'x'));
    sim.schedule(50, task(log, 'y'));
    sim.schedule(300, task(log, 'z'));
    const outcome = sim.run({ until: () => log.length === 2 });
    expect(outcome).toMatchObject({ reason: 'done', events: 2, nowUs: 100 });
    expect(log).toEqual(['y', 'x']);
  });

  it('stops at untilUs without running later events', () => {
    const sim = new Simulator();
    const log: string[] = [];
    sim.schedule(100, task(log, 'x'));
    sim.schedule(500, task(log, 'y'));
    expect(sim.run({ untilUs: 200 })).toMatchObject({ reason: 'time-limit', events: 1, nowUs: 200 });
    expect(() => sim.schedule(150, task(log, 'late'))).toThrow(/in the past/);
  });

  it('reports an idle stall when nothing is scheduled and the goal is not reached', () => {
    const sim = new Simulator();
    const outcome = sim.run({ until: () => false });
    expect(outcome.reason).toBe('idle');
    expect(outcome.stall).toMatch(/nothing is scheduled/);
  });

  it('reports a liveness stall when the event bound is hit, naming the next event', () => {
    const sim = new Simulator();
    const again = (): void => sim.schedule(sim.nowUs + 1, { kind: 'timer', target: 'spinner', run: again });
    again();
    const outcome = sim.run({ until: () => false, maxEvents: 1000 });
    expect(outcome).toMatchObject({ reason: 'max-events', events: 1000 });
    expect(outcome.stall).toMatch(/liveness bound.*next: timer for spinner/);
  });
});

describe('deriveSeed', () => {
  it('depends on the seed and on every label, in order', () => {
    const seen = new Set([
      deriveSeed(1), deriveSeed(2), deriveSeed(1, 'a'), deriveSeed(1, 'b'), deriveSeed(1, 'a', 'b'),
      deriveSeed(1, 'b', 'a'), deriveSeed(1, 'ab'), deriveSeed(1, 0), deriveSeed(1, 1), deriveSeed(1, 'link', 1, 2), deriveSeed(1, 'link', 2, 1),
    ]);
    expect(seen.size).toBe(11);
    expect(deriveSeed(42, 'x', 3)).toBe(deriveSeed(42, 'x', 3));
  });
});

describe('PatternStream', () => {
  it('gives the same bytes whatever the chunk sizes', () => {
    const whole = new PatternStream(9, 1001).next(5000);
    expect(whole.length).toBe(1001);
    const pieces = new PatternStream(9, 1001);
    const parts: number[] = [];
    for (const n of [1, 2, 3, 5, 7, 64, 1, 1000]) parts.push(...pieces.next(n));
    expect(parts).toEqual([...whole]);
    expect(pieces.remaining).toBe(0);
    expect(pieces.next(10).length).toBe(0);
    expect(new PatternStream(10, 1001).next(1001)).not.toEqual(whole);
  });
});

describe('PatternStream generator', () => {
  it('is xoshiro128** as in src/tcp/prng.ts, words little-endian', () => {
    const prng = new Prng(12345);
    const want: number[] = [];
    for (let k = 0; k < 300; k++) {
      const w = prng.nextU32();
      want.push(w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24);
    }
    expect([...new PatternStream(12345, 1200).next(1200)]).toEqual(want);
  });
});
