/**
 * Messages of the log channel between primary and backup (DESIGN.md, "The replicated
 * state machine"), and their binary codec.
 *
 * Frame layout (big-endian):
 *
 *   offset size field
 *   0      1    format version (CHANNEL_FORMAT_VERSION)
 *   1      1    type: 1 append, 2 heartbeat, 3 ack, 4 resend, 5 join, 6 snapshot, 7 hello,
 *                   8 handover, 9 forward
 *   2      2    reserved, zero
 *   4      4    frame length in bytes, CRC included
 *   8      4    epoch of the sender
 *   12     ...  body, by type (below)
 *   end-4  4    CRC-32 of every byte before it
 *
 * Bodies:
 *   append:    u64 r (released index), u16 count, then `count` log-entry frames (log.ts),
 *              each self-delimiting (its own length and CRC)
 *   heartbeat: u64 r, u64 last index appended
 *   ack:       u64 highest index applied in order
 *   resend:    u64 first index wanted
 *   join:      u8 name length, UTF-8 name of the joining replica
 *   snapshot:  u64 index k, u32 total bytes, u32 offset, u32 chunk length, the chunk
 *   hello:     u16 length, UTF-8 text: the sender's configuration as key=value lines, sent
 *              by each side when a connection comes up and compared by the receiving
 *              process before any entry flows (never handed to the roles)
 *   handover:  u64 r, u64 last index appended. From the primary (planned switchover): it
 *              takes no more input and releases nothing more; the backup applies up to the
 *              last index and takes over. From the backup, with its new epoch: it is live,
 *              the old primary may go (both fields are then the backup's r and last index)
 *   forward:   the bytes of one client packet that reached a primary handing over: it
 *              did not log it; the backup takes it as input once live
 *
 * Every frame from the primary carries r, the highest index whose outputs it released.
 * Decoding never throws: a corrupt or truncated frame is a returned reason.
 */
import { crc32 } from '../wire/crc32.js';
import { decodeEntry, frameLength, type LogEntry } from './log.js';

export const CHANNEL_FORMAT_VERSION = 1;
/**
 * The largest UDP payload one IPv4 datagram carries (65535 - 20 - 8, RFC 791 / RFC 768):
 * a frame is one datagram in the simulator and in the log channel's capture.
 */
export const CHANNEL_FRAME_MAX_BYTES = 65_507;
/** Snapshot chunks are this size at most. */
export const SNAPSHOT_CHUNK_BYTES = 32_768;
const HEADER_BYTES = 12;
/** An append frame's bytes besides its entries: header, r, count, CRC. */
export const APPEND_OVERHEAD_BYTES = HEADER_BYTES + 10 + 4;
/** The largest log entry one append frame carries. */
export const ENTRY_MAX_BYTES = CHANNEL_FRAME_MAX_BYTES - APPEND_OVERHEAD_BYTES;
const TWO32 = 0x1_0000_0000;

export type ChannelMessage =
  | { type: 'append'; epoch: number; r: number; entries: Uint8Array[] }
  | { type: 'heartbeat'; epoch: number; r: number; lastIndex: number }
  | { type: 'ack'; epoch: number; index: number }
  | { type: 'resend'; epoch: number; from: number }
  | { type: 'join'; epoch: number; name: string }
  | { type: 'snapshot'; epoch: number; index: number; total: number; offset: number; chunk: Uint8Array }
  | { type: 'hello'; epoch: number; text: string }
  | { type: 'handover'; epoch: number; r: number; lastIndex: number }
  | { type: 'forward'; epoch: number; packet: Uint8Array };

export type ChannelDecodeError =
  | 'channel-truncated'
  | 'channel-bad-version'
  | 'channel-bad-type'
  | 'channel-bad-length'
  | 'channel-bad-crc'
  | 'channel-bad-body';

export type ChannelDecodeResult = { ok: true; message: ChannelMessage } | { ok: false; reason: ChannelDecodeError };

/** The type byte of a `hello` frame (offset 1), which the receiving process handles itself. */
export const CHANNEL_TYPE_HELLO = 7;
/** The type byte of a `handover` frame (offset 1). */
export const CHANNEL_TYPE_HANDOVER = 8;
/** The type byte of a `forward` frame (offset 1). */
export const CHANNEL_TYPE_FORWARD = 9;

const TYPE_CODE = { append: 1, heartbeat: 2, ack: 3, resend: 4, join: 5, snapshot: 6, hello: 7, handover: 8, forward: 9 } as const;

function u64(view: DataView, at: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`channel: not a non-negative safe integer: ${v}`);
  view.setUint32(at, Math.floor(v / TWO32));
  view.setUint32(at + 4, v % TWO32);
}

function bodyLength(m: ChannelMessage): number {
  switch (m.type) {
    case 'append':
      return 8 + 2 + m.entries.reduce((n, e) => n + e.length, 0);
    case 'heartbeat':
    case 'handover':
      return 16;
    case 'forward':
      return m.packet.length;
    case 'ack':
    case 'resend':
      return 8;
    case 'join':
      return 1 + new TextEncoder().encode(m.name).length;
    case 'snapshot':
      return 8 + 12 + m.chunk.length;
    case 'hello':
      return 2 + new TextEncoder().encode(m.text).length;
  }
}

/** Encode a message. Throws RangeError on values that cannot be encoded (a caller bug). */
export function encodeChannel(m: ChannelMessage): Uint8Array {
  const length = HEADER_BYTES + bodyLength(m) + 4;
  if (length > CHANNEL_FRAME_MAX_BYTES) throw new RangeError(`channel: frame of ${length} bytes exceeds ${CHANNEL_FRAME_MAX_BYTES}`);
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  out[0] = CHANNEL_FORMAT_VERSION;
  out[1] = TYPE_CODE[m.type];
  view.setUint32(4, length);
  view.setUint32(8, m.epoch >>> 0);
  let pos = HEADER_BYTES;
  switch (m.type) {
    case 'append':
      if (m.entries.length > 0xffff) throw new RangeError('channel: too many entries in one frame');
      u64(view, pos, m.r);
      view.setUint16(pos + 8, m.entries.length);
      pos += 10;
      for (const e of m.entries) {
        out.set(e, pos);
        pos += e.length;
      }
      break;
    case 'heartbeat':
    case 'handover':
      u64(view, pos, m.r);
      u64(view, pos + 8, m.lastIndex);
      pos += 16;
      break;
    case 'forward':
      out.set(m.packet, pos);
      pos += m.packet.length;
      break;
    case 'ack':
      u64(view, pos, m.index);
      pos += 8;
      break;
    case 'resend':
      u64(view, pos, m.from);
      pos += 8;
      break;
    case 'join': {
      const name = new TextEncoder().encode(m.name);
      if (name.length > 255) throw new RangeError('channel: replica name too long');
      out[pos] = name.length;
      out.set(name, pos + 1);
      pos += 1 + name.length;
      break;
    }
    case 'snapshot':
      u64(view, pos, m.index);
      view.setUint32(pos + 8, m.total);
      view.setUint32(pos + 12, m.offset);
      view.setUint32(pos + 16, m.chunk.length);
      out.set(m.chunk, pos + 20);
      pos += 20 + m.chunk.length;
      break;
    case 'hello': {
      const text = new TextEncoder().encode(m.text);
      if (text.length > 0xffff) throw new RangeError('channel: hello text too long');
      view.setUint16(pos, text.length);
      out.set(text, pos + 2);
      pos += 2 + text.length;
      break;
    }
  }
  view.setUint32(pos, crc32(out, 0, pos));
  return out;
}

/** Decode one frame (the whole buffer). Never throws. */
export function decodeChannel(buf: Uint8Array): ChannelDecodeResult {
  if (buf.length < HEADER_BYTES + 4) return { ok: false, reason: 'channel-truncated' };
  if (buf[0] !== CHANNEL_FORMAT_VERSION) return { ok: false, reason: 'channel-bad-version' };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const length = view.getUint32(4);
  if (length > buf.length) return { ok: false, reason: 'channel-truncated' };
  if (length !== buf.length || length < HEADER_BYTES + 4) return { ok: false, reason: 'channel-bad-length' };
  if (crc32(buf, 0, length - 4) !== view.getUint32(length - 4)) return { ok: false, reason: 'channel-bad-crc' };
  const end = length - 4;
  const epoch = view.getUint32(8);
  let pos = HEADER_BYTES;
  const need = (n: number) => pos + n <= end;
  const rd64 = (): number | undefined => {
    const hi = view.getUint32(pos);
    const lo = view.getUint32(pos + 4);
    pos += 8;
    return hi >= 0x200000 ? undefined : hi * TWO32 + lo;
  };
  const bad: ChannelDecodeResult = { ok: false, reason: 'channel-bad-body' };
  let message: ChannelMessage;
  switch (buf[1]) {
    case 1: {
      if (!need(10)) return bad;
      const r = rd64();
      if (r === undefined) return bad;
      const count = view.getUint16(pos);
      pos += 2;
      const entries: Uint8Array[] = [];
      for (let i = 0; i < count; i++) {
        const n = frameLength(buf, pos);
        if (n === undefined || n < 8 || !need(n)) return bad;
        entries.push(buf.subarray(pos, pos + n)); // decodeEntry copies out what an entry keeps
        pos += n;
      }
      message = { type: 'append', epoch, r, entries };
      break;
    }
    case 2:
    case 8: {
      if (!need(16)) return bad;
      const r = rd64();
      const lastIndex = rd64();
      if (r === undefined || lastIndex === undefined) return bad;
      message = { type: buf[1] === 2 ? 'heartbeat' : 'handover', epoch, r, lastIndex };
      break;
    }
    case 9:
      if (pos === end) return bad; // an empty packet is nobody's
      message = { type: 'forward', epoch, packet: buf.slice(pos, end) };
      pos = end;
      break;
    case 3:
    case 4: {
      if (!need(8)) return bad;
      const v = rd64();
      if (v === undefined) return bad;
      message = buf[1] === 3 ? { type: 'ack', epoch, index: v } : { type: 'resend', epoch, from: v };
      break;
    }
    case 5: {
      if (!need(1)) return bad;
      const n = buf[pos]!;
      pos += 1;
      if (!need(n)) return bad;
      message = { type: 'join', epoch, name: new TextDecoder().decode(buf.subarray(pos, pos + n)) };
      pos += n;
      break;
    }
    case 6: {
      if (!need(20)) return bad;
      const index = rd64();
      if (index === undefined) return bad;
      const total = view.getUint32(pos);
      const offset = view.getUint32(pos + 4);
      const n = view.getUint32(pos + 8);
      pos += 12;
      if (!need(n) || offset + n > total) return bad;
      message = { type: 'snapshot', epoch, index, total, offset, chunk: buf.slice(pos, pos + n) };
      pos += n;
      break;
    }
    case 7: {
      if (!need(2)) return bad;
      const n = view.getUint16(pos);
      pos += 2;
      if (!need(n)) return bad;
      message = { type: 'hello', epoch, text: new TextDecoder().decode(buf.subarray(pos, pos + n)) };
      pos += n;
      break;
    }
    default:
      return { ok: false, reason: 'channel-bad-type' };
  }
  if (pos !== end) return bad;
  return { ok: true, message };
}

/** Decode the entries an append frame carries; the first bad one stops the list (the rest is asked again). */
export function decodeAppendEntries(entries: readonly Uint8Array[]): { entries: LogEntry[]; bad: number } {
  const out: LogEntry[] = [];
  for (const frame of entries) {
    const r = decodeEntry(frame);
    if (!r.ok || r.bytes !== frame.length) return { entries: out, bad: entries.length - out.length };
    out.push(r.entry);
  }
  return { entries: out, bad: 0 };
}

/** Split a snapshot into chunk messages. */
export function snapshotMessages(epoch: number, index: number, snapshot: Uint8Array): ChannelMessage[] {
  const out: ChannelMessage[] = [];
  for (let offset = 0; offset < snapshot.length || offset === 0; offset += SNAPSHOT_CHUNK_BYTES) {
    out.push({ type: 'snapshot', epoch, index, total: snapshot.length, offset, chunk: snapshot.subarray(offset, offset + SNAPSHOT_CHUNK_BYTES) });
    if (snapshot.length === 0) break;
  }
  return out;
}
