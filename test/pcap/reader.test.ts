import { describe, expect, it } from 'vitest';
import { collectPcapng, PcapngError } from '../../src/pcap/pcapng.js';
import { readPcapng } from '../../src/pcap/reader.js';
import { Prng } from '../../src/tcp/prng.js';

interface Written {
  interfaceId: number;
  timestampUs: number;
  data: Uint8Array;
  comment?: string;
}

/** A seeded mix of interfaces, lengths (0..300, so every padding case), timestamps and comments. */
function sampleCapture(seed: number, count: number): { bytes: Uint8Array; written: Written[]; boundaries: number[] } {
  const prng = new Prng(seed);
  const { writer, buffer } = collectPcapng();
  const boundaries: number[] = [];
  const mark = (): void => void boundaries.push(buffer.byteLength);
  mark();
  for (const name of ['client', 'primary', 'backup', 'shadow', 'log']) {
    writer.addInterface(name, { description: `${name} view` });
    mark();
  }
  const written: Written[] = [];
  let now = 2 ** 32 - 5_000; // cross the 2^32 us boundary part way through
  for (let i = 0; i < count; i++) {
    now += prng.below(2_000);
    const data = new Uint8Array(prng.below(301));
    for (let j = 0; j < data.length; j++) data[j] = prng.below(256);
    const w: Written = { interfaceId: prng.below(5), timestampUs: now, data };
    if (prng.below(4) === 0) w.comment = `event ${i}: go-live épöch ${prng.below(9)}`.slice(0, 1 + prng.below(30));
    writer.writePacket(w.interfaceId, w.timestampUs, w.data, w.comment);
    mark();
    written.push(w);
  }
  return { bytes: buffer.toBytes(), written, boundaries };
}

function expectPackets(actual: ReturnType<typeof readPcapng>['packets'], expected: Written[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((p, i) => {
    const w = expected[i]!;
    expect(p.interfaceId).toBe(w.interfaceId);
    expect(p.timestampUs).toBe(w.timestampUs);
    expect(p.timestampRaw).toBe(BigInt(w.timestampUs));
    expect(p.data).toEqual(w.data);
    expect(p.originalLength).toBe(w.data.length);
    expect(p.comment).toBe(w.comment);
    expect(p.comments).toEqual(w.comment === undefined ? [] : [w.comment]);
  });
}

describe('readPcapng round trip', () => {
  it('reads back interfaces, timestamps, data and comments', () => {
    const { bytes, written } = sampleCapture(1, 400);
    const r = readPcapng(bytes);
    expect(r.truncated).toBeUndefined();
    expect(r.completeLength).toBe(bytes.length);
    expect(r.sections).toEqual([{ application: 'ftcp', littleEndian: true }]);
    expect(r.interfaces.map((i) => [i.interfaceId, i.name, i.description, i.linkType, i.snapLen, i.tsresol])).toEqual([
      [0, 'client', 'client view', 101, 0, 6],
      [1, 'primary', 'primary view', 101, 0, 6],
      [2, 'backup', 'backup view', 101, 0, 6],
      [3, 'shadow', 'shadow view', 101, 0, 6],
      [4, 'log', 'log view', 101, 0, 6],
    ]);
    expect(written.filter((w) => w.comment !== undefined).length).toBeGreaterThan(50);
    expect(written.some((w) => w.timestampUs < 2 ** 32) && written.some((w) => w.timestampUs > 2 ** 32)).toBe(true);
    expectPackets(r.packets, written);
  });

  it('round-trips comments with multi-byte UTF-8, newlines and every padding length', () => {
    const comments = ['', 'a', 'ab', 'abc', 'abcd', 'go-live: epoch 2 → backup ✓', 'line one\r\nline two\n', '😀'];
    const { writer, buffer } = collectPcapng();
    writer.addInterface('x');
    comments.forEach((c, i) => writer.writePacket(0, i, Uint8Array.of(i), c));
    writer.writePacket(0, 99, Uint8Array.of(1));
    const r = readPcapng(buffer.toBytes());
    expect(r.packets.map((p) => p.comment)).toEqual([...comments, undefined]);
  });

  it('reads timestamps up to 2^53 - 1 microseconds exactly', () => {
    const stamps = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER];
    const { writer, buffer } = collectPcapng();
    writer.addInterface('x');
    for (const ts of stamps) writer.writePacket(0, ts, Uint8Array.of(0x45));
    expect(readPcapng(buffer.toBytes()).packets.map((p) => p.timestampUs)).toEqual(stamps);
  });
});

describe('readPcapng truncated files', () => {
  it('returns every complete block for a cut at any byte, and reports the cut block', () => {
    const { bytes, written, boundaries } = sampleCapture(2, 25);
    const key = (p: { interfaceId: number; timestampUs: number; data: Uint8Array; comment?: string | undefined }): string =>
      `${p.interfaceId}/${p.timestampUs}/${Buffer.from(p.data).toString('hex')}/${p.comment}`;
    const writtenKeys = written.map(key);
    const failures: string[] = [];
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = readPcapng(bytes.subarray(0, cut));
      const complete = boundaries.filter((b) => b <= cut);
      const lastComplete = complete[complete.length - 1] ?? 0;
      const expected = {
        completeLength: lastComplete,
        interfaces: boundaries.slice(1, 6).filter((b) => b <= cut).length,
        packets: writtenKeys.slice(0, Math.max(0, complete.length - 6)).join(','),
        truncated: cut === lastComplete ? undefined : {
          offset: lastComplete,
          available: cut - lastComplete,
          ...(cut - lastComplete >= 8 ? { declaredLength: boundaries.find((b) => b > cut)! - lastComplete } : {}),
        },
      };
      const actual = {
        completeLength: r.completeLength,
        interfaces: r.interfaces.length,
        packets: r.packets.map(key).join(','),
        truncated: r.truncated,
      };
      if (JSON.stringify(actual) !== JSON.stringify(expected)) failures.push(`cut ${cut}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
    }
    expect(bytes.length).toBeGreaterThan(3000);
    expect(failures.slice(0, 5)).toEqual([]);
  });

  it('reads a buffer that is a view into a larger one without reading past it', () => {
    const { bytes, written } = sampleCapture(3, 10);
    const big = new Uint8Array(bytes.length + 64).fill(0xee);
    big.set(bytes, 32);
    const r = readPcapng(big.subarray(32, 32 + bytes.length - 3));
    expect(r.truncated?.available).toBeGreaterThan(0);
    expectPackets(r.packets, written.slice(0, 9));
  });
});

describe('readPcapng structure', () => {
  function le32(n: number): number[] {
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
  }

  it('skips blocks of unknown type by their length', () => {
    const { writer, buffer } = collectPcapng();
    writer.addInterface('x');
    writer.writePacket(0, 1, Uint8Array.of(1));
    const custom = Uint8Array.from([...le32(0x40000bad), ...le32(20), 1, 2, 3, 4, 5, 6, 7, 8, ...le32(20)]);
    buffer.sink(custom);
    writer.writePacket(0, 2, Uint8Array.of(2));
    const r = readPcapng(buffer.toBytes());
    expect(r.skippedBlocks).toBe(1);
    expect(r.packets.map((p) => p.data[0])).toEqual([1, 2]);
  });

  it('reads a big-endian section and a second section with its own interface ids', () => {
    const be32 = (n: number): number[] => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
    const bigEndian = Uint8Array.from([
      ...be32(0x0a0d0d0a), ...be32(28), ...be32(0x1a2b3c4d), 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...be32(28),
      ...be32(1), ...be32(32), 0, 101, 0, 0, ...be32(0), 0, 2, 0, 1, 0x6b, 0, 0, 0, 0, 0, 0, 0, ...be32(32), // if_name "k"
      ...be32(6), ...be32(36), ...be32(0), ...be32(1), ...be32(7), ...be32(3), ...be32(3), 0x45, 0x46, 0x47, 0, ...be32(36),
    ]);
    const { writer, buffer } = collectPcapng();
    writer.addInterface('a');
    writer.addInterface('b');
    writer.writePacket(1, 5, Uint8Array.of(9));
    const file = new Uint8Array(buffer.byteLength + bigEndian.length);
    file.set(buffer.toBytes());
    file.set(bigEndian, buffer.byteLength);
    const r = readPcapng(file);
    expect(r.sections.map((s) => s.littleEndian)).toEqual([true, false]);
    expect(r.interfaces.map((i) => [i.section, i.interfaceId, i.name])).toEqual([[0, 0, 'a'], [0, 1, 'b'], [1, 0, 'k']]);
    expect(r.packets.map((p) => [p.section, p.interfaceId, p.timestampUs, Array.from(p.data)])).toEqual([
      [0, 1, 5, [9]],
      [1, 0, 2 ** 32 + 7, [0x45, 0x46, 0x47]],
    ]);
  });

  it('converts other if_tsresol values to microseconds', () => {
    const { writer, buffer } = collectPcapng();
    writer.addInterface('x');
    writer.writePacket(0, 123_456_789, Uint8Array.of(1));
    const bytes = buffer.toBytes();
    const tsresolAt = 40 + 16 + 4 + 4 + 4; // SHB, IDB fixed part, if_name "x" (4 + 4), if_tsresol header
    expect(bytes[tsresolAt]).toBe(6);
    bytes[tsresolAt] = 9; // nanoseconds: 123456789 ns = 123456 us
    expect(readPcapng(bytes).packets[0]!.timestampUs).toBe(123_456);
    bytes[tsresolAt] = 3; // milliseconds
    expect(readPcapng(bytes).packets[0]!.timestampUs).toBe(123_456_789_000);
    bytes[tsresolAt] = 0x80 | 10; // 2^-10 s
    expect(readPcapng(bytes).packets[0]!.timestampUs).toBe(Math.floor((123_456_789 * 1e6) / 1024));
  });

  function expectMalformed(bytes: Uint8Array, message: RegExp): void {
    try {
      readPcapng(bytes);
    } catch (err) {
      expect(err).toBeInstanceOf(PcapngError);
      expect((err as PcapngError).code).toBe('PCAPNG_MALFORMED');
      expect((err as Error).message).toMatch(message);
      return;
    }
    throw new Error('expected PCAPNG_MALFORMED');
  }

  it('throws PCAPNG_MALFORMED for corrupt complete blocks', () => {
    const { writer, buffer } = collectPcapng();
    writer.addInterface('x');
    writer.writePacket(0, 1, Uint8Array.of(1, 2, 3));
    const good = buffer.toBytes();
    expect(readPcapng(good).packets).toHaveLength(1);

    const badTrailer = good.slice();
    badTrailer[good.length - 4] ^= 4;
    expectMalformed(badTrailer, /trailing block total length/);

    const notShb = good.slice(40);
    expectMalformed(notShb, /does not begin with a Section Header Block/);

    const badMagic = good.slice();
    badMagic[8] = 0;
    expectMalformed(badMagic, /byte-order magic/);

    const epbAt = good.length - 36; // EPB: 28 + 4 (data) + 4
    const unknownInterface = good.slice();
    unknownInterface[epbAt + 8] = 3; // Interface ID
    expectMalformed(unknownInterface, /packet on interface 3/);

    const hugeCaplen = good.slice();
    hugeCaplen[epbAt + 20] = 200;
    expectMalformed(hugeCaplen, /captured length 200/);

    const oddLength = good.slice();
    new DataView(oddLength.buffer).setUint32(epbAt + 4, 30, true);
    expectMalformed(oddLength, /not a multiple of 4/);

    const optionOverrun = good.slice();
    new DataView(optionOverrun.buffer).setUint16(40 + 16 + 2, 200, true); // if_name length
    expectMalformed(optionOverrun, /runs past the end of the block/);
  });

  it('reports an empty buffer and a lone partial header as truncation, not an error', () => {
    expect(readPcapng(new Uint8Array(0))).toMatchObject({ packets: [], completeLength: 0 });
    expect(readPcapng(new Uint8Array(0)).truncated).toBeUndefined();
    expect(readPcapng(Uint8Array.of(0x0a, 0x0d, 0x0d)).truncated).toEqual({ offset: 0, available: 3 });
  });
});
