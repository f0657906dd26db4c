/**
 * The primary's hold queue (DESIGN.md "Primary", the output rule): O(i), the packets entry i
 * made, tagged i, until the backup acknowledges i; and the repeat keys of what is held and
 * of what left (repeats.ts), so that a segment made again while its first copy is held is
 * not released twice. PrimaryRole (primary.ts) decides when to release; it emits.
 */
import { admitMade, HeldRepeats, repeatConn, repeatKey, type RepeatKey } from './repeats.js';
import type { Rsm } from './rsm.js';

interface Held {
  index: number;
  packets: Uint8Array[];
  /** Each packet's repeat key (repeats.ts), forgotten as it is released; shorter than packets when none is keyed. */
  keys: Array<RepeatKey | undefined>;
}

type Emit = (packet: Uint8Array, index: number) => void;

export class HoldQueue {
  private hold: Held[] = [];
  private heldPackets = 0;
  private readonly repeats = new HeldRepeats();

  constructor(private readonly rsm: Rsm) {}

  /** Packets held. */
  get packets(): number {
    return this.heldPackets;
  }

  /** Of the packets an entry made, those to emit or hold (a repeat of a held one is dropped and counted: repeats.ts). */
  admit(packets: Uint8Array[], nowUs: number): { packets: Uint8Array[]; keys: Array<RepeatKey | undefined>; dropped: number } {
    return admitMade(this.repeats, this.rsm, packets, nowUs);
  }

  /** O(index), as admit() returned it, waits for the backup's ack of index. */
  push(index: number, packets: Uint8Array[], keys: Array<RepeatKey | undefined>): void {
    this.hold.push({ index, packets, keys });
    this.heldPackets += packets.length;
  }

  /** Release O(i) for every i <= acked, in order. */
  releaseUpTo(acked: number, nowUs: number, emit: Emit): void {
    let n = 0;
    while (n < this.hold.length && this.hold[n]!.index <= acked) {
      const h = this.hold[n]!;
      for (const p of h.packets) emit(p, h.index);
      this.left(h.packets, h.keys, nowUs);
      this.heldPackets -= h.packets.length;
      n++;
    }
    if (n > 0) this.hold.splice(0, n);
  }

  /** Serving alone: everything held goes, in order. */
  releaseAll(nowUs: number, emit: Emit): void {
    for (const h of this.hold) for (const p of h.packets) emit(p, h.index);
    for (const h of this.hold) this.left(h.packets, h.keys, nowUs);
    this.hold = [];
    this.heldPackets = 0;
  }

  /** Fenced: nothing held will ever go. */
  clear(): void {
    this.hold = [];
    this.heldPackets = 0;
    this.repeats.clearHeld();
  }

  /** Packets just put on the wire, with their repeat keys (repeats.ts). */
  left(packets: Uint8Array[], keys: Array<RepeatKey | undefined>, nowUs: number): void {
    for (let i = 0; i < keys.length; i++) if (keys[i] !== undefined) this.repeats.release(keys[i], nowUs, repeatConn(this.rsm, packets[i]!));
  }

  /** Going live: the FINs just re-emitted left now (repeats.ts: the stack's timer of each runs from its making). */
  noteReemitted(packets: Iterable<Uint8Array>, ethernet: boolean, nowUs: number): void {
    for (const p of packets) this.repeats.left(repeatKey(p, ethernet, this.rsm.config.servicePort), nowUs, repeatConn(this.rsm, p));
  }
}
