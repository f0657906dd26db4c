import { describe, expect, it } from 'vitest';
import {
  collectPcapng,
  LINKTYPE_RAW,
  MAX_CAPTURED_LENGTH,
  PcapngBuffer,
  PcapngError,
  PcapngWriter,
} from '../../src/pcap/pcapng.js';
import { readPcapng } from '../../src/pcap/reader.js';

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Hex with spaces, comments after '#', and newlines, for golden layouts. */
function unhex(annotated: string): string {
  return annotated
    .split('\n')
    .map((l) => l.replace(/#.*/, ''))
    .join('')
    .replace(/\s+/g, '');
}

function blocksOf(run: (w: PcapngWriter) => void): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  run(new PcapngWriter((b) => blocks.push(b)));
  return blocks;
}

function expectError(fn: () => unknown, code: string, message?: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PcapngError);
    expect((err as PcapngError).code).toBe(code);
    if (message) expect((err as Error).message).toMatch(message);
    return;
  }
  throw new Error(`expected a PcapngError ${code}`);
}

describe('PcapngWriter golden bytes', () => {
  // Hand-checked against draft-ietf-opsawg-pcapng §3.1 (block layout), §3.5 (options),
  // §4.1 (SHB), §4.2 (IDB), §4.3 (EPB). All numbers little-endian.
  const SHB = unhex(`
    0a0d0d0a            # Block Type: SHB
    28000000            # Block Total Length: 40
    4d3c2b1a            # Byte-Order Magic 0x1A2B3C4D
    0100 0000           # Major 1, Minor 0
    ffffffff ffffffff   # Section Length -1
    0400 0400 66746370  # shb_userappl (4), length 4, "ftcp"
    0000 0000           # opt_endofopt
    28000000            # Block Total Length: 40
  `);
  const IDB = unhex(`
    01000000            # Block Type: IDB
    2c000000            # Block Total Length: 44
    6500 0000           # LinkType 101 (LINKTYPE_RAW), Reserved 0
    00000000            # SnapLen 0: no limit
    0200 0600 636c69656e74 0000  # if_name (2), length 6, "client", 2 bytes padding
    0900 0100 06 000000          # if_tsresol (9), length 1, 6 (microseconds), 3 bytes padding
    0000 0000           # opt_endofopt
    2c000000            # Block Total Length: 44
  `);
  const EPB_COMMENT = unhex(`
    06000000            # Block Type: EPB
    34000000            # Block Total Length: 52
    00000000            # Interface ID 0
    01000000            # Timestamp (Upper): 1
    02000000            # Timestamp (Lower): 2   -> 2^32 + 2 microseconds
    05000000            # Captured Packet Length 5
    05000000            # Original Packet Length 5
    0102030405 000000   # Packet Data, padded to 32 bits
    0100 0200 6869 0000 # opt_comment (1), length 2, "hi", 2 bytes padding
    0000 0000           # opt_endofopt
    34000000            # Block Total Length: 52
  `);
  const EPB_PLAIN = unhex(`
    06000000            # Block Type: EPB
    24000000            # Block Total Length: 36 = 8 + 20 + 4 (data) + 4
    00000000            # Interface ID 0
    00000000            # Timestamp (Upper): 0
    e8030000            # Timestamp (Lower): 1000
    04000000            # Captured Packet Length 4
    04000000            # Original Packet Length 4
    0a0b0c0d            # Packet Data, already 32-bit aligned
    24000000            # no options: Block Total Length right after the data
  `);

  it('writes SHB, IDB and EPBs exactly as the spec lays them out', () => {
    const blocks = blocksOf((w) => {
      expect(w.addInterface('client')).toBe(0);
      w.writePacket(0, 2 ** 32 + 2, Uint8Array.of(1, 2, 3, 4, 5), 'hi');
      w.writePacket(0, 1000, Uint8Array.of(10, 11, 12, 13));
    });
    expect(blocks.map(hex)).toEqual([SHB, IDB, EPB_COMMENT, EPB_PLAIN]);
  });

  it('writes the if_description option after if_name', () => {
    const [, idb] = blocksOf((w) => w.addInterface('p', { description: 'primary', snapLen: 96 }));
    expect(hex(idb!)).toBe(unhex(`
      01000000 34000000       # IDB, 52 bytes: 8 + 8 + 8 (name) + 12 (description) + 8 (tsresol) + 4 + 4
      6500 0000 60000000      # LinkType 101, SnapLen 96
      0200 0100 70 000000     # if_name "p"
      0300 0700 7072696d617279 00  # if_description "primary"
      0900 0100 06 000000     # if_tsresol 6
      00000000 34000000
    `));
  });

  it('uses the given application name', () => {
    const [shb] = blocksOf(() => undefined);
    expect(hex(shb!)).toBe(SHB);
    const blocks: Uint8Array[] = [];
    new PcapngWriter((b) => blocks.push(b), { application: 'ftcp sim seed=7' });
    expect(readPcapng(blocks[0]!).sections[0]!.application).toBe('ftcp sim seed=7');
  });
});

describe('PcapngWriter blocks', () => {
  it('hands the sink one complete, 32-bit aligned block per call', () => {
    const blocks = blocksOf((w) => {
      w.addInterface('a');
      w.addInterface('bb', { description: 'xyz' });
      for (let len = 0; len < 9; len++) w.writePacket(len % 2, len * 7, new Uint8Array(len).fill(len), len % 3 === 0 ? 'c'.repeat(len) : undefined);
    });
    expect(blocks).toHaveLength(1 + 2 + 9);
    for (const b of blocks) {
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const total = view.getUint32(4, true);
      expect(total).toBe(b.length);
      expect(total % 4).toBe(0);
      expect(view.getUint32(total - 4, true)).toBe(total);
    }
  });

  it('is deterministic: the same calls give the same bytes', () => {
    const run = (): Uint8Array => {
      const { writer, buffer } = collectPcapng();
      writer.addInterface('client');
      writer.addInterface('primary');
      for (let i = 0; i < 50; i++) writer.writePacket(i % 2, i * 1234, new Uint8Array(i).fill(i), i % 7 === 0 ? `event ${i}` : undefined);
      return buffer.toBytes();
    };
    expect(hex(run())).toBe(hex(run()));
  });

  it('splits timestamps above 2^32 microseconds into upper and lower words', () => {
    const cases: [number, number, number][] = [
      [0, 0, 0],
      [2 ** 32 - 1, 0, 0xffffffff],
      [2 ** 32, 1, 0],
      [2 ** 32 + 1, 1, 1],
      [5_000_000_123_456, 1164, 658_190_912],
      [Number.MAX_SAFE_INTEGER, 0x1fffff, 0xffffffff],
    ];
    for (const [ts, high, low] of cases) {
      expect(high * 2 ** 32 + low).toBe(ts); // the table itself is consistent
      const [, , epb] = blocksOf((w) => {
        w.addInterface('x');
        w.writePacket(0, ts, Uint8Array.of(0x45));
      });
      const view = new DataView(epb!.buffer);
      expect([view.getUint32(12, true), view.getUint32(16, true)]).toEqual([high, low]);
    }
  });

  it('cuts packets to snapLen and keeps the original length', () => {
    const { writer, buffer } = collectPcapng();
    writer.addInterface('x', { snapLen: 3 });
    writer.writePacket(0, 1, Uint8Array.of(1, 2, 3, 4, 5, 6));
    writer.writePacket(0, 2, Uint8Array.of(9, 8));
    const r = readPcapng(buffer.toBytes());
    expect(r.interfaces[0]!.snapLen).toBe(3);
    expect(r.packets.map((p) => [Array.from(p.data), p.originalLength])).toEqual([[[1, 2, 3], 6], [[9, 8], 2]]);
  });

  it('accepts packets up to the Wireshark limit and refuses longer ones', () => {
    const { writer } = collectPcapng();
    writer.addInterface('x');
    writer.writePacket(0, 0, new Uint8Array(MAX_CAPTURED_LENGTH));
    expectError(() => writer.writePacket(0, 0, new Uint8Array(MAX_CAPTURED_LENGTH + 1)), 'PCAPNG_TOO_LONG');
    // With a snapLen, what is captured is what counts.
    writer.addInterface('y', { snapLen: 100 });
    writer.writePacket(1, 0, new Uint8Array(MAX_CAPTURED_LENGTH + 1));
  });

  it('writes LINKTYPE_RAW (101) for every interface', () => {
    const { writer, buffer } = collectPcapng();
    writer.addInterface('a');
    writer.addInterface('b');
    expect(LINKTYPE_RAW).toBe(101);
    expect(readPcapng(buffer.toBytes()).interfaces.map((i) => i.linkType)).toEqual([101, 101]);
  });
});

describe('PcapngWriter input validation', () => {
  function writerWith(n: number): { writer: PcapngWriter; blocks: Uint8Array[] } {
    const blocks: Uint8Array[] = [];
    const writer = new PcapngWriter((b) => blocks.push(b));
    for (let i = 0; i < n; i++) writer.addInterface(`if${i}`);
    return { writer, blocks };
  }

  it('rejects unknown interface ids with a clear error and writes nothing', () => {
    const { writer, blocks } = writerWith(2);
    const before = blocks.length;
    expectError(() => writer.writePacket(2, 0, Uint8Array.of(1)), 'PCAPNG_BAD_INTERFACE', /unknown interface id 2: 2 interface\(s\) added \(ids 0\.\.1\)/);
    for (const id of [-1, 1.5, Number.NaN, 2 ** 32]) expectError(() => writer.writePacket(id, 0, Uint8Array.of(1)), 'PCAPNG_BAD_INTERFACE');
    expectError(() => writerWith(0).writer.writePacket(0, 0, Uint8Array.of(1)), 'PCAPNG_BAD_INTERFACE', /0 interface\(s\) added/);
    expect(blocks.length).toBe(before);
    expect(writer.packetCount).toBe(0);
  });

  it('rejects timestamps that are negative, fractional or beyond 2^53', () => {
    const { writer, blocks } = writerWith(1);
    for (const ts of [-1, 0.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectError(() => writer.writePacket(0, ts, Uint8Array.of(1)), 'PCAPNG_BAD_TIMESTAMP');
    }
    expect(blocks.length).toBe(2);
  });

  it('rejects bad strings: empty name, NUL, longer than an option', () => {
    const { writer } = writerWith(1);
    expectError(() => writer.addInterface(''), 'PCAPNG_BAD_STRING');
    expectError(() => writer.addInterface('a\0b'), 'PCAPNG_BAD_STRING', /NUL/);
    expectError(() => writer.writePacket(0, 0, Uint8Array.of(1), 'x\0'), 'PCAPNG_BAD_STRING');
    expectError(() => writer.writePacket(0, 0, Uint8Array.of(1), 'é'.repeat(32768)), 'PCAPNG_BAD_STRING', /65536 bytes/);
    writer.writePacket(0, 0, Uint8Array.of(1), 'x'.repeat(65535));
    expectError(() => new PcapngWriter(() => undefined, { application: 'ftcp\0' }), 'PCAPNG_BAD_STRING');
    // A failed addInterface does not take an id.
    expect(writer.addInterface('ok')).toBe(1);
  });

  it('rejects snapLen outside [0, 2^32)', () => {
    const { writer } = writerWith(0);
    for (const snapLen of [-1, 1.5, 2 ** 32]) expectError(() => writer.addInterface('x', { snapLen }), 'PCAPNG_BAD_SNAPLEN');
    expect(writer.interfaceCount).toBe(0);
  });
});

describe('PcapngBuffer', () => {
  it('concatenates blocks in order and tracks the length', () => {
    const buffer = new PcapngBuffer();
    expect(buffer.byteLength).toBe(0);
    expect(buffer.toBytes()).toEqual(new Uint8Array(0));
    const writer = new PcapngWriter(buffer.sink);
    writer.addInterface('client');
    writer.writePacket(0, 2 ** 32 + 2, Uint8Array.of(1, 2, 3, 4, 5), 'hi');
    expect(buffer.byteLength).toBe(40 + 44 + 52);
    const bytes = buffer.toBytes();
    expect(bytes.length).toBe(buffer.byteLength);
    expect(readPcapng(bytes).packets[0]!.comment).toBe('hi');
  });
});
