// Timeline lines from several processes come out in time order within the hold window.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OrderedLines } from '../../src/lab/ordered-lines.js';

describe('OrderedLines', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());
  it('holds lines for the window and releases them sorted by time, ties in arrival order', () => {
    const out: string[] = [];
    const lines = new OrderedLines((text, atMs) => out.push(`${atMs} ${text}`), 100);
    lines.add('b started', 1488);
    lines.add('a announces', 1487);
    lines.add('switch: a holds', 1488);
    expect(out).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(out).toEqual(['1487 a announces', '1488 b started', '1488 switch: a holds']);
  });
  it('flush() releases what is held at once', () => {
    const out: string[] = [];
    const lines = new OrderedLines((text) => out.push(text), 100);
    lines.add('late', 20);
    lines.add('early', 10);
    lines.flush();
    expect(out).toEqual(['early', 'late']);
    vi.advanceTimersByTime(200);
    expect(out).toHaveLength(2);
  });
});
