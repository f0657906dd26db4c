/**
 * Log entries: the nondeterministic inputs of the replicated state machine (DESIGN.md,
 * "The replicated state machine"), and their binary codec.
 *
 * Frame layout (big-endian), one entry per frame:
 *
 *   offset size field
 *   0      1    format version (LOG_FORMAT_VERSION)
 *   1      1    kind: 1 packet, 2 tick, 3 app, 4 epoch, 5 retransmit
 *   2      2    reserved, zero
 *   4      4    frame length in bytes, CRC included
 *   8      8    index (u64; entries are numbered 1, 2, 3 ... without gaps)
 *   16     4    epoch
 *   20     8    time, microseconds (u64)
 *   28     ...  body, by kind (below)
 *   ...    ...  state check: u16 count (bit 15 set: the list is cut short, see
 *                 `checksTruncated`), then per connection 6 x u32
 *                 (socket, sndUna, sndNxt, rcvNxt, sndWnd, rcvWnd);
 *               u8 hasDigest, then u32 digest if set
 *   end-4  4    CRC-32 of every byte before it
 *
 * Bodies:
 *   packet: u32 length, the IP packet
 *   tick:   nothing
 *   app:    u32 socket, u8 op (1 write, 2 shutdown, 3 close, 4 read, 5 abort),
 *           u32 n (write: byte count followed by the bytes; read: amount; else 0)
 *   epoch:  u32 new epoch, u8 member count, per member u8 length + UTF-8 name
 *   retransmit: u32 count, per socket u32 (the connections skipped)
 *
 * Decoding never throws and never reads past the buffer: a corrupt, truncated or
 * oversized frame is a returned reason, so the backup rejects it and never applies it.
 */
import { crc32 } from '../wire/crc32.js';
import { ByteWriter } from '../wire/bytes.js';

export const LOG_FORMAT_VERSION = 1;
/** Upper bound on one frame: a 64 KiB IP packet plus headers and state checks, with room. */
export const LOG_FRAME_MAX_BYTES = 256 * 1024;
const HEADER_BYTES = 28;
export const MAX_STATE_ENTRIES = 4096;
/** Bytes of one state check (6 x u32). */
export const CHECK_BYTES = 24;
const CHECKS_TRUNCATED = 0x8000;

export type AppOp = 'write' | 'shutdown' | 'close' | 'read' | 'abort';
const APP_OPS: readonly AppOp[] = ['write', 'shutdown', 'close', 'read', 'abort'];

/** The primary's sequence-number state of one connection after applying an entry. */
export interface ConnStateCheck {
  socket: number;
  sndUna: number;
  sndNxt: number;
  rcvNxt: number;
  sndWnd: number;
  rcvWnd: number;
}

export interface EntryCommon {
  index: number;
  epoch: number;
  timeUs: number;
  /** Connections the entry touched, as the primary saw them after applying it. */
  checks: ConnStateCheck[];
  /** Digest of the whole RSM state after applying the entry, sent every so often. */
  digest?: number;
  /**
   * `checks` holds only the first connections the entry touched (in socket order): the
   * whole list would not fit a channel frame. The backup then compares those and does not
   * ask for its own touched set to equal the list.
   */
  checksTruncated?: boolean;
}

export type LogEntry =
  | (EntryCommon & { kind: 'packet'; packet: Uint8Array })
  | (EntryCommon & { kind: 'tick' })
  | (EntryCommon & { kind: 'app'; socket: number; op: AppOp; data?: Uint8Array; amount?: number })
  | (EntryCommon & { kind: 'epoch'; newEpoch: number; members: string[] })
  /**
   * Go-live of a new primary: every connection with unacknowledged sequence space retransmits
   * its first unacknowledged segment now, but the sockets in `skip` (whose segment at SND.UNA
   * was just re-emitted).
   */
  | (EntryCommon & { kind: 'retransmit'; skip: number[] });

export type LogDecodeError =
  | 'log-truncated'
  | 'log-bad-version'
  | 'log-bad-kind'
  | 'log-bad-length'
  | 'log-oversized'
  | 'log-bad-crc'
  | 'log-bad-body';

export type LogDecodeResult = { ok: true; entry: LogEntry; bytes: number } | { ok: false; reason: LogDecodeError };

const KIND_CODE = { packet: 1, tick: 2, app: 3, epoch: 4, retransmit: 5 } as const;
/** Most sockets one retransmit entry skips (the entry stays well inside an append frame). */
export const MAX_RETRANSMIT_SKIP = 8192;
const TWO32 = 0x1_0000_0000;

/** The encoded size of `entry` (what encodeEntry returns) if it carried `checks` state checks. */
export function entryBytes(entry: LogEntry, checks = entry.checks.length): number {
  let body = 0;
  switch (entry.kind) {
    case 'packet':
      body = 4 + entry.packet.length;
      break;
    case 'tick':
      break;
    case 'app':
      body = 9 + (entry.op === 'write' ? (entry.data?.length ?? 0) : 0);
      break;
    case 'epoch':
      body = 5;
      for (const m of entry.members) body += 1 + new TextEncoder().encode(m).length;
      break;
    case 'retransmit':
      body = 4 + 4 * entry.skip.length;
      break;
  }
  return HEADER_BYTES + body + 2 + CHECK_BYTES * checks + 1 + (entry.digest !== undefined ? 4 : 0) + 4;
}

/** Encode one entry as a frame. Throws RangeError on values that cannot be encoded (a caller bug). */
export function encodeEntry(entry: LogEntry): Uint8Array {
  const w = new ByteWriter(entryBytes(entry)); // the exact size: the writer never grows and copies
  w.u8(LOG_FORMAT_VERSION);
  w.u8(KIND_CODE[entry.kind]);
  w.u16(0);
  w.u32(0); // length, patched below
  w.u64(entry.index);
  w.u32(entry.epoch);
  w.u64(entry.timeUs);
  switch (entry.kind) {
    case 'packet':
      w.u32(entry.packet.length);
      w.bytes(entry.packet);
      break;
    case 'tick':
      break;
    case 'app': {
      w.u32(entry.socket);
      w.u8(APP_OPS.indexOf(entry.op) + 1);
      if (entry.op === 'write') {
        const data = entry.data ?? new Uint8Array(0);
        w.u32(data.length);
        w.bytes(data);
      } else {
        w.u32(entry.op === 'read' ? (entry.amount ?? 0) : 0);
      }
      break;
    }
    case 'epoch': {
      w.u32(entry.newEpoch);
      if (entry.members.length > 255) throw new RangeError('log: more than 255 members');
      w.u8(entry.members.length);
      for (const m of entry.members) {
        const name = new TextEncoder().encode(m);
        if (name.length > 255) throw new RangeError(`log: member name too long: ${m}`);
        w.u8(name.length);
        w.bytes(name);
      }
      break;
    }
    case 'retransmit':
      if (entry.skip.length > MAX_RETRANSMIT_SKIP) throw new RangeError('log: too many sockets skipped');
      w.u32(entry.skip.length);
      for (const socket of entry.skip) w.u32(socket);
      break;
  }
  if (entry.checks.length > MAX_STATE_ENTRIES) throw new RangeError('log: too many state checks');
  w.u16(entry.checks.length | (entry.checksTruncated === true ? CHECKS_TRUNCATED : 0));
  for (const c of entry.checks) {
    w.u32(c.socket);
    w.u32(c.sndUna);
    w.u32(c.sndNxt);
    w.u32(c.rcvNxt);
    w.u32(c.sndWnd);
    w.u32(c.rcvWnd);
  }
  if (entry.digest !== undefined) {
    w.u8(1);
    w.u32(entry.digest);
  } else {
    w.u8(0);
  }
  const length = w.pos + 4;
  if (length > LOG_FRAME_MAX_BYTES) throw new RangeError(`log: frame of ${length} bytes exceeds ${LOG_FRAME_MAX_BYTES}`);
  w.patchU32(4, length);
  const body = w.finish();
  w.u32(crc32(body, 0, body.length));
  return w.finish();
}

/** Peek at a buffer's first frame length (for stream framing); undefined if fewer than 8 bytes. */
export function frameLength(buf: Uint8Array, offset = 0): number | undefined {
  if (buf.length - offset < 8) return undefined;
  return ((buf[offset + 4]! << 24) | (buf[offset + 5]! << 16) | (buf[offset + 6]! << 8) | buf[offset + 7]!) >>> 0;
}

/** Decode the frame at the start of buf. Never throws. */
export function decodeEntry(buf: Uint8Array): LogDecodeResult {
  if (buf.length < HEADER_BYTES + 7) return { ok: false, reason: 'log-truncated' };
  if (buf[0] !== LOG_FORMAT_VERSION) return { ok: false, reason: 'log-bad-version' };
  const length = frameLength(buf)!;
  if (length > LOG_FRAME_MAX_BYTES) return { ok: false, reason: 'log-oversized' };
  if (length < HEADER_BYTES + 7) return { ok: false, reason: 'log-bad-length' };
  if (length > buf.length) return { ok: false, reason: 'log-truncated' };
  const view = new DataView(buf.buffer, buf.byteOffset, length);
  if (crc32(buf, 0, length - 4) !== view.getUint32(length - 4)) return { ok: false, reason: 'log-bad-crc' };
  const end = length - 4;
  let pos = HEADER_BYTES;
  const need = (n: number) => pos + n <= end;
  const u8 = () => view.getUint8(pos++);
  const u16 = () => {
    const v = view.getUint16(pos);
    pos += 2;
    return v;
  };
  const u32 = () => {
    const v = view.getUint32(pos);
    pos += 4;
    return v;
  };
  const hi = view.getUint32(8);
  const thi = view.getUint32(20);
  if (hi >= 0x200000 || thi >= 0x200000) return { ok: false, reason: 'log-bad-body' };
  // The common fields are written out in each literal below: spreading a shared object into
  // every entry was ~4 µs per entry on the backup.
  const index = hi * TWO32 + view.getUint32(12);
  const epoch = view.getUint32(16);
  const timeUs = thi * TWO32 + view.getUint32(24);
  const checks: ConnStateCheck[] = [];
  let entry: LogEntry;
  switch (buf[1]) {
    case 1: {
      if (!need(4)) return { ok: false, reason: 'log-bad-body' };
      const n = u32();
      if (!need(n)) return { ok: false, reason: 'log-bad-body' };
      // A view when it starts on an even address (no 64 KB copy per entry; the
      // checksum's word loop needs even alignment), a copy otherwise. Nothing writes to it.
      entry = { index, epoch, timeUs, checks, kind: 'packet', packet: ((buf.byteOffset + pos) & 1) === 0 ? buf.subarray(pos, pos + n) : buf.slice(pos, pos + n) };
      pos += n;
      break;
    }
    case 2:
      entry = { index, epoch, timeUs, checks, kind: 'tick' };
      break;
    case 3: {
      if (!need(9)) return { ok: false, reason: 'log-bad-body' };
      const socket = u32();
      const op = APP_OPS[u8() - 1];
      if (op === undefined) return { ok: false, reason: 'log-bad-body' };
      const n = u32();
      if (op === 'write') {
        if (!need(n)) return { ok: false, reason: 'log-bad-body' };
        entry = { index, epoch, timeUs, checks, kind: 'app', socket, op, data: buf.slice(pos, pos + n) };
        pos += n;
      } else if (op === 'read') {
        entry = { index, epoch, timeUs, checks, kind: 'app', socket, op, amount: n };
      } else {
        entry = { index, epoch, timeUs, checks, kind: 'app', socket, op };
      }
      break;
    }
    case 4: {
      if (!need(5)) return { ok: false, reason: 'log-bad-body' };
      const newEpoch = u32();
      const count = u8();
      const members: string[] = [];
      for (let i = 0; i < count; i++) {
        if (!need(1)) return { ok: false, reason: 'log-bad-body' };
        const n = u8();
        if (!need(n)) return { ok: false, reason: 'log-bad-body' };
        members.push(new TextDecoder().decode(buf.subarray(pos, pos + n)));
        pos += n;
      }
      entry = { index, epoch, timeUs, checks, kind: 'epoch', newEpoch, members };
      break;
    }
    case 5: {
      if (!need(4)) return { ok: false, reason: 'log-bad-body' };
      const n = u32();
      if (n > MAX_RETRANSMIT_SKIP || !need(4 * n)) return { ok: false, reason: 'log-bad-body' };
      const skip: number[] = [];
      for (let i = 0; i < n; i++) skip.push(u32());
      entry = { index, epoch, timeUs, checks, kind: 'retransmit', skip };
      break;
    }
    default:
      return { ok: false, reason: 'log-bad-kind' };
  }
  if (!need(2)) return { ok: false, reason: 'log-bad-body' };
  const rawCount = u16();
  const count = rawCount & ~CHECKS_TRUNCATED;
  if (count > MAX_STATE_ENTRIES || !need(count * CHECK_BYTES + 1)) return { ok: false, reason: 'log-bad-body' };
  if ((rawCount & CHECKS_TRUNCATED) !== 0) entry.checksTruncated = true;
  for (let i = 0; i < count; i++) {
    entry.checks.push({ socket: u32(), sndUna: u32(), sndNxt: u32(), rcvNxt: u32(), sndWnd: u32(), rcvWnd: u32() });
  }
  const hasDigest = u8();
  if (hasDigest === 1) {
    if (!need(4)) return { ok: false, reason: 'log-bad-body' };
    entry.digest = u32();
  } else if (hasDigest !== 0) {
    return { ok: false, reason: 'log-bad-body' };
  }
  if (pos !== end) return { ok: false, reason: 'log-bad-body' };
  return { ok: true, entry, bytes: length };
}
