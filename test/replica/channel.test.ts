import { describe, expect, it } from 'vitest';
import { decodeArbiter, encodeArbiter, TestAndSetArbiter, type ArbiterMessage } from '../../src/replica/arbiter.js';
import { decodeAppendEntries, decodeChannel, encodeChannel, snapshotMessages, SNAPSHOT_CHUNK_BYTES, type ChannelMessage } from '../../src/replica/channel.js';
import { encodeEntry } from '../../src/replica/log.js';
import { Prng } from '../../src/tcp/prng.js';
import { crc32 } from '../../src/wire/crc32.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const tick = encodeEntry({ kind: 'tick', index: 7, epoch: 2, timeUs: 1000, checks: [] });
const pkt = encodeEntry({ kind: 'packet', index: 8, epoch: 2, timeUs: 1001, packet: Uint8Array.from([0x45, 1, 2, 3]), checks: [{ socket: 2, sndUna: 1, sndNxt: 2, rcvNxt: 3, sndWnd: 4, rcvWnd: 5 }], digest: 0xabcdef01 });

const samples: ChannelMessage[] = [
  { type: 'append', epoch: 2, r: 6, entries: [tick, pkt] },
  { type: 'append', epoch: 1, r: 0, entries: [] },
  { type: 'heartbeat', epoch: 3, r: 2 ** 40, lastIndex: 2 ** 40 + 9 },
  { type: 'ack', epoch: 3, index: 12 },
  { type: 'resend', epoch: 3, from: 13 },
  { type: 'join', epoch: 0, name: 'replica-c' },
  { type: 'snapshot', epoch: 4, index: 99, total: 10, offset: 4, chunk: Uint8Array.from([1, 2, 3]) },
];

describe('log channel codec', () => {
  it('encodes an ack to golden bytes', () => {
    const body = '01030000' + '00000018' + '00000003' + '000000000000000c';
    const crc = crc32(Buffer.from(body, 'hex')).toString(16).padStart(8, '0');
    expect(hex(encodeChannel({ type: 'ack', epoch: 3, index: 12 }))).toBe(body + crc);
  });

  it('encodes a heartbeat to golden bytes', () => {
    const body = '01020000' + '00000020' + '00000001' + '0000000000000005' + '0000000000000009';
    const crc = crc32(Buffer.from(body, 'hex')).toString(16).padStart(8, '0');
    expect(hex(encodeChannel({ type: 'heartbeat', epoch: 1, r: 5, lastIndex: 9 }))).toBe(body + crc);
  });

  it.each(samples.map((m) => [m.type, m] as const))('round-trips %s', (_t, m) => {
    const d = decodeChannel(encodeChannel(m));
    expect(d).toEqual({ ok: true, message: m });
  });

  it('carries whole log entries that decode again', () => {
    const d = decodeChannel(encodeChannel(samples[0]!));
    expect(d.ok).toBe(true);
    if (!d.ok || d.message.type !== 'append') return;
    const { entries, bad } = decodeAppendEntries(d.message.entries);
    expect(bad).toBe(0);
    expect(entries.map((e) => e.index)).toEqual([7, 8]);
    expect(entries[1]!.digest).toBe(0xabcdef01);
  });

  it('rejects truncation, a flipped bit, a bad version, a bad type', () => {
    const f = encodeChannel(samples[0]!);
    expect(decodeChannel(f.subarray(0, f.length - 1))).toEqual({ ok: false, reason: 'channel-truncated' });
    const flipped = f.slice();
    flipped[20] ^= 4;
    expect(decodeChannel(flipped)).toEqual({ ok: false, reason: 'channel-bad-crc' });
    const v = f.slice();
    v[0] = 2;
    expect(decodeChannel(v)).toEqual({ ok: false, reason: 'channel-bad-version' });
    const t = f.slice();
    t[1] = 10;
    new DataView(t.buffer).setUint32(t.length - 4, crc32(t, 0, t.length - 4));
    expect(decodeChannel(t)).toEqual({ ok: false, reason: 'channel-bad-type' });
  });

  it('never throws and never accepts a mutated frame (seeded fuzz)', () => {
    const seed = 777;
    console.log(`channel codec fuzz seed: ${seed}`);
    const rng = new Prng(seed);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const original = encodeChannel(samples[rng.below(samples.length)]!);
      const f = original.slice();
      const flips = 1 + rng.below(3);
      for (let j = 0; j < flips; j++) f[rng.below(f.length)] ^= 1 + rng.below(255);
      const cut = rng.below(4) === 0 ? f.subarray(0, rng.below(f.length + 1)) : f;
      const d = decodeChannel(cut);
      if (d.ok) {
        accepted++;
        // Only possible if the mutations cancelled out: then it must be the original message.
        expect(Buffer.from(cut).equals(Buffer.from(original))).toBe(true);
      }
    }
    expect(accepted).toBeLessThan(100);
  });

  it('splits a snapshot into chunks that cover it exactly', () => {
    const snap = new Uint8Array(SNAPSHOT_CHUNK_BYTES * 2 + 5).map((_, i) => i & 0xff);
    const ms = snapshotMessages(5, 40, snap);
    expect(ms.length).toBe(3);
    const whole = new Uint8Array(snap.length);
    for (const m of ms) {
      const d = decodeChannel(encodeChannel(m));
      expect(d.ok).toBe(true);
      if (d.ok && d.message.type === 'snapshot') whole.set(d.message.chunk, d.message.offset);
    }
    expect(Buffer.from(whole).equals(Buffer.from(snap))).toBe(true);
  });
});

describe('arbiter', () => {
  const msgs: ArbiterMessage[] = [
    { type: 'request', id: 1, epoch: 1, replica: 'a' },
    { type: 'response', id: 9, epoch: 4, replica: 'b', winner: 'a' },
  ];
  it.each(msgs.map((m) => [m.type, m] as const))('round-trips a %s and rejects it corrupted', (_t, m) => {
    const f = encodeArbiter(m);
    expect(decodeArbiter(f)).toEqual(m);
    for (let i = 0; i < f.length; i++) {
      const g = f.slice();
      g[i] ^= 0x20;
      expect(decodeArbiter(g)).toBeUndefined();
    }
    expect(decodeArbiter(f.subarray(0, f.length - 2))).toBeUndefined();
  });

  it('grants each epoch once, to the first asker, and tells everyone who won', () => {
    const arb = new TestAndSetArbiter();
    expect(arb.handle({ type: 'request', id: 1, epoch: 1, replica: 'b' }).winner).toBe('b');
    expect(arb.handle({ type: 'request', id: 2, epoch: 1, replica: 'a' }).winner).toBe('b');
    // Asking again (a lost answer) is safe: the winner learns it won.
    expect(arb.handle({ type: 'request', id: 3, epoch: 1, replica: 'b' }).winner).toBe('b');
    expect(arb.handle({ type: 'request', id: 4, epoch: 2, replica: 'a' }).winner).toBe('a');
    expect(arb.granted()).toEqual([{ epoch: 1, winner: 'b' }, { epoch: 2, winner: 'a' }]);
  });
});
