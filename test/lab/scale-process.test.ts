// The bench's scale group at a small count, with real processes: 2,000 idle connections
// through a replicated pair (the replicas get --max-connections to match), from two client
// addresses of 192.0.2.0/24 (1,000 each, as 100,000 come from two), kill -9 of the primary, and one INCR
// on every connection: each must be answered by the backup with its own value in 1..2000.
// Memory and timing are bench figures (ftcp bench --only scale), never asserted here.
import { describe, expect, it } from 'vitest';
import { counterAnswers, scale } from '../../src/lab/bench-scale.js';
import { describeWithDist } from '../helpers/process.js';
import { LIVE_SOURCES } from '../helpers/live.js';
import { SCALE_PAIR } from '../../src/lab/bench-cluster.js';

describe('counterAnswers', () => {
  it('accepts each value of 1..n once and counts the rest as wrong', () => {
    const a = counterAnswers(3);
    expect(['2', '1', '3'].map(a.check)).toEqual([true, true, true]);
    expect(['2', '0', '4', 'x', ''].map(a.check)).toEqual([false, false, false, false, false]);
    expect(a.wrong()).toBe(5);
  });
});

describeWithDist('scale with real processes', LIVE_SOURCES, () => {
  it('2,000 idle connections all survive a kill -9 of the primary', async () => {
    const lines: string[] = [];
    const s = await scale(2000, SCALE_PAIR, (line) => lines.push(line), 1000);
    expect(s.clientAddresses).toBe(2);
    expect(s.falseFailover, lines.join('\n')).toBe(false);
    expect(s.connections).toBe(2000);
    expect(s.failedOver).toBe(true);
    expect(s.wrong).toBe(0);
    expect(s.survived).toBe(2000);
  }, 240_000);
});
