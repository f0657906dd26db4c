/**
 * The arbiter (DESIGN.md, "The arbiter"): a test-and-set per epoch, the one thing both
 * replicas trust. Exactly one replica can win the test-and-set of epoch e; the winner
 * starts epoch e+1 alone.
 *
 * The interface is a pair of messages, request and response, so that whatever carries
 * them may delay, lose or duplicate them: the simulator (a host on the simulated network),
 * a TCP server with an fsync'ed flag file, or an etcd transaction. Asking again is always
 * safe: the answer names the winner, so a replica that asks twice (its first answer was
 * lost) learns that it won the first time.
 *
 * Wire format of both messages (big-endian), CRC-protected like every other frame:
 *   u8 version, u8 type (1 request, 2 response), u16 reserved, u32 request id,
 *   u32 epoch, u8 length + UTF-8 replica name (the asker),
 *   response only: u8 length + UTF-8 winner name,
 *   u32 CRC-32 of every byte before it.
 */
import { crc32 } from '../wire/crc32.js';

export const ARBITER_FORMAT_VERSION = 1;

export interface ArbiterRequest {
  type: 'request';
  /** Chosen by the asker; the response repeats it. */
  id: number;
  /** The epoch whose test-and-set is asked for. */
  epoch: number;
  replica: string;
}

export interface ArbiterResponse {
  type: 'response';
  id: number;
  epoch: number;
  /** The asker. */
  replica: string;
  /** Who holds the epoch's flag: the asker won iff winner === replica. */
  winner: string;
}

export type ArbiterMessage = ArbiterRequest | ArbiterResponse;

export function encodeArbiter(m: ArbiterMessage): Uint8Array {
  const enc = new TextEncoder();
  const names = m.type === 'request' ? [enc.encode(m.replica)] : [enc.encode(m.replica), enc.encode(m.winner)];
  for (const n of names) if (n.length > 255 || n.length === 0) throw new RangeError('arbiter: replica names are 1..255 bytes');
  const length = 12 + names.reduce((s, n) => s + 1 + n.length, 0) + 4;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  out[0] = ARBITER_FORMAT_VERSION;
  out[1] = m.type === 'request' ? 1 : 2;
  view.setUint32(4, m.id >>> 0);
  view.setUint32(8, m.epoch >>> 0);
  let pos = 12;
  for (const n of names) {
    out[pos] = n.length;
    out.set(n, pos + 1);
    pos += 1 + n.length;
  }
  view.setUint32(pos, crc32(out, 0, pos));
  return out;
}

/** Decode an arbiter message; undefined when corrupt. Never throws. */
export function decodeArbiter(buf: Uint8Array): ArbiterMessage | undefined {
  if (buf.length < 18 || buf[0] !== ARBITER_FORMAT_VERSION || (buf[1] !== 1 && buf[1] !== 2)) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  if (crc32(buf, 0, buf.length - 4) !== view.getUint32(buf.length - 4)) return undefined;
  const end = buf.length - 4;
  const dec = new TextDecoder();
  let pos = 12;
  const name = (): string | undefined => {
    if (pos >= end) return undefined;
    const n = buf[pos]!;
    if (n === 0 || pos + 1 + n > end) return undefined;
    const s = dec.decode(buf.subarray(pos + 1, pos + 1 + n));
    pos += 1 + n;
    return s;
  };
  const id = view.getUint32(4);
  const epoch = view.getUint32(8);
  const replica = name();
  if (replica === undefined) return undefined;
  if (buf[1] === 1) return pos === end ? { type: 'request', id, epoch, replica } : undefined;
  const winner = name();
  if (winner === undefined || pos !== end) return undefined;
  return { type: 'response', id, epoch, replica, winner };
}

/**
 * The test-and-set itself, as a state machine: the in-simulator arbiter. The first
 * request for an epoch sets its flag to the asker; every later request for that epoch,
 * from anyone, is answered with that winner.
 */
export class TestAndSetArbiter {
  private readonly flags = new Map<number, string>();
  /** Requests answered. */
  requests = 0;

  handle(request: ArbiterRequest): ArbiterResponse {
    this.requests++;
    let winner = this.flags.get(request.epoch);
    if (winner === undefined) {
      winner = request.replica;
      this.flags.set(request.epoch, winner);
    }
    return { type: 'response', id: request.id, epoch: request.epoch, replica: request.replica, winner };
  }

  /** Who won epoch e, if anyone asked. */
  winnerOf(epoch: number): string | undefined {
    return this.flags.get(epoch);
  }

  /** Every granted flag, lowest epoch first. */
  granted(): Array<{ epoch: number; winner: string }> {
    return [...this.flags].sort((a, b) => a[0] - b[0]).map(([epoch, winner]) => ({ epoch, winner }));
  }
}
