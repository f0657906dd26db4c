/**
 * The SACK blocks we report as a data receiver (RFC 2018 §4) and D-SACK (RFC 2883).
 *
 * The TCB remembers, most recent first, one sequence number inside each block it has
 * reported (tcb.sackRecent); the blocks themselves are read off the out-of-order queue
 * when an ACK goes out, so a block always describes bytes we actually hold, grows as
 * segments join it, merges with its neighbours and disappears once RCV.NXT passes it.
 * A duplicate segment (RFC 2883 §4) is remembered in tcb.dsack until the next ACK.
 */
import { maxSackBlocks } from './options.js';
import type { Reassembly } from './reassembly.js';
import type { Ctx, Tcb } from './tcb.js';
import { seqAdd, seqGe, seqLe, seqLt, seqMax, seqMin } from '../wire/seq.js';
import { TCP_ACK, TCP_RST, TCP_SYN, type SackBlock } from '../wire/tcp.js';

/** RFC 2018 §3: at most 4 blocks fit in the option space; remembering more is useless. */
const MAX_REMEMBERED = 4;

/** The contiguous run of held out-of-order bytes that contains `seq`, if any. */
function runAt(r: Reassembly, seq: number): SackBlock | undefined {
  const segs = r.segs;
  for (let i = 0; i < segs.length; i++) {
    const g = segs[i]!;
    const gEnd = seqAdd(g.seq, g.data.length);
    if (seqLt(seq, g.seq)) return undefined;
    if (seqGe(seq, gEnd)) continue;
    // Found: extend left and right over adjacent pieces (the queue keeps them unmerged).
    let left = g.seq;
    for (let j = i - 1; j >= 0 && seqAdd(segs[j]!.seq, segs[j]!.data.length) === left; j--) left = segs[j]!.seq;
    let right = gEnd;
    for (let j = i + 1; j < segs.length && segs[j]!.seq === right; j++) right = seqAdd(right, segs[j]!.data.length);
    return { left, right };
  }
  return undefined;
}

/**
 * RFC 2018 §4: out-of-order data at `seq` was queued: its block becomes the first one
 * reported, ahead of the blocks reported before (which keep their order).
 */
export function noteSackBlock(tcb: Tcb, seq: number): void {
  if (!tcb.sackOk) return;
  const run = runAt(tcb.ooo, seq);
  if (run === undefined) return;
  const rest = tcb.sackRecent.filter((s) => !(seqGe(s, run.left) && seqLt(s, run.right)));
  tcb.sackRecent = [seq, ...rest].slice(0, MAX_REMEMBERED);
}

/**
 * RFC 2883 §4: the segment [left, right) repeated bytes we had already received; report
 * them in the first block of the next ACK (once). Only when SACK is in force and D-SACK
 * is configured.
 */
export function noteDuplicate(ctx: Ctx, tcb: Tcb, left: number, right: number): void {
  if (!tcb.sackOk || !ctx.cfg.dsack || !seqLt(left, right)) return;
  tcb.dsack = [left, right];
  tcb.ackNow = true; // the sender learns of the duplicate at once (as Linux's tcp_dsack_set + quick ACK)
}

/**
 * The bytes of [seq, end) already held in the out-of-order queue: the first contiguous
 * overlap, for a D-SACK block (RFC 2883 §4.1.3: a duplicate above RCV.NXT).
 */
export function heldOverlap(r: Reassembly, seq: number, end: number): SackBlock | undefined {
  let found: SackBlock | undefined;
  for (const g of r.segs) {
    const gEnd = seqAdd(g.seq, g.data.length);
    if (seqLe(gEnd, seq)) continue;
    if (seqLe(end, g.seq)) break;
    const left = seqMax(seq, g.seq);
    const right = seqMin(end, gEnd);
    if (found === undefined) found = { left, right };
    else if (found.right === left) found.right = right; // adjacent pieces: one contiguous overlap
    else break;
  }
  return found;
}

/**
 * The blocks for the SACK option of the segment being sent, at most `max`: the D-SACK
 * block first if there is one (RFC 2883 §4: followed by the block holding it when that
 * is above RCV.NXT), then the remembered blocks, most recent first (RFC 2018 §4), each
 * read off the out-of-order queue; blocks RCV.NXT has passed are forgotten.
 */
export function sackBlocks(tcb: Tcb, max: number): { blocks: SackBlock[]; dsack: boolean } {
  const blocks: SackBlock[] = [];
  if (!tcb.sackOk || max <= 0) return { blocks, dsack: false };
  const seen = (b: SackBlock): boolean => blocks.some((x) => x.left === b.left && x.right === b.right);
  let dsack = false;
  if (tcb.dsack.length === 2) {
    blocks.push({ left: tcb.dsack[0]!, right: tcb.dsack[1]! });
    dsack = true;
    const holder = runAt(tcb.ooo, tcb.dsack[0]!);
    if (holder !== undefined && blocks.length < max) blocks.push(holder);
  }
  const keep: number[] = [];
  for (const s of tcb.sackRecent) {
    const run = runAt(tcb.ooo, s);
    if (run === undefined) continue; // delivered or pruned
    keep.push(s);
    if (blocks.length < max && !seen(run)) blocks.push(run);
  }
  tcb.sackRecent = keep;
  return { blocks, dsack };
}

/**
 * The SACK blocks of a segment about to be sent (none on a RST, a SYN or a segment without
 * ACK). A pure ACK carries as many as fit (RFC 2018 §3: 4, or 3 beside timestamps); a
 * data segment only those that fit in the MSS beside its payload (RFC 6691 §3: options
 * count against the MSS; we shed blocks rather than shrink the segment). A D-SACK block
 * that goes out is not sent again (RFC 2883 §4) and is counted.
 */
export function sackForSegment(ctx: Ctx, tcb: Tcb, flags: number, payloadBytes: number): SackBlock[] {
  if (!tcb.sackOk || (flags & (TCP_ACK | TCP_SYN | TCP_RST)) !== TCP_ACK) return [];
  if (tcb.dsack.length === 0 && tcb.sackRecent.length === 0) return [];
  let max = maxSackBlocks(tcb);
  if (payloadBytes > 0) max = Math.min(max, Math.floor((tcb.sndMss - payloadBytes - 4) / 8));
  const { blocks, dsack } = sackBlocks(tcb, max);
  if (dsack) {
    tcb.dsack = [];
    ctx.stats.dsacksSent = (ctx.stats.dsacksSent ?? 0) + 1;
  }
  return blocks;
}
