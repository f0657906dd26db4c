// The client's own record of the gaps between its reads, and the pause across a switchover
// read out of it (src/lab/read-gaps.ts), on hand-made read times.
import { describe, expect, it } from 'vitest';
import { pauseAcross, ReadGaps, type ReadGapsReport } from '../../src/lab/read-gaps.js';

function record(thresholdMs: number, times: number[], cap?: number): ReadGapsReport {
  const g = new ReadGaps(thresholdMs, cap);
  for (const t of times) g.read(t);
  return g.report();
}

describe('ReadGaps', () => {
  it('keeps every gap of at least the threshold, with the reads around it', () => {
    const r = record(1, [100, 100.4, 101.4, 101.9, 130, 130.2]);
    expect(r).toEqual({ thresholdMs: 1, reads: 6, firstMs: 100, lastMs: 130.2, gaps: [[100.4, 101.4], [101.9, 130]], dropped: 0 });
  });

  it('has no first or last read before the first read, and counts the gaps past its cap', () => {
    expect(record(1, [])).toMatchObject({ reads: 0, firstMs: null, lastMs: null, gaps: [] });
    const r = record(1, [0, 5, 10, 15], 2);
    expect(r.gaps).toEqual([[0, 5], [5, 10]]);
    expect(r.dropped).toBe(1);
  });
});

describe('pauseAcross', () => {
  // SIGTERM at 1000, live at 1030.
  it('is the gap the backup\'s go-live falls in: from the last read before it to the first after', () => {
    const r = record(0.5, [950, 990, 995, 1002, 1041, 1042, 1043]);
    // Before: the 41 ms up to SIGTERM, from 959 on; the gap 950 to 990 counts from there.
    expect(pauseAcross(r, 1000, 1030)).toEqual({ pauseMs: 39, resumedAtMs: 1041, gap: [1002, 1041], beforeMs: 31 });
  });

  it('takes the longest gap from SIGTERM on, even when the client read again before go-live', () => {
    // Bytes already in flight reached the client after a long stall of its own; go-live at 1030 falls between reads.
    const r = record(0.5, [900, 990, 1020, 1030.2, 1031]);
    const p = pauseAcross(r, 1000, 1030);
    expect(p.gap).toEqual([990, 1020]);
    expect(p.pauseMs).toBe(30);
    expect(p.resumedAtMs).toBeCloseTo(1030.2, 6);
    // The gap that ended before SIGTERM, in the same length of time before it (30.2 ms), is clipped to that window.
    expect(p.beforeMs).toBeCloseTo(20.2, 6);
    // A client whose first read came inside that window has nothing to compare with.
    expect(pauseAcross(record(0.5, [980, 990, 1020, 1030.2, 1031]), 1000, 1030).beforeMs).toBe(null);
  });

  it('says the reads never stopped for the threshold when no gap that long overlaps the handover', () => {
    // A client with a backlog: reads every 0.4 ms straight through.
    const times = Array.from({ length: 300 }, (_, i) => 980 + i * 0.4);
    const p = pauseAcross(record(0.5, times), 1000, 1030);
    expect(p.gap).toBe(null);
    expect(p.pauseMs).toBe(0.5);
    expect(p.resumedAtMs).toBe(1030.5);
  });

  it('is null when the client read nothing at or after go-live', () => {
    expect(pauseAcross(record(0.5, [990, 995]), 1000, 1030)).toEqual({ pauseMs: null, resumedAtMs: null, gap: null, beforeMs: null });
    expect(pauseAcross(record(0.5, []), 1000, 1030).pauseMs).toBe(null);
  });

  it('counts from SIGTERM when the client\'s first read came after it', () => {
    const p = pauseAcross(record(0.5, [1050, 1051]), 1000, 1030);
    expect(p).toEqual({ pauseMs: 50, resumedAtMs: 1050, gap: null, beforeMs: null });
  });
});
