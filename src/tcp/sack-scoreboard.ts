/**
 * The sender's SACK scoreboard (RFC 2018, RFC 6675 §4 "Update ()", "IsLost ()"), as plain
 * data: the SACKed ranges above SND.UNA, sorted, disjoint and not adjacent. The number of
 * ranges held is bounded (SCOREBOARD_MAX_BLOCKS); when a new range would exceed it, the
 * highest ranges are forgotten, which only makes the sender more conservative (data it
 * does not know to be SACKed is in the pipe, and may be retransmitted).
 *
 * Sequence numbers are mod 2^32 (wire/seq.ts); a range is [left, right), as SACK blocks.
 */
import { seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from '../wire/seq.js';
import type { SackBlock } from '../wire/tcp.js';

/** RFC 6675 §2 / RFC 5681: DupThresh. */
export const DUP_THRESH = 3;
/** Ranges the scoreboard holds at most (memory bound per connection). */
export const SCOREBOARD_MAX_BLOCKS = 32;

export type Scoreboard = SackBlock[];

/** Forget what SND.UNA has passed (RFC 2018 §5: the cumulative ACK supersedes SACK). */
export function sbTrim(sb: Scoreboard, una: number): void {
  let drop = 0;
  while (drop < sb.length && seqLe(sb[drop]!.right, una)) drop++;
  if (drop > 0) sb.splice(0, drop);
  if (sb.length > 0 && seqLt(sb[0]!.left, una)) sb[0] = { left: una, right: sb[0]!.right };
}

/** Bytes of [from, to) that no range covers. */
export function sbUnsacked(sb: Scoreboard, from: number, to: number): number {
  if (!seqLt(from, to)) return 0;
  let n = seqDiff(to, from);
  for (const b of sb) {
    if (seqGe(b.left, to)) break;
    const l = seqMax(b.left, from);
    const r = seqMin(b.right, to);
    if (seqLt(l, r)) n -= seqDiff(r, l);
  }
  return n;
}

/**
 * Record [left, right) as SACKed (RFC 6675 Update ()); returns how many bytes were not
 * SACKed before (0: no new SACK information).
 */
export function sbAdd(sb: Scoreboard, left: number, right: number, maxBlocks = SCOREBOARD_MAX_BLOCKS): number {
  const fresh = sbUnsacked(sb, left, right);
  if (fresh === 0) return 0;
  // Ranges [i, j) touch or overlap the new one: merge them into it.
  let i = 0;
  while (i < sb.length && seqLt(sb[i]!.right, left)) i++;
  let j = i;
  let l = left;
  let r = right;
  while (j < sb.length && seqLe(sb[j]!.left, right)) {
    l = seqMin(l, sb[j]!.left);
    r = seqMax(r, sb[j]!.right);
    j++;
  }
  sb.splice(i, j - i, { left: l, right: r });
  if (sb.length > maxBlocks) sb.length = maxBlocks; // forget the highest
  return fresh;
}

/** The first byte at or above `from` (and below `max`) that is not SACKed, with the end of its hole. */
export function sbNextHole(sb: Scoreboard, from: number, max: number): { seq: number; end: number } | undefined {
  let seq = from;
  for (const b of sb) {
    if (seqLe(b.right, seq)) continue;
    if (seqGt(b.left, seq)) return seqLt(seq, max) ? { seq, end: seqMin(b.left, max) } : undefined;
    seq = b.right; // inside a SACKed range: skip it
  }
  return seqLt(seq, max) ? { seq, end: max } : undefined;
}

/** Bytes the ranges cover (RFC 6937's SACKd). */
export function sbTotal(sb: Scoreboard): number {
  let n = 0;
  for (const b of sb) n += seqDiff(b.right, b.left);
  return n;
}

/** The highest SACKed sequence number + 1, or undefined when nothing is SACKed. */
export function sbHighest(sb: Scoreboard): number | undefined {
  return sb.length > 0 ? sb[sb.length - 1]!.right : undefined;
}

/**
 * RFC 6675 §4 IsLost (SeqNum): true when DupThresh discontiguous SACKed ranges lie above
 * it, or more than (DupThresh - 1) * SMSS SACKed bytes do. Both counts only grow towards
 * SND.UNA, so the unSACKed bytes below one boundary are lost and those above it are not:
 * lostEnd() returns that boundary (SND.UNA when nothing is lost).
 */
export function sbLostEnd(sb: Scoreboard, una: number, mss: number): number {
  let ranges = 0;
  let bytes = 0;
  for (let k = sb.length - 1; k >= 0; k--) {
    const b = sb[k]!;
    ranges++;
    bytes += seqDiff(b.right, b.left);
    // The hole just below range k has ranges k.. above it.
    if (ranges >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss) return seqMax(b.left, una);
  }
  return una;
}

export function sbIsLost(sb: Scoreboard, seq: number, una: number, mss: number): boolean {
  return seqLt(seq, sbLostEnd(sb, una, mss));
}

/** What the SACK option of one ACK told the sender. */
export interface SackUpdate {
  /** Bytes newly SACKed (RFC 6675 §2: > 0 makes the ACK a duplicate ACK). */
  newBytes: number;
  /** The first block was a D-SACK (RFC 2883 §4), not SACK information. */
  dsack: boolean;
  /** Blocks ignored as invalid: empty or reversed, or outside SND.UNA .. SND.MAX. */
  invalid: number;
}

/**
 * Apply the SACK blocks of an ACK (RFC 2018 §3, RFC 6675 Update ()). The first block is a
 * D-SACK (RFC 2883 §4) when it lies below the ACK's cumulative acknowledgment, or inside
 * the second block; it reports a duplicate, not data held out of order, and is not
 * recorded. Other blocks must satisfy SND.UNA =< left < right =< SND.MAX.
 */
export function sbApplyOption(sb: Scoreboard, blocks: readonly SackBlock[], segAck: number, una: number, sndMax: number): SackUpdate {
  const out: SackUpdate = { newBytes: 0, dsack: false, invalid: 0 };
  blocks.forEach((b, k) => {
    if (k === 0 && seqLt(b.left, b.right)) {
      const second = blocks[1];
      const inSecond = second !== undefined && seqGe(b.left, second.left) && seqLe(b.right, second.right);
      if (seqLt(b.left, segAck) || inSecond) {
        out.dsack = true;
        return;
      }
    }
    if (!seqLt(b.left, b.right) || seqLt(b.left, una) || seqGt(b.right, sndMax)) {
      out.invalid++;
      return;
    }
    out.newBytes += sbAdd(sb, b.left, b.right);
  });
  return out;
}

