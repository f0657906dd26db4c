import { describe, expect, it } from 'vitest';
import { CHECK_BYTES, decodeEntry, encodeEntry, entryBytes, frameLength, MAX_STATE_ENTRIES, type LogEntry } from '../../src/replica/log.js';
import { Prng } from '../../src/tcp/prng.js';
import { crc32 } from '../../src/wire/crc32.js';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const samples: LogEntry[] = [
  { kind: 'tick', index: 1, epoch: 1, timeUs: 1_000_000, checks: [] },
  { kind: 'packet', index: 2, epoch: 1, timeUs: 2 ** 40 + 5, packet: Uint8Array.from([0x45, 0, 0, 20]), checks: [{ socket: 3, sndUna: 1, sndNxt: 2, rcvNxt: 0xffffffff, sndWnd: 65535, rcvWnd: 1024 }] },
  { kind: 'app', index: 3, epoch: 2, timeUs: 7, socket: 4, op: 'write', data: new TextEncoder().encode('INCR\n'), checks: [], digest: 0xdeadbeef },
  { kind: 'app', index: 4, epoch: 2, timeUs: 8, socket: 4, op: 'read', amount: 100, checks: [] },
  { kind: 'app', index: 5, epoch: 2, timeUs: 9, socket: 4, op: 'close', checks: [] },
  { kind: 'epoch', index: 2 ** 33, epoch: 2, timeUs: 10, newEpoch: 3, members: ['replica-a', 'replica-b'], checks: [] },
];

describe('log entry codec', () => {
  it('encodes a tick entry to golden bytes', () => {
    const frame = encodeEntry(samples[0]!);
    const body = '01020000' + '00000023' + '0000000000000001' + '00000001' + '00000000000f4240' + '0000' + '00';
    const crc = crc32(Buffer.from(body, 'hex')).toString(16).padStart(8, '0');
    expect(toHex(frame)).toBe(body + crc);
    expect(frameLength(frame)).toBe(frame.length);
  });

  it.each(samples.map((s) => [s.kind, s] as const))('round-trips a %s entry', (_kind, entry) => {
    const r = decodeEntry(encodeEntry(entry));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.entry).toEqual(entry);
  });

  it('decodes only the first frame of a longer buffer', () => {
    const a = encodeEntry(samples[0]!);
    const b = encodeEntry(samples[2]!);
    const both = new Uint8Array(a.length + b.length);
    both.set(a);
    both.set(b, a.length);
    const r = decodeEntry(both);
    expect(r.ok && r.bytes).toBe(a.length);
  });

  it('rejects truncation, bad version, bad kind, oversize and bad CRC', () => {
    const f = encodeEntry(samples[1]!);
    expect(decodeEntry(f.subarray(0, f.length - 1))).toEqual({ ok: false, reason: 'log-truncated' });
    const v = f.slice();
    v[0] = 9;
    expect(decodeEntry(v)).toEqual({ ok: false, reason: 'log-bad-version' });
    const k = f.slice();
    k[1] = 9;
    expect(decodeEntry(k)).toEqual({ ok: false, reason: 'log-bad-crc' });
    const big = f.slice();
    big[4] = 0x7f;
    expect(decodeEntry(big)).toEqual({ ok: false, reason: 'log-oversized' });
    const flipped = f.slice();
    flipped[30] ^= 0x10;
    expect(decodeEntry(flipped)).toEqual({ ok: false, reason: 'log-bad-crc' });
  });

  it('rejects a CRC-valid frame with a bad kind or inconsistent body', () => {
    const recrc = (b: Uint8Array) => {
      new DataView(b.buffer).setUint32(b.length - 4, crc32(b, 0, b.length - 4));
      return b;
    };
    const k = encodeEntry(samples[0]!).slice();
    k[1] = 9;
    expect(decodeEntry(recrc(k))).toEqual({ ok: false, reason: 'log-bad-kind' });
    const p = encodeEntry(samples[1]!).slice();
    p[31] = 200; // packet length claims more bytes than the frame holds
    expect(decodeEntry(recrc(p))).toEqual({ ok: false, reason: 'log-bad-body' });
  });

  it('never throws on random and mutated frames (seeded)', () => {
    const seed = 424242;
    console.log(`log codec fuzz seed: ${seed}`);
    const rng = new Prng(seed);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const base = encodeEntry(samples[rng.below(samples.length)]!).slice();
      const n = rng.below(4);
      for (let j = 0; j < n; j++) base[rng.below(base.length)] = rng.below(256);
      const cut = rng.chance(0.3) ? base.subarray(0, rng.below(base.length + 1)) : base;
      const r = decodeEntry(cut);
      if (r.ok) {
        accepted++;
        // Whatever is accepted must re-encode to exactly the bytes it came from.
        expect(toHex(encodeEntry(r.entry))).toBe(toHex(cut.subarray(0, r.bytes)));
      }
    }
    expect(accepted).toBeGreaterThan(0);
  });
});

describe('entry sizes and cut-short state checks (64 KB packets in one frame)', () => {
  it('entryBytes gives the encoded size of every kind, with and without a digest', () => {
    for (const e of samples) {
      expect(entryBytes(e)).toBe(encodeEntry(e).length);
      expect(entryBytes(e, e.checks.length + 3)).toBe(encodeEntry(e).length + 3 * CHECK_BYTES);
    }
  });

  it('a list of checks cut short round-trips with checksTruncated', () => {
    const e: LogEntry = { ...samples[1]!, checksTruncated: true } as LogEntry;
    const r = decodeEntry(encodeEntry(e));
    expect(r.ok && r.entry.checksTruncated).toBe(true);
    const plain = decodeEntry(encodeEntry(samples[1]!));
    expect(plain.ok && plain.entry.checksTruncated).toBe(undefined);
  });

  it('a check count over the limit is a bad body, not a long read', () => {
    const frame = encodeEntry(samples[0]!);
    // Tick: the u16 check count sits right after the 28-byte header.
    const view = new DataView(frame.buffer, frame.byteOffset, frame.length);
    view.setUint16(28, MAX_STATE_ENTRIES + 1);
    view.setUint32(frame.length - 4, crc32(frame, 0, frame.length - 4));
    const r = decodeEntry(frame);
    expect(r.ok ? 'ok' : r.reason).toBe('log-bad-body');
  });
});
