/**
 * TCP header and option codec (RFC 9293 §3.1, §3.2; RFC 7323; RFC 2018). Parsing never
 * reads past the buffer and never throws: a malformed segment is a returned reason.
 */
import type { Ipv4Addr } from './addr.js';
import { foldChecksum, pseudoHeaderSum, sum16 } from './checksum.js';
import { IP_PROTO_TCP } from './ipv4.js';

export const TCP_MIN_HEADER_BYTES = 20;
export const TCP_MAX_HEADER_BYTES = 60;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/** Option kinds (IANA "TCP Option Kind Numbers"). */
export const OPT_EOL = 0;
export const OPT_NOP = 1;
export const OPT_MSS = 2;
export const OPT_WSCALE = 3;
export const OPT_SACK_OK = 4;
export const OPT_SACK = 5;
export const OPT_TS = 8;

export interface SackBlock {
  left: number;
  right: number;
}

export type TcpOption =
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'mss'; mss: number }
  | { kind: 'wscale'; shift: number }
  | { kind: 'sackOk' }
  | { kind: 'sack'; blocks: SackBlock[] }
  | { kind: 'ts'; val: number; ecr: number }
  | { kind: 'unknown'; type: number; data: Uint8Array };

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgentPointer: number;
  /** Header length in bytes (data offset * 4). */
  headerLength: number;
  options: TcpOption[];
  payload: Uint8Array;
}

export interface TcpSegmentFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgentPointer?: number;
  options?: readonly TcpOption[];
  payload?: Uint8Array;
}

export type TcpDropReason = 'tcp-truncated' | 'tcp-bad-data-offset' | 'tcp-bad-checksum' | 'tcp-bad-option';

export type TcpParseResult = { ok: true; segment: TcpSegment } | { ok: false; reason: TcpDropReason };

const FIXED_OPTION_LENGTH: Record<number, number> = {
  [OPT_MSS]: 4,
  [OPT_WSCALE]: 3,
  [OPT_SACK_OK]: 2,
  [OPT_TS]: 10,
};

function u16(b: Uint8Array, i: number): number {
  return (b[i]! << 8) | b[i + 1]!;
}

function u32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

/**
 * Parse the options in b[start, end). Returns undefined when an option's length is
 * impossible (below 2, past the header, or wrong for a known kind): RFC 9293 §3.1 says
 * a TCP must be prepared to handle an illegal option length without crashing; we drop
 * the segment and count it.
 */
export function parseOptions(b: Uint8Array, start: number, end: number): TcpOption[] | undefined {
  const options: TcpOption[] = [];
  let i = start;
  while (i < end) {
    const kind = b[i]!;
    if (kind === OPT_EOL) {
      options.push({ kind: 'eol' });
      break;
    }
    if (kind === OPT_NOP) {
      options.push({ kind: 'nop' });
      i += 1;
      continue;
    }
    if (i + 1 >= end) return undefined;
    const length = b[i + 1]!;
    if (length < 2 || i + length > end) return undefined;
    const fixed = FIXED_OPTION_LENGTH[kind];
    if (fixed !== undefined && length !== fixed) return undefined;
    switch (kind) {
      case OPT_MSS:
        options.push({ kind: 'mss', mss: u16(b, i + 2) });
        break;
      case OPT_WSCALE:
        options.push({ kind: 'wscale', shift: b[i + 2]! });
        break;
      case OPT_SACK_OK:
        options.push({ kind: 'sackOk' });
        break;
      case OPT_SACK: {
        // RFC 2018 §3: length 2 + 8n, n >= 1.
        if ((length - 2) % 8 !== 0 || length < 10) return undefined;
        const blocks: SackBlock[] = [];
        for (let j = i + 2; j < i + length; j += 8) blocks.push({ left: u32(b, j), right: u32(b, j + 4) });
        options.push({ kind: 'sack', blocks });
        break;
      }
      case OPT_TS:
        options.push({ kind: 'ts', val: u32(b, i + 2), ecr: u32(b, i + 6) });
        break;
      default:
        // RFC 9293 §3.2: options not understood are skipped by their length.
        options.push({ kind: 'unknown', type: kind, data: b.slice(i + 2, i + length) });
    }
    i += length;
  }
  return options;
}

/** Parse a TCP segment carried from src to dst. `bytes` is the IP payload. */
export function parseTcp(src: Ipv4Addr, dst: Ipv4Addr, bytes: Uint8Array, verifyChecksum = true): TcpParseResult {
  if (bytes.length < TCP_MIN_HEADER_BYTES) return { ok: false, reason: 'tcp-truncated' };
  const headerLength = (bytes[12]! >> 4) * 4;
  if (headerLength < TCP_MIN_HEADER_BYTES || headerLength > bytes.length) {
    return { ok: false, reason: 'tcp-bad-data-offset' };
  }
  if (verifyChecksum) {
    // RFC 9293 §3.1: the checksum covers the pseudo-header, the header and the data.
    const sum = sum16(bytes, 0, bytes.length, pseudoHeaderSum(src, dst, IP_PROTO_TCP, bytes.length));
    if (foldChecksum(sum) !== 0) return { ok: false, reason: 'tcp-bad-checksum' };
  }
  const options = parseOptions(bytes, TCP_MIN_HEADER_BYTES, headerLength);
  if (options === undefined) return { ok: false, reason: 'tcp-bad-option' };
  return {
    ok: true,
    segment: {
      srcPort: u16(bytes, 0),
      dstPort: u16(bytes, 2),
      seq: u32(bytes, 4),
      ack: u32(bytes, 8),
      flags: bytes[13]!,
      window: u16(bytes, 14),
      urgentPointer: u16(bytes, 18),
      headerLength,
      options,
      payload: bytes.subarray(headerLength),
    },
  };
}

/** Encoded length of one option in bytes. */
function optionLength(option: TcpOption): number {
  switch (option.kind) {
    case 'eol':
    case 'nop':
      return 1;
    case 'mss':
      return 4;
    case 'wscale':
      return 3;
    case 'sackOk':
      return 2;
    case 'sack':
      return 2 + 8 * option.blocks.length;
    case 'ts':
      return 10;
    case 'unknown':
      return 2 + option.data.length;
  }
}

/** Length of the option list padded to a multiple of 4 bytes. */
export function optionsLength(options: readonly TcpOption[]): number {
  let n = 0;
  for (const o of options) n += optionLength(o);
  return (n + 3) & ~3;
}

function put16(b: Uint8Array, i: number, v: number): void {
  b[i] = (v >>> 8) & 0xff;
  b[i + 1] = v & 0xff;
}

function put32(b: Uint8Array, i: number, v: number): void {
  b[i] = (v >>> 24) & 0xff;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
}

function writeOptions(b: Uint8Array, start: number, options: readonly TcpOption[]): number {
  let i = start;
  for (const o of options) {
    switch (o.kind) {
      case 'eol':
        b[i++] = OPT_EOL;
        break;
      case 'nop':
        b[i++] = OPT_NOP;
        break;
      case 'mss':
        b[i] = OPT_MSS;
        b[i + 1] = 4;
        put16(b, i + 2, o.mss);
        i += 4;
        break;
      case 'wscale':
        b[i] = OPT_WSCALE;
        b[i + 1] = 3;
        b[i + 2] = o.shift & 0xff;
        i += 3;
        break;
      case 'sackOk':
        b[i] = OPT_SACK_OK;
        b[i + 1] = 2;
        i += 2;
        break;
      case 'sack':
        b[i] = OPT_SACK;
        b[i + 1] = 2 + 8 * o.blocks.length;
        i += 2;
        for (const blk of o.blocks) {
          put32(b, i, blk.left);
          put32(b, i + 4, blk.right);
          i += 8;
        }
        break;
      case 'ts':
        b[i] = OPT_TS;
        b[i + 1] = 10;
        put32(b, i + 2, o.val);
        put32(b, i + 6, o.ecr);
        i += 10;
        break;
      case 'unknown':
        b[i] = o.type & 0xff;
        b[i + 1] = 2 + o.data.length;
        b.set(o.data, i + 2);
        i += 2 + o.data.length;
        break;
    }
  }
  // Pad to a 32-bit boundary with zero bytes (EOL), RFC 9293 §3.1 "Padding".
  while ((i - start) & 3) b[i++] = OPT_EOL;
  return i - start;
}

/** Total encoded length of a segment (header, options, payload). */
export function tcpSegmentLength(seg: TcpSegmentFields): number {
  return TCP_MIN_HEADER_BYTES + optionsLength(seg.options ?? []) + (seg.payload?.length ?? 0);
}

/**
 * Write a segment into out[offset...] with its checksum; returns the bytes written.
 * Throws RangeError for a programming error (options over 40 bytes, fields out of range).
 */
export function writeTcp(out: Uint8Array, offset: number, src: Ipv4Addr, dst: Ipv4Addr, seg: TcpSegmentFields): number {
  const options = seg.options ?? [];
  const optLen = optionsLength(options);
  const headerLength = TCP_MIN_HEADER_BYTES + optLen;
  if (headerLength > TCP_MAX_HEADER_BYTES) throw new RangeError(`TCP options too long: ${optLen} bytes`);
  const payload = seg.payload;
  const total = headerLength + (payload?.length ?? 0);
  const o = offset;
  put16(out, o, seg.srcPort);
  put16(out, o + 2, seg.dstPort);
  put32(out, o + 4, seg.seq);
  put32(out, o + 8, seg.ack);
  out[o + 12] = (headerLength / 4) << 4;
  out[o + 13] = seg.flags & 0xff;
  put16(out, o + 14, seg.window);
  out[o + 16] = 0;
  out[o + 17] = 0;
  put16(out, o + 18, seg.urgentPointer ?? 0);
  writeOptions(out, o + TCP_MIN_HEADER_BYTES, options);
  if (payload !== undefined && payload.length > 0) out.set(payload, o + headerLength);
  const sum = foldChecksum(sum16(out, o, o + total, pseudoHeaderSum(src, dst, IP_PROTO_TCP, total)));
  put16(out, o + 16, sum);
  return total;
}

/** Encode a segment into a new buffer (the IP payload). */
export function emitTcp(src: Ipv4Addr, dst: Ipv4Addr, seg: TcpSegmentFields): Uint8Array {
  const out = new Uint8Array(tcpSegmentLength(seg));
  writeTcp(out, 0, src, dst, seg);
  return out;
}

export interface OptionSummary {
  mss?: number;
  wscale?: number;
  sackOk: boolean;
  sack?: SackBlock[];
  ts?: { val: number; ecr: number };
}

/** The options that matter to the stack, the first of each kind winning. */
export function optionSummary(options: readonly TcpOption[]): OptionSummary {
  const s: OptionSummary = { sackOk: false };
  for (const o of options) {
    switch (o.kind) {
      case 'mss':
        s.mss ??= o.mss;
        break;
      case 'wscale':
        s.wscale ??= o.shift;
        break;
      case 'sackOk':
        s.sackOk = true;
        break;
      case 'sack':
        s.sack ??= o.blocks;
        break;
      case 'ts':
        s.ts ??= { val: o.val, ecr: o.ecr };
        break;
      default:
        break;
    }
  }
  return s;
}

/** Flags as tcpdump and packetdrill print them: F S R P then '.' for ACK, then U E W. */
export function formatFlags(flags: number): string {
  let s = '';
  if (flags & TCP_FIN) s += 'F';
  if (flags & TCP_SYN) s += 'S';
  if (flags & TCP_RST) s += 'R';
  if (flags & TCP_PSH) s += 'P';
  if (flags & TCP_ACK) s += '.';
  if (flags & TCP_URG) s += 'U';
  if (flags & TCP_ECE) s += 'E';
  if (flags & TCP_CWR) s += 'W';
  return s;
}
