// pcapng writer (draft-ietf-opsawg-pcapng, "PCAP Now Generic (pcapng) Capture File Format").
//
// Sink-based: every call hands the sink one or more *complete* blocks, never a partial one, so
// a file sink that writes each block with one synchronous write leaves a file that is readable
// up to its last complete block when the process is killed with -9. The same writer feeds an
// in-memory buffer in the simulator (PcapngBuffer).
//
// Determinism: timestamps are the caller's (virtual) microseconds and nothing here reads a
// clock, so the same calls always produce the same bytes. Sections are always written
// little-endian, whatever the host, so files are byte-identical across machines too (§3.6.1
// expects the writer's native order, but readers must take either, from the byte-order magic
// of §4.1; every x86 and ARM host is little-endian anyway).
//
// Link type: LINKTYPE_RAW (101), "raw IP; the packet begins with an IPv4 or IPv6 header".
// Checked with TShark 4.0.17: 101 is shown as encapsulation "Raw IP" and dissected as
// raw:ip:tcp (a one-line "Raw packet data" layer, then IPv4, then TCP), with checksum
// validation working and no expert errors. LINKTYPE_IPV4 (228) is dissected just as cleanly
// (encapsulation "Raw IPv4", ip:tcp). We write 101: it is what DESIGN.md names, and it is the
// older, more widely supported of the two (libpcap/tcpdump builds of every age read it).

/** LINKTYPE_RAW: raw IPv4/IPv6, the version is taken from the first nibble. */
export const LINKTYPE_RAW = 101;
/** LINKTYPE_ETHERNET: IEEE 802.3 Ethernet, the frame without its FCS. */
export const LINKTYPE_ETHERNET = 1;

/** Largest packet Wireshark accepts (WTAP_MAX_PACKET_SIZE_STANDARD); bigger ones make it stop. */
export const MAX_CAPTURED_LENGTH = 262_144;

/** Receives complete pcapng blocks, in file order. */
export type BlockSink = (block: Uint8Array) => void;

export type PcapngErrorCode =
  | 'PCAPNG_BAD_INTERFACE' // writePacket on an interface id that addInterface did not return
  | 'PCAPNG_BAD_TIMESTAMP' // not a non-negative safe integer
  | 'PCAPNG_BAD_STRING' // empty name, NUL in a string, or longer than an option can hold
  | 'PCAPNG_BAD_SNAPLEN' // snapLen not an integer in [0, 2^32)
  | 'PCAPNG_TOO_LONG' // packet longer than MAX_CAPTURED_LENGTH after snapLen truncation
  | 'PCAPNG_MALFORMED'; // reader: a complete block whose contents break the format

/** API misuse (and, in the reader, corrupt input). The code is stable; the message is for people. */
export class PcapngError extends Error {
  readonly code: PcapngErrorCode;
  constructor(code: PcapngErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'PcapngError';
    this.code = code;
  }
}

// §10.1 block type codes.
export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 0x00000001;
export const BLOCK_EPB = 0x00000006;
/** §4.1 byte-order magic. */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

// §3.5 common options.
export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
// §4.1 Table 2.
export const SHB_USERAPPL = 4;
// §4.2 Table 3.
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;

/** if_tsresol = 6: timestamps count units of 10^-6 s (§4.2, if_tsresol: MSB 0 -> power of 10). */
const TSRESOL_MICROSECONDS = 6;
const TWO_POW_32 = 0x1_0000_0000;
const MAX_OPTION_LENGTH = 0xffff;

const utf8 = new TextEncoder();

export interface PcapngWriterOptions {
  /** shb_userappl; default "ftcp". */
  application?: string;
}

export interface InterfaceOptions {
  /** if_description. */
  description?: string;
  /** SnapLen (§4.2): 0 (the default) means no limit; longer packets are cut to it. */
  snapLen?: number;
  /** LinkType (§4.2): LINKTYPE_RAW (the default) or LINKTYPE_ETHERNET. */
  linkType?: number;
}

interface PcapngOption {
  code: number;
  value: Uint8Array;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function stringOption(code: number, what: string, value: string): PcapngOption {
  // §3.5: strings are not zero-terminated and readers treat a NUL as the end, so a NUL inside
  // would silently shorten the string.
  if (value.includes('\0')) throw new PcapngError('PCAPNG_BAD_STRING', `${what} contains a NUL character`);
  const bytes = utf8.encode(value);
  if (bytes.length > MAX_OPTION_LENGTH) {
    throw new PcapngError('PCAPNG_BAD_STRING', `${what} is ${bytes.length} bytes of UTF-8; an option holds at most ${MAX_OPTION_LENGTH}`);
  }
  return { code, value: bytes };
}

/** Size of an option list: each TLV padded to 32 bits, plus opt_endofopt; 0 when there are none. */
function optionsLength(options: readonly PcapngOption[]): number {
  if (options.length === 0) return 0;
  let n = 4; // opt_endofopt
  for (const o of options) n += 4 + pad4(o.value.length);
  return n;
}

/**
 * §3.1: Block Type, Block Total Length, body (fixed part + options), Block Total Length again.
 * `writeFixed` fills the fixed part of the body at offset 8; `extra` is copied after it (packet
 * data, zero-padded to 32 bits), then the options (§3.5), ending with opt_endofopt.
 */
function buildBlock(
  type: number,
  fixedLength: number,
  writeFixed: (view: DataView) => void,
  extra: Uint8Array | null,
  options: readonly PcapngOption[],
): Uint8Array {
  const extraPadded = extra ? pad4(extra.length) : 0;
  const total = 12 + fixedLength + extraPadded + optionsLength(options);
  const block = new Uint8Array(total); // zero-filled: all padding octets are 0 (§3.6.2)
  const view = new DataView(block.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, total, true);
  writeFixed(view);
  let at = 8 + fixedLength;
  if (extra) {
    block.set(extra, at);
    at += extraPadded;
  }
  if (options.length > 0) {
    for (const o of options) {
      view.setUint16(at, o.code, true);
      view.setUint16(at + 2, o.value.length, true); // length without padding (§3.5)
      block.set(o.value, at + 4);
      at += 4 + pad4(o.value.length);
    }
    view.setUint16(at, OPT_ENDOFOPT, true);
    view.setUint16(at + 2, 0, true);
    at += 4;
  }
  view.setUint32(at, total, true);
  return block;
}

/** Encodes a Section Header Block (§4.1): version 1.0, section length -1 (not specified). */
export function encodeSectionHeader(application: string): Uint8Array {
  const options = [stringOption(SHB_USERAPPL, 'application', application)];
  return buildBlock(BLOCK_SHB, 16, (view) => {
    view.setUint32(8, BYTE_ORDER_MAGIC, true);
    view.setUint16(12, 1, true); // Major Version
    view.setUint16(14, 0, true); // Minor Version
    view.setInt32(16, -1, true); // Section Length = -1: 0xFFFFFFFF_FFFFFFFF
    view.setInt32(20, -1, true);
  }, null, options);
}

/** Encodes an Interface Description Block (§4.2) with if_name, if_description?, if_tsresol=6. */
export function encodeInterfaceDescription(name: string, linkType: number, snapLen: number, description?: string): Uint8Array {
  const options = [stringOption(IF_NAME, 'interface name', name)];
  if (description !== undefined) options.push(stringOption(IF_DESCRIPTION, 'interface description', description));
  options.push({ code: IF_TSRESOL, value: Uint8Array.of(TSRESOL_MICROSECONDS) });
  return buildBlock(BLOCK_IDB, 8, (view) => {
    view.setUint16(8, linkType, true);
    view.setUint16(10, 0, true); // Reserved
    view.setUint32(12, snapLen, true);
  }, null, options);
}

/**
 * Encodes an Enhanced Packet Block (§4.3). The timestamp is one 64-bit count of if_tsresol
 * units written as two 32-bit words, upper then lower (§4.3, §3.6.2).
 */
export function encodeEnhancedPacket(interfaceId: number, timestamp: number, captured: Uint8Array, originalLength: number, comment?: string): Uint8Array {
  const options = comment === undefined ? [] : [stringOption(OPT_COMMENT, 'packet comment', comment)];
  const high = Math.floor(timestamp / TWO_POW_32);
  const low = timestamp - high * TWO_POW_32; // exact: timestamp is a safe integer
  return buildBlock(BLOCK_EPB, 20, (view) => {
    view.setUint32(8, interfaceId, true);
    view.setUint32(12, high, true);
    view.setUint32(16, low, true);
    view.setUint32(20, captured.length, true); // Captured Packet Length
    view.setUint32(24, originalLength, true); // Original Packet Length
  }, captured, options);
}

interface InterfaceState {
  name: string;
  snapLen: number;
}

/**
 * Writes one pcapng section to `sink`: the Section Header Block at construction, an Interface
 * Description Block per addInterface(), an Enhanced Packet Block per writePacket().
 */
export class PcapngWriter {
  private readonly sink: BlockSink;
  private readonly interfaces: InterfaceState[] = [];
  private packets = 0;

  constructor(sink: BlockSink, opts: PcapngWriterOptions = {}) {
    this.sink = sink;
    this.sink(encodeSectionHeader(opts.application ?? 'ftcp'));
  }

  /** Number of interfaces added so far; ids are 0 .. interfaceCount-1 (§4.2). */
  get interfaceCount(): number {
    return this.interfaces.length;
  }

  /** Number of packets written so far. */
  get packetCount(): number {
    return this.packets;
  }

  /** Adds a vantage point (link type raw IPv4) and returns its interface id. */
  addInterface(name: string, opts: InterfaceOptions = {}): number {
    if (typeof name !== 'string' || name.length === 0) {
      throw new PcapngError('PCAPNG_BAD_STRING', 'interface name must be a non-empty string');
    }
    const snapLen = opts.snapLen ?? 0;
    if (!Number.isInteger(snapLen) || snapLen < 0 || snapLen >= TWO_POW_32) {
      throw new PcapngError('PCAPNG_BAD_SNAPLEN', `snapLen must be an integer in [0, 2^32), got ${snapLen}`);
    }
    const block = encodeInterfaceDescription(name, opts.linkType ?? LINKTYPE_RAW, snapLen, opts.description);
    const id = this.interfaces.length;
    this.interfaces.push({ name, snapLen });
    this.sink(block);
    return id;
  }

  /**
   * Writes one packet seen on `interfaceId` at `timestampUs` (integer microseconds of the
   * caller's clock). `comment` becomes the packet's opt_comment (events such as go-live).
   */
  writePacket(interfaceId: number, timestampUs: number, bytes: Uint8Array, comment?: string): void {
    if (!Number.isInteger(interfaceId) || interfaceId < 0 || interfaceId >= this.interfaces.length) {
      throw new PcapngError(
        'PCAPNG_BAD_INTERFACE',
        `unknown interface id ${interfaceId}: ${this.interfaces.length} interface(s) added (ids 0..${this.interfaces.length - 1})`,
      );
    }
    if (!Number.isSafeInteger(timestampUs) || timestampUs < 0) {
      throw new PcapngError('PCAPNG_BAD_TIMESTAMP', `timestampUs must be a non-negative safe integer, got ${timestampUs}`);
    }
    const { snapLen } = this.interfaces[interfaceId]!;
    const captured = snapLen !== 0 && bytes.length > snapLen ? bytes.subarray(0, snapLen) : bytes;
    if (captured.length > MAX_CAPTURED_LENGTH) {
      throw new PcapngError('PCAPNG_TOO_LONG', `packet of ${captured.length} bytes exceeds ${MAX_CAPTURED_LENGTH}, the most Wireshark reads`);
    }
    const block = encodeEnhancedPacket(interfaceId, timestampUs, captured, bytes.length, comment);
    this.packets++;
    this.sink(block);
  }
}

/** Collects blocks in memory; `sink` is what a PcapngWriter takes. */
export class PcapngBuffer {
  private readonly blocks: Uint8Array[] = [];
  private length = 0;

  readonly sink: BlockSink = (block) => {
    this.blocks.push(block);
    this.length += block.length;
  };

  get byteLength(): number {
    return this.length;
  }

  /** The whole file so far, as one new array. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const b of this.blocks) {
      out.set(b, at);
      at += b.length;
    }
    return out;
  }
}

/** A writer and the buffer it writes to, for in-memory captures (the simulator). */
export function collectPcapng(opts?: PcapngWriterOptions): { writer: PcapngWriter; buffer: PcapngBuffer } {
  const buffer = new PcapngBuffer();
  const writer = new PcapngWriter(buffer.sink, opts);
  return { writer, buffer };
}
