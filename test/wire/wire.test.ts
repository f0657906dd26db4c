import { describe, expect, it } from 'vitest';
import {
  buildTcpPacket,
  crc32,
  emitIpv4,
  formatFlags,
  formatIpv4Addr,
  internetChecksum,
  optionSummary,
  parseIpv4,
  parseIpv4Addr,
  parseTcp,
  parseTcpPacket,
  seqAdd,
  seqDiff,
  seqGt,
  seqLt,
  TCP_ACK,
  TCP_PSH,
  TCP_SYN,
  type TcpOption,
} from '../../src/wire/index.js';

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A naive reference checksum, written independently of src/wire/checksum.ts. */
function referenceChecksum(words: number[]): number {
  let sum = 0;
  for (const w of words) {
    sum += w;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

describe('addresses', () => {
  it('parses and formats dotted quads', () => {
    expect(parseIpv4Addr('192.0.2.10')).toBe(0xc000020a);
    expect(formatIpv4Addr(0xc000020a)).toBe('192.0.2.10');
    expect(parseIpv4Addr('255.255.255.255')).toBe(0xffffffff);
  });
  it.each(['', '1.2.3', '1.2.3.256', '1.2.3.4.5', 'a.b.c.d', '1..2.3'])('rejects %j', (s) => {
    expect(() => parseIpv4Addr(s)).toThrow(RangeError);
  });
});

describe('checksum and crc32', () => {
  it('matches the classic IPv4 header example (checksum 0xb861)', () => {
    const header = hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
    expect(internetChecksum(header)).toBe(0xb861);
  });
  it('handles odd lengths by padding with zero', () => {
    expect(internetChecksum(hex('0102 03'))).toBe(referenceChecksum([0x0102, 0x0300]));
  });
  it('crc32 matches the zlib check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
  it('crc32 by slices of eight equals the bit-at-a-time definition at every length, offset and seed', () => {
    const bitwise = (b: Uint8Array, start: number, end: number, previous: number): number => {
      let c = ~previous >>> 0;
      for (let i = start; i < end; i++) {
        c ^= b[i]!;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      return ~c >>> 0;
    };
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= bytes.length; end += 7) {
        expect(crc32(bytes, start, end, 0x1234abcd)).toBe(bitwise(bytes, start, end, 0x1234abcd));
      }
    }
    // Chaining: the CRC of a whole equals the CRC of its second part seeded with the first's.
    expect(crc32(bytes, 100, 300, crc32(bytes, 0, 100))).toBe(crc32(bytes));
  });
});

describe('sequence arithmetic', () => {
  it('wraps modulo 2^32', () => {
    expect(seqAdd(0xffffffff, 2)).toBe(1);
    expect(seqDiff(1, 0xffffffff)).toBe(2);
    expect(seqLt(0xfffffff0, 5)).toBe(true);
    expect(seqGt(5, 0xfffffff0)).toBe(true);
    expect(seqLt(5, 5)).toBe(false);
  });
});

describe('IPv4', () => {
  const good = hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7' + '00'.repeat(0x73 - 20));
  it('parses a valid header', () => {
    const r = parseIpv4(good);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.header).toMatchObject({ headerLength: 20, totalLength: 0x73, ttl: 64, protocol: 17, dontFragment: true });
    expect(formatIpv4Addr(r.header.src)).toBe('192.168.0.1');
    expect(formatIpv4Addr(r.header.dst)).toBe('192.168.0.199');
    expect(r.payload.length).toBe(0x73 - 20);
  });
  it('ignores link padding after total length', () => {
    const padded = new Uint8Array(good.length + 6);
    padded.set(good);
    const r = parseIpv4(padded);
    expect(r.ok && r.payload.length).toBe(0x73 - 20);
  });
  const bad = (mutate: (b: Uint8Array) => Uint8Array) => parseIpv4(mutate(good.slice()));
  it('rejects each malformation with its reason', () => {
    expect(bad((b) => b.subarray(0, 19))).toEqual({ ok: false, reason: 'ipv4-truncated' });
    expect(bad((b) => ((b[0] = 0x65), b))).toEqual({ ok: false, reason: 'ipv4-bad-version' });
    expect(bad((b) => ((b[0] = 0x44), b))).toEqual({ ok: false, reason: 'ipv4-bad-ihl' });
    expect(bad((b) => ((b[0] = 0x4f), b.subarray(0, 40)))).toEqual({ ok: false, reason: 'ipv4-bad-ihl' });
    expect(bad((b) => b.subarray(0, 0x72))).toEqual({ ok: false, reason: 'ipv4-bad-total-length' });
    expect(bad((b) => ((b[8] = 63), b))).toEqual({ ok: false, reason: 'ipv4-bad-checksum' });
  });
  it('rejects fragments', () => {
    const frag = emitIpv4({ src: 1, dst: 2, protocol: 6, id: 7 }, new Uint8Array(8));
    frag[6] |= 0x20; // MF
    frag[10] = 0;
    frag[11] = 0;
    const sum = internetChecksum(frag, 0, 20);
    frag[10] = sum >> 8;
    frag[11] = sum & 0xff;
    expect(parseIpv4(frag)).toEqual({ ok: false, reason: 'ipv4-fragment' });
  });
  it('skips IP options', () => {
    // IHL 6: one 4-byte option word (NOP NOP NOP EOL).
    const p = new Uint8Array(28);
    p.set(hex('4600 001c 0001 4000 4006 0000 c000 0201 c000 020a 0101 0100 dead beef'));
    const sum = internetChecksum(p, 0, 24);
    p[10] = sum >> 8;
    p[11] = sum & 0xff;
    const r = parseIpv4(p);
    expect(r.ok && toHex(r.payload)).toBe('deadbeef');
  });
});

describe('TCP', () => {
  const src = parseIpv4Addr('192.0.2.1');
  const dst = parseIpv4Addr('192.0.2.10');
  // A SYN laid out as Linux lays it out: mss, sackOK, TS, nop, wscale.
  const synOptions: TcpOption[] = [
    { kind: 'mss', mss: 1460 },
    { kind: 'sackOk' },
    { kind: 'ts', val: 0x01020304, ecr: 0 },
    { kind: 'nop' },
    { kind: 'wscale', shift: 7 },
  ];
  const synGolden =
    'c350 0050 0000 03e8 0000 0000 a002 faf0 CSUM 0000' +
    '0204 05b4 0402 080a 0102 0304 0000 0000 0103 0307';

  it('emits golden bytes for a Linux-style SYN', () => {
    const pkt = buildTcpPacket({ src, dst, id: 1 }, { srcPort: 50000, dstPort: 80, seq: 1000, ack: 0, flags: TCP_SYN, window: 64240, options: synOptions });
    const tcp = pkt.subarray(20);
    // Checksum by the independent reference: pseudo-header words then the segment with a zero checksum.
    const zeroed = hex(synGolden.replace('CSUM', '0000'));
    const words = [0xc000, 0x0201, 0xc000, 0x020a, 6, zeroed.length];
    for (let i = 0; i < zeroed.length; i += 2) words.push((zeroed[i]! << 8) | zeroed[i + 1]!);
    const csum = referenceChecksum(words).toString(16).padStart(4, '0');
    expect(toHex(tcp)).toBe(synGolden.replace('CSUM', csum).replace(/\s+/g, ''));
    expect(toHex(pkt.subarray(0, 20))).toBe('4500003c000140004006' + toHex(pkt.subarray(10, 12)) + 'c0000201c000020a');
    expect(internetChecksum(pkt, 0, 20)).toBe(0);
  });

  it('round-trips every option kind and payload', () => {
    const options: TcpOption[] = [
      { kind: 'nop' },
      { kind: 'nop' },
      { kind: 'sack', blocks: [{ left: 10, right: 20 }, { left: 0xfffffff0, right: 5 }] },
      { kind: 'unknown', type: 254, data: hex('f989') },
    ];
    const payload = new TextEncoder().encode('hello, world');
    const pkt = buildTcpPacket({ src, dst, id: 9 }, { srcPort: 1, dstPort: 2, seq: 0xfffffffe, ack: 77, flags: TCP_ACK | TCP_PSH, window: 512, options, payload });
    const r = parseTcpPacket(pkt);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.segment.options).toEqual(options);
    expect(new TextDecoder().decode(r.segment.payload)).toBe('hello, world');
    expect(r.segment).toMatchObject({ srcPort: 1, dstPort: 2, seq: 0xfffffffe, ack: 77, flags: TCP_ACK | TCP_PSH, window: 512 });
    expect(formatFlags(r.segment.flags)).toBe('P.');
    expect(optionSummary(r.segment.options).sack).toHaveLength(2);
  });

  it('summarises options, first of each kind wins', () => {
    expect(optionSummary(synOptions)).toEqual({ mss: 1460, sackOk: true, ts: { val: 0x01020304, ecr: 0 }, wscale: 7 });
  });

  const baseSeg = () => buildTcpPacket({ src, dst, id: 1 }, { srcPort: 50000, dstPort: 80, seq: 1000, ack: 0, flags: TCP_SYN, window: 64240, options: synOptions }).subarray(20).slice();
  const reparse = (b: Uint8Array, fixChecksum = true) => {
    if (fixChecksum) {
      b[16] = 0;
      b[17] = 0;
      const words = [0xc000, 0x0201, 0xc000, 0x020a, 6, b.length];
      for (let i = 0; i < b.length; i += 2) words.push((b[i]! << 8) | (b[i + 1] ?? 0));
      const c = referenceChecksum(words);
      b[16] = c >> 8;
      b[17] = c & 0xff;
    }
    return parseTcp(src, dst, b);
  };

  it('rejects truncation, bad data offset, bad checksum', () => {
    expect(parseTcp(src, dst, new Uint8Array(19))).toEqual({ ok: false, reason: 'tcp-truncated' });
    const b1 = baseSeg();
    b1[12] = 0x40;
    expect(reparse(b1)).toEqual({ ok: false, reason: 'tcp-bad-data-offset' });
    const b2 = baseSeg();
    b2[12] = 0xf0; // 60 bytes claimed, 40 present
    expect(reparse(b2)).toEqual({ ok: false, reason: 'tcp-bad-data-offset' });
    const b3 = baseSeg();
    b3[30] ^= 1;
    expect(reparse(b3, false)).toEqual({ ok: false, reason: 'tcp-bad-checksum' });
  });

  it('drops segments with an impossible option length', () => {
    const zeroLen = baseSeg();
    zeroLen[21] = 0; // MSS length 0
    expect(reparse(zeroLen)).toEqual({ ok: false, reason: 'tcp-bad-option' });
    const wrongMss = baseSeg();
    wrongMss[21] = 3;
    expect(reparse(wrongMss)).toEqual({ ok: false, reason: 'tcp-bad-option' });
    const past = baseSeg();
    past[38] = 9; // wscale (kind at 37) claims 9 bytes, 3 remain
    expect(reparse(past)).toEqual({ ok: false, reason: 'tcp-bad-option' });
  });

  it('skips unknown options by their length and stops at EOL', () => {
    const b = baseSeg();
    b.set(hex('fe04 aabb 00'), 20);
    const r = reparse(b);
    expect(r.ok && r.segment.options).toEqual([{ kind: 'unknown', type: 254, data: hex('aabb') }, { kind: 'eol' }]);
  });
});
