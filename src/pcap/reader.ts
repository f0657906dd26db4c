// A small pcapng reader (draft-ietf-opsawg-pcapng), for tests: it reads what PcapngWriter
// writes, and what a process killed with -9 leaves behind (a file cut inside its last block).
//
// It parses Section Header, Interface Description and Enhanced Packet Blocks, skips every other
// block by its length (§3.1), reads either byte order (§3.6.1), and never reads past the buffer.
// A final block that the buffer cuts short is reported in `truncated`, not thrown; a complete
// block that breaks the format (bad lengths, a packet on an undeclared interface) throws
// PcapngError('PCAPNG_MALFORMED'), unless the caller asks to resynchronise ({ resync: true }):
// then the first such block is reported in `damaged` and reading goes on at the next block
// that is whole (a known type whose leading and trailing lengths agree, §3.1). A block that
// claims to run past the end while a whole block follows it is damage, not a cut tail.

import {
  BLOCK_EPB,
  BLOCK_IDB,
  BLOCK_SHB,
  BYTE_ORDER_MAGIC,
  IF_DESCRIPTION,
  IF_NAME,
  IF_TSRESOL,
  OPT_COMMENT,
  OPT_ENDOFOPT,
  PcapngError,
  SHB_USERAPPL,
} from './pcapng.js';

export interface PcapngInterface {
  /** 0-based index of the section (SHB) it belongs to; ids restart in every section (§4.2). */
  section: number;
  /** Interface id within its section. */
  interfaceId: number;
  linkType: number;
  snapLen: number;
  name?: string;
  description?: string;
  /** Raw if_tsresol (§4.2): MSB 0 -> 10^-n s, MSB 1 -> 2^-n s. 6 when absent. */
  tsresol: number;
}

export interface PcapngPacket {
  section: number;
  interfaceId: number;
  /** Timestamp converted to microseconds (exact for if_tsresol 6 and safe integers). */
  timestampUs: number;
  /** The timestamp as written, in if_tsresol units. */
  timestampRaw: bigint;
  data: Uint8Array;
  originalLength: number;
  /** The first opt_comment, if any. */
  comment?: string;
  /** Every opt_comment, in order (empty when there are none). */
  comments: string[];
}

export interface PcapngTruncation {
  /** File offset where the incomplete block starts. */
  offset: number;
  /** Bytes present from that offset to the end of the buffer. */
  available: number;
  /** Block length the header declared, when at least 8 bytes were present. */
  declaredLength?: number;
}

export interface PcapngReadResult {
  sections: { application?: string; littleEndian: boolean }[];
  interfaces: PcapngInterface[];
  packets: PcapngPacket[];
  /** Blocks of other types, skipped by length. */
  skippedBlocks: number;
  /** Offset just past the last complete block. */
  completeLength: number;
  /** Set when the buffer ends inside a block (e.g. a writer killed mid-write). */
  truncated?: PcapngTruncation;
  /** With resync: the first block that breaks the format, and how many packets were read before it. */
  damaged?: { offset: number; message: string; packetsBefore: number };
}

export interface PcapngReadOptions {
  /** Report the first malformed block in `damaged` and read on from the next whole block, instead of throwing. */
  resync?: boolean;
}

/** The offset of the next whole block at or after `from` (4-byte aligned), or undefined. */
function nextWholeBlock(bytes: Uint8Array, view: DataView, from: number, le: boolean): number | undefined {
  for (let p = from; p + 12 <= bytes.length; p += 4) {
    const type = view.getUint32(p, le);
    if (type !== BLOCK_EPB && type !== BLOCK_IDB && type !== BLOCK_SHB) continue;
    const total = view.getUint32(p + 4, le);
    if (total < 12 || total % 4 !== 0 || total > bytes.length - p) continue;
    if (view.getUint32(p + total - 4, le) === total) return p;
  }
  return undefined;
}

const utf8 = new TextDecoder('utf-8');

function malformed(offset: number, message: string): never {
  throw new PcapngError('PCAPNG_MALFORMED', `block at offset ${offset}: ${message}`);
}

/** §3.5: a string ends at its length or at the first NUL, whichever comes first. */
function decodeString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return utf8.decode(nul === -1 ? bytes : bytes.subarray(0, nul));
}

interface Option {
  code: number;
  value: Uint8Array;
}

/** §3.5: TLVs padded to 32 bits, until opt_endofopt or the end of the options area. */
function parseOptions(bytes: Uint8Array, view: DataView, start: number, end: number, le: boolean, blockOffset: number): Option[] {
  const out: Option[] = [];
  let at = start;
  while (at + 4 <= end) {
    const code = view.getUint16(at, le);
    const length = view.getUint16(at + 2, le);
    if (code === OPT_ENDOFOPT) break;
    const valueEnd = at + 4 + length;
    if (valueEnd > end) malformed(blockOffset, `option ${code} of length ${length} runs past the end of the block`);
    out.push({ code, value: bytes.subarray(at + 4, valueEnd) });
    at += 4 + ((length + 3) & ~3);
  }
  return out;
}

/** Converts a count of if_tsresol units to microseconds (truncating below 1 µs). */
function toMicroseconds(raw: bigint, tsresol: number): number {
  const exp = BigInt(tsresol & 0x7f);
  if ((tsresol & 0x80) === 0) {
    const us = exp >= 6n ? raw / 10n ** (exp - 6n) : raw * 10n ** (6n - exp);
    return Number(us);
  }
  return Number((raw * 1_000_000n) >> exp);
}

/** Parses a whole pcapng file held in memory. */
export function readPcapng(bytes: Uint8Array, options: PcapngReadOptions = {}): PcapngReadResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const result: PcapngReadResult = { sections: [], interfaces: [], packets: [], skippedBlocks: 0, completeLength: 0 };
  let le = true;
  let sectionInterfaces: PcapngInterface[] = [];
  let at = 0;

  while (at < bytes.length) {
    const available = bytes.length - at;
    if (available < 12) {
      // Not even the smallest block; report what the header says if we have it.
      const truncated: PcapngTruncation = { offset: at, available };
      if (available >= 8) truncated.declaredLength = view.getUint32(at + 4, le);
      result.truncated = truncated;
      break;
    }
    let type = view.getUint32(at, le);
    if (type === BLOCK_SHB) {
      // §4.1: the byte-order magic says how to read this section, including this block's length.
      const magic = view.getUint32(at + 8, true);
      if (magic === BYTE_ORDER_MAGIC) le = true;
      else if (magic === 0x4d3c2b1a) le = false;
      else malformed(at, `bad byte-order magic 0x${magic.toString(16)}`);
    } else if (at === 0) {
      malformed(at, 'the file does not begin with a Section Header Block (§3.4)');
    }
    type = view.getUint32(at, le);
    const total = view.getUint32(at + 4, le);
    if (total > available && !(options.resync === true && nextWholeBlock(bytes, view, at + 4, le) !== undefined)) {
      result.truncated = { offset: at, available, declaredLength: total };
      break;
    }
    try {
      readBlock(at, type, total);
    } catch (error) {
      if (!(options.resync === true && error instanceof PcapngError && at > 0)) throw error;
      result.damaged ??= { offset: at, message: error.message.replace(/^PCAPNG_\w+: /, ''), packetsBefore: result.packets.length };
      at = nextWholeBlock(bytes, view, at + 4, le) ?? bytes.length;
      result.completeLength = at;
      continue;
    }
    at += total;
    result.completeLength = at;
  }
  return result;

  function readBlock(at: number, type: number, total: number): void {
    if (total > bytes.length - at) malformed(at, `block total length ${total} runs past the end of the file, and whole blocks follow it`);
    if (total < 12 || total % 4 !== 0) malformed(at, `block total length ${total} is < 12 or not a multiple of 4 (§3.1)`);
    const trailer = view.getUint32(at + total - 4, le);
    if (trailer !== total) malformed(at, `trailing block total length ${trailer} differs from ${total} (§3.1)`);
    const bodyEnd = at + total - 4;

    if (type === BLOCK_SHB) {
      if (total < 28) malformed(at, 'Section Header Block shorter than 28 bytes');
      const major = view.getUint16(at + 12, le);
      if (major !== 1) malformed(at, `unsupported pcapng major version ${major}`);
      const section: { application?: string; littleEndian: boolean } = { littleEndian: le };
      for (const o of parseOptions(bytes, view, at + 24, bodyEnd, le, at)) {
        if (o.code === SHB_USERAPPL) section.application = decodeString(o.value);
      }
      result.sections.push(section);
      sectionInterfaces = [];
    } else if (type === BLOCK_IDB) {
      if (total < 20) malformed(at, 'Interface Description Block shorter than 20 bytes');
      const iface: PcapngInterface = {
        section: result.sections.length - 1,
        interfaceId: sectionInterfaces.length,
        linkType: view.getUint16(at + 8, le),
        snapLen: view.getUint32(at + 12, le),
        tsresol: 6,
      };
      for (const o of parseOptions(bytes, view, at + 16, bodyEnd, le, at)) {
        if (o.code === IF_NAME) iface.name = decodeString(o.value);
        else if (o.code === IF_DESCRIPTION) iface.description = decodeString(o.value);
        else if (o.code === IF_TSRESOL && o.value.length === 1) iface.tsresol = o.value[0]!;
      }
      sectionInterfaces.push(iface);
      result.interfaces.push(iface);
    } else if (type === BLOCK_EPB) {
      if (total < 32) malformed(at, 'Enhanced Packet Block shorter than 32 bytes');
      const interfaceId = view.getUint32(at + 8, le);
      const iface = sectionInterfaces[interfaceId];
      if (!iface) malformed(at, `packet on interface ${interfaceId}, which no earlier Interface Description Block declared`);
      const timestampRaw = (BigInt(view.getUint32(at + 12, le)) << 32n) | BigInt(view.getUint32(at + 16, le));
      const capturedLength = view.getUint32(at + 20, le);
      const originalLength = view.getUint32(at + 24, le);
      const dataStart = at + 28;
      const optionsStart = dataStart + ((capturedLength + 3) & ~3);
      if (capturedLength > bodyEnd - dataStart || optionsStart > bodyEnd) {
        malformed(at, `captured length ${capturedLength} does not fit in a block of ${total} bytes`);
      }
      const comments: string[] = [];
      for (const o of parseOptions(bytes, view, optionsStart, bodyEnd, le, at)) {
        if (o.code === OPT_COMMENT) comments.push(decodeString(o.value));
      }
      const packet: PcapngPacket = {
        section: iface.section,
        interfaceId,
        timestampUs: toMicroseconds(timestampRaw, iface.tsresol),
        timestampRaw,
        data: bytes.slice(dataStart, dataStart + capturedLength),
        originalLength,
        comments,
      };
      if (comments.length > 0) packet.comment = comments[0]!;
      result.packets.push(packet);
    } else {
      result.skippedBlocks++;
    }
  }
}
