/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4). Values are unsigned 32-bit
 * numbers; comparisons are valid while the two values are less than 2^31 apart.
 */
export type Seq = number;

export function seqAdd(a: Seq, n: number): Seq {
  return (a + n) >>> 0;
}

/** a - b as a signed 32-bit number. */
export function seqDiff(a: Seq, b: Seq): number {
  return (a - b) | 0;
}

export function seqLt(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) < 0;
}

export function seqLe(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) <= 0;
}

export function seqGt(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) > 0;
}

export function seqGe(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) >= 0;
}

export function seqMax(a: Seq, b: Seq): Seq {
  return seqGt(a, b) ? a : b;
}

export function seqMin(a: Seq, b: Seq): Seq {
  return seqLt(a, b) ? a : b;
}

/** RFC 9293 §3.4 notation `start =< x < end`. */
export function seqInRange(x: Seq, start: Seq, end: Seq): boolean {
  return seqLe(start, x) && seqLt(x, end);
}

/** Drops the marks at or below `upTo` from an ascending list of sequence numbers, in place; true when none is left. */
export function dropSeqThrough(marks: Seq[], upTo: Seq): boolean {
  let n = 0;
  while (n < marks.length && seqLe(marks[n]!, upTo)) n++;
  if (n > 0) marks.splice(0, n);
  return marks.length === 0;
}
