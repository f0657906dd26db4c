/**
 * The capture-tag format (DESIGN.md, "Captures"; "The replicated state machine"): the
 * packet comments that tie a client packet in a capture to the log entry i whose
 * application produced it, O(i). The simulator's ReplicaNode and the real replica process
 * write them; `ftcp replay`, the lab's capture checks and the tests read them back with
 * parseCaptureTag.
 *
 *   O(i), epoch e                          a packet a live replica put on the wire
 *   re-emitted O(i) at go-live: ...        added when it came from the shadow queue at go-live
 *   shadow: O(i), generated while suppressed   a backup's output, in the shadow capture
 *
 * A comment is made of parts joined by "; " (src/pcap/vantage.ts also puts pending event
 * notes, "event: ...", in front), so the parser looks at each part on its own.
 */
import type { ServicePacket } from './outbox.js';

/** Between the parts of one packet comment (as src/pcap/vantage.ts joins notes and comment). */
export const TAG_SEPARATOR = '; ';

/** A packet a live replica put on the wire: entry `index`, in `epoch`. */
export function outputTag(index: number, epoch: number): string {
  return `O(${index}), epoch ${epoch}`;
}

/** A packet re-emitted from the shadow queue at go-live (DESIGN.md "Going live", step 1). */
export function reemittedTag(index: number): string {
  return `re-emitted O(${index}) at go-live: delivery by the old primary uncertain`;
}

/** An output a backup generated and kept back (the shadow capture). */
export function shadowTag(index: number): string {
  return `shadow: O(${index}), generated while suppressed`;
}

/** The comment of a client packet a replica put on the wire; `extra` parts follow the tags. */
export function servicePacketComment(p: Pick<ServicePacket, 'index' | 'epoch' | 'reemitted'>, extra: readonly string[] = []): string {
  const parts = [outputTag(p.index, p.epoch)];
  if (p.reemitted) parts.push(reemittedTag(p.index));
  return [...parts, ...extra].join(TAG_SEPARATOR);
}

/** What a packet comment says about the output it carries. */
export interface CaptureTag {
  /** The log entry whose application produced the packet. */
  index: number;
  /** The epoch it was put on the wire in; undefined for a shadow output (never on the wire). */
  epoch: number | undefined;
  reemitted: boolean;
  shadow: boolean;
}

const OUTPUT = /^O\((\d+)\), epoch (\d+)$/;
const REEMITTED = /^re-emitted O\((\d+)\) at go-live: /;
const SHADOW = /^shadow: O\((\d+)\), generated while suppressed$/;

/** The output tag in a packet comment, or undefined when the comment carries none. */
export function parseCaptureTag(comment: string): CaptureTag | undefined {
  let tag: CaptureTag | undefined;
  let reemitted = false;
  for (const part of comment.split(TAG_SEPARATOR)) {
    const output = OUTPUT.exec(part);
    if (output !== null) {
      tag ??= { index: Number(output[1]), epoch: Number(output[2]), reemitted: false, shadow: false };
      continue;
    }
    if (REEMITTED.test(part)) {
      reemitted = true;
      continue;
    }
    const shadow = SHADOW.exec(part);
    if (shadow !== null) tag ??= { index: Number(shadow[1]), epoch: undefined, reemitted: false, shadow: true };
  }
  if (tag !== undefined) tag.reemitted = reemitted;
  return tag;
}
