// The cluster key, in-process (the AES-256-GCM envelope of cluster-auth.ts, byte for byte)
// and over real sockets on 127.0.0.1: the log channel and the embedded arbiter take frames
// only from a peer that proved it holds the same key; a peer with no key, a wrong one or an
// older envelope version, a replayed, removed or tampered frame (by a relay in the middle)
// is refused, counted, reported in one line, and never handed on. No inner byte crosses
// the wire in clear.
import * as net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ArbiterClient } from '../../src/net/arbiter-client.js';
import { ArbiterServer, type ArbiterServerEvent } from '../../src/net/arbiter-server.js';
import { createDecipheriv, createHmac } from 'node:crypto';
import { AUTH_OVERHEAD_BYTES, AUTH_VERSION, AuthSession, envelopeReaderOptions, type AuthStep } from '../../src/net/cluster-auth.js';
import { ClusterKey, ClusterKeyError, loadClusterKey } from '../../src/net/cluster-key.js';
import { LogChannel, type LogChannelStatus } from '../../src/net/log-channel.js';
import { FrameReader } from '../../src/net/frames.js';
import { ARBITER_FRAME_MAX_BYTES, ARBITER_FRAME_MIN_BYTES } from '../../src/net/arbiter-wire.js';
import { CHANNEL_FRAME_MAX_BYTES, decodeChannel, encodeChannel } from '../../src/replica/channel.js';
import { envelopeType, mitm, type Mitm } from '../lab/auth-relay.js';
import { sleep, until } from '../helpers/net.js';

const KEY = ClusterKey.fromText('0123456789abcdef-the-right-key', 'test');
const WRONG = ClusterKey.fromText('0123456789abcdef-another-key!!', 'test');
const LOCAL = { host: '127.0.0.1', port: 0 };
const dir = mkdtempSync(join(tmpdir(), 'ftcp-auth-'));
const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hb = (i: number) => encodeChannel({ type: 'heartbeat', epoch: 1, r: i, lastIndex: i });
const hbId = (f: Uint8Array) => {
  const d = decodeChannel(f);
  return d.ok && d.message.type === 'heartbeat' ? d.message.r : -1;
};

async function listener(key: ClusterKey | undefined, extra: Parameters<typeof LogChannel.listen>[1] = {}) {
  const ch = await LogChannel.listen(LOCAL, { clusterKey: key, ...extra });
  closers.push(() => ch.close());
  const got: number[] = [];
  const statuses: LogChannelStatus[] = [];
  ch.onFrame((f) => got.push(hbId(f)));
  ch.onStatus((s) => statuses.push(s));
  return { ch, got, statuses };
}

function dialer(port: number, key: ClusterKey | undefined) {
  const ch = LogChannel.dial({ host: '127.0.0.1', port }, { clusterKey: key, reconnectDelayMs: 20, reconnectMaxMs: 100 });
  closers.push(() => ch.close());
  const statuses: LogChannelStatus[] = [];
  ch.onStatus((s) => statuses.push(s));
  return { ch, statuses };
}

async function relay(port: number): Promise<Mitm> {
  const m = await mitm({ host: '127.0.0.1', port });
  closers.push(() => m.close());
  return m;
}

const refusedLine = (statuses: LogChannelStatus[]) => statuses.find((s): s is Extract<LogChannelStatus, { type: 'refused' }> => s.type === 'refused')?.message;

describe('cluster key', () => {
  it('is read from the flag, FTCP_CLUSTER_KEY_FILE or FTCP_CLUSTER_KEY, and never shows itself', () => {
    const file = join(dir, 'k1');
    writeFileSync(file, 'secret-from-a-file-0123456789\n');
    const a = loadClusterKey(file, {});
    const b = loadClusterKey(undefined, { FTCP_CLUSTER_KEY_FILE: file, FTCP_CLUSTER_KEY: 'ignored-when-a-file-is-set' });
    const c = loadClusterKey(undefined, { FTCP_CLUSTER_KEY: 'secret-from-a-file-0123456789' });
    expect(a!.id).toBe(b!.id);
    expect(a!.id).toBe(c!.id); // the trailing newline is not part of the key
    expect(loadClusterKey(undefined, {})).toBeUndefined();
    for (const shown of [String(a), JSON.stringify({ a }), JSON.stringify(a)]) expect(shown).not.toContain('secret');
    expect(() => loadClusterKey(undefined, { FTCP_CLUSTER_KEY: 'short' })).toThrow(ClusterKeyError);
    expect(() => loadClusterKey(undefined, { FTCP_CLUSTER_KEY: 'short' })).toThrow(/is 5 bytes; use at least 16/);
    expect(() => loadClusterKey(join(dir, 'missing'), {})).toThrow(/cannot read the cluster key file .*no such file/);
    try {
      loadClusterKey(undefined, { FTCP_CLUSTER_KEY: 'tiny-secret' });
    } catch (error) {
      expect(String(error)).not.toContain('tiny-secret');
    }
  });

  it('a handshake between two sessions with the same key carries frames; one with another key fails on both sides', () => {
    const pair = (k1: ClusterKey, k2: ClusterKey) => {
      const d = new AuthSession(k1, 'dialer');
      const l = new AuthSession(k2, 'listener');
      const dp = d.receive(l.hello);
      const lp = l.receive(d.hello);
      if (dp.type !== 'send' || lp.type !== 'send') throw new Error('no proof');
      return { d, l, atD: d.receive(lp.bytes), atL: l.receive(dp.bytes) };
    };
    const ok = pair(KEY, KEY);
    expect([ok.atD.type, ok.atL.type]).toEqual(['ready', 'ready']);
    const sealed = ok.d.seal(hb(7));
    expect(ok.l.receive(sealed)).toEqual({ type: 'frame', inner: hb(7) });
    // Sent back to its sender (reflection): the role is in the key.
    expect(ok.d.receive(sealed)).toMatchObject({ type: 'refused', reason: 'bad-mac' });
    const bad = pair(KEY, WRONG);
    expect([bad.atD, bad.atL]).toEqual([
      { type: 'refused', reason: 'bad-key' },
      { type: 'refused', reason: 'bad-key' },
    ]);
  });
});

describe('every single-bit flip is refused', () => {
  const ready = () => {
    const d = new AuthSession(KEY, 'dialer');
    const l = new AuthSession(KEY, 'listener');
    const dp = d.receive(l.hello);
    const lp = l.receive(d.hello);
    if (dp.type !== 'send' || lp.type !== 'send') throw new Error('no proof');
    return { d, l, dProof: dp.bytes, lProof: lp.bytes };
  };

  it('of a sealed data frame, at every bit position: never handed on', () => {
    const frame = { length: AUTH_OVERHEAD_BYTES + hb(42).length };
    const outcomes = new Map<string, number>();
    for (let bit = 0; bit < frame.length * 8; bit++) {
      const { d, l, dProof, lProof } = ready();
      d.receive(lProof);
      l.receive(dProof);
      const sealed = d.seal(hb(42));
      sealed[bit >> 3]! ^= 1 << (bit & 7);
      const step = l.receive(sealed);
      const key = step.type === 'refused' ? step.reason : step.type;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    console.log(`${frame.length * 8} single-bit flips of a ${frame.length}-byte sealed frame: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    expect(outcomes.get('frame')).toBeUndefined();
    expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBe(frame.length * 8);
  });

  it('of a proof, at every bit position: the handshake fails', () => {
    const { dProof } = ready();
    for (let bit = 0; bit < dProof.length * 8; bit++) {
      const { l, dProof: proof } = ready();
      proof[bit >> 3]! ^= 1 << (bit & 7);
      expect(l.receive(proof).type, `bit ${bit}`).toBe('refused');
      expect(l.ready).toBe(false);
    }
  });
});

/** A dialer and a listener after the handshake (optionally with fixed nonces, to compute S by hand). */
function readyPair(dialerKey = KEY, listenerKey = KEY, nonces?: { d: Uint8Array; l: Uint8Array }) {
  const d = new AuthSession(dialerKey, 'dialer', nonces?.d);
  const l = new AuthSession(listenerKey, 'listener', nonces?.l);
  const dp = d.receive(l.hello);
  const lp = l.receive(d.hello);
  if (dp.type !== 'send' || lp.type !== 'send') throw new Error('no proof');
  const atD = d.receive(lp.bytes);
  const atL = l.receive(dp.bytes);
  if (atD.type !== 'ready' || atL.type !== 'ready') throw new Error(`not ready: ${JSON.stringify([atD, atL])}`);
  return { d, l };
}

const step = (s: AuthStep) => (s.type === 'refused' ? s.reason : s.type);
const hmac = (key: Uint8Array, text: string) => createHmac('sha256', key).update(text).digest();
/** A recognizable inner frame: "FTCP-SECRET-" repeated, `bytes` long. */
const pattern = (bytes: number) => Uint8Array.from(Buffer.alloc(bytes, 'FTCP-SECRET-'));

describe('the AES-256-GCM envelope (in-process)', () => {
  it('is laid out as the header comment says: decrypting it by hand with the documented keys and nonce gives the inner frame', () => {
    const nonces = { d: new Uint8Array(16).fill(0xd1), l: new Uint8Array(16).fill(0x1e) };
    const { d, l } = readyPair(KEY, KEY, nonces);
    const S = KEY.mac(Buffer.from('ftcp session v2'), nonces.d, nonces.l);
    for (const [sender, direction] of [[d, 1], [l, 2]] as const) {
      const inner = pattern(100);
      sender.seal(hb(1)); // counter 1; the one under test is 2
      const env = sender.seal(inner);
      expect(env.length).toBe(inner.length + AUTH_OVERHEAD_BYTES);
      expect(AUTH_OVERHEAD_BYTES).toBe(8 + 8 + 16);
      expect([...env.subarray(0, 4)]).toEqual([0xfa, 2, 3, 0]);
      const view = new DataView(env.buffer);
      expect(view.getUint32(4)).toBe(env.length);
      expect(view.getUint32(8) * 2 ** 32 + view.getUint32(12)).toBe(2);
      const nonce = Buffer.concat([Uint8Array.of(0, 0, 0, direction), env.subarray(8, 16)]);
      const decipher = createDecipheriv('aes-256-gcm', hmac(S, `ftcp v2 aead ${sender.role}`), nonce, { authTagLength: 16 });
      decipher.setAAD(env.subarray(0, 16));
      decipher.setAuthTag(env.subarray(env.length - 16));
      const plain = Buffer.concat([decipher.update(env.subarray(16, env.length - 16)), decipher.final()]);
      expect(Uint8Array.from(plain)).toEqual(inner);
    }
  });

  it('carries no inner byte in clear: a recognizable pattern is nowhere in the envelope, and equal frames seal differently', () => {
    const { d, l } = readyPair();
    const inner = pattern(4096);
    const needle = Buffer.from('FTCP-SECRET-');
    expect(Buffer.from(inner).indexOf(needle)).toBe(0); // the search finds it where it is in clear
    const a = Buffer.from(d.seal(inner));
    const b = Buffer.from(d.seal(inner));
    for (const env of [a, b]) {
      expect(env.indexOf(needle)).toBe(-1);
      // No 8-byte window of the pattern, at any of its 12 phases, survives.
      for (let phase = 0; phase < 12; phase++) expect(env.indexOf(Buffer.from(inner.subarray(phase, phase + 8)))).toBe(-1);
    }
    expect(a.subarray(16).equals(b.subarray(16))).toBe(false);
    // All zeros in, no run of zeros out (a keystream, not a copy).
    const zeros = Buffer.from(d.seal(new Uint8Array(4096)));
    expect(zeros.subarray(16, zeros.length - 16).indexOf(Buffer.alloc(8))).toBe(-1);
    expect(l.receive(a)).toEqual({ type: 'frame', inner });
    expect(l.receive(b)).toEqual({ type: 'frame', inner });
  });

  it('a flipped bit in the header, the counter, the ciphertext or the tag is refused, by region', () => {
    const inner = pattern(40);
    const length = inner.length + AUTH_OVERHEAD_BYTES;
    const byRegion = new Map<string, Set<string>>();
    for (let bit = 0; bit < length * 8; bit++) {
      const { d, l } = readyPair();
      const env = d.seal(inner);
      env[bit >> 3]! ^= 1 << (bit & 7);
      const at = bit >> 3;
      const region = at < 8 ? 'header' : at < 16 ? 'counter' : at < length - 16 ? 'ciphertext' : 'tag';
      const got = step(l.receive(env));
      if (!byRegion.has(region)) byRegion.set(region, new Set());
      byRegion.get(region)!.add(got);
    }
    expect(Object.fromEntries([...byRegion].map(([k, v]) => [k, [...v].sort()]))).toEqual({
      header: ['bad-handshake'],
      counter: ['bad-mac'],
      ciphertext: ['bad-mac'],
      tag: ['bad-mac'],
    });
  });

  it('a replayed, reordered or dropped frame is refused, in both directions', () => {
    for (const dir of ['dialer', 'listener'] as const) {
      const cases: Array<[string, number[], string[]]> = [
        ['in order', [0, 1, 2], ['frame', 'frame', 'frame']],
        ['replayed', [0, 1, 1], ['frame', 'frame', 'replay']],
        ['replayed first', [0, 0], ['frame', 'replay']],
        ['reordered', [0, 2, 1], ['frame', 'counter-gap', 'bad-handshake']],
        ['second first', [1, 0], ['counter-gap', 'bad-handshake']],
        ['dropped', [0, 2], ['frame', 'counter-gap']],
      ];
      for (const [name, order, want] of cases) {
        const { d, l } = readyPair();
        const [from, to] = dir === 'dialer' ? [d, l] : [l, d];
        const sealed = [0, 1, 2].map((i) => from.seal(hb(i)));
        expect(order.map((i) => step(to.receive(sealed[i]!))), `${dir}: ${name}`).toEqual(want);
      }
    }
  });

  it('both directions at once, interleaved; a frame sent back to its sender is refused', () => {
    const { d, l } = readyPair();
    for (let i = 1; i <= 50; i++) {
      expect(l.receive(d.seal(hb(i)))).toEqual({ type: 'frame', inner: hb(i) });
      expect(d.receive(l.seal(hb(1000 + i)))).toEqual({ type: 'frame', inner: hb(1000 + i) });
    }
    const fromL = l.seal(hb(7));
    expect(step(l.receive(fromL))).toBe('bad-mac');
    expect(d.receive(fromL)).toEqual({ type: 'frame', inner: hb(7) }); // its rightful receiver takes it
  });

  it('a wrong key is refused: at the proof, and a frame of a session under another key (same nonces) fails its tag', () => {
    const nonces = { d: new Uint8Array(16).fill(7), l: new Uint8Array(16).fill(9) };
    const d = new AuthSession(KEY, 'dialer', nonces.d);
    const l = new AuthSession(WRONG, 'listener', nonces.l);
    const dp = d.receive(l.hello);
    const lp = l.receive(d.hello);
    if (dp.type !== 'send' || lp.type !== 'send') throw new Error('no proof');
    expect([step(d.receive(lp.bytes)), step(l.receive(dp.bytes))]).toEqual(['bad-key', 'bad-key']);
    const mine = readyPair(KEY, KEY, nonces);
    const theirs = readyPair(WRONG, WRONG, nonces);
    expect(step(mine.l.receive(theirs.d.seal(hb(1))))).toBe('bad-mac');
    expect(() => d.seal(hb(1))).toThrow(/before the handshake finished/);
  });

  it('frames of 0 bytes and of the largest size the log channel and the arbiter allow pass through the framing; one byte more is cut off', () => {
    for (const inner of [{ lengthOffset: 4, minBytes: 16, maxBytes: CHANNEL_FRAME_MAX_BYTES }, { lengthOffset: 0, minBytes: ARBITER_FRAME_MIN_BYTES, maxBytes: ARBITER_FRAME_MAX_BYTES }]) {
      const { d, l } = readyPair();
      const reader = new FrameReader(envelopeReaderOptions(inner));
      const sizes = [0, 1, inner.maxBytes];
      const frames = sizes.map((n) => pattern(n));
      const got = reader.push(Buffer.concat(frames.map((f) => d.seal(f))));
      expect(got.error).toBeUndefined();
      expect(got.frames.map((f) => f.length)).toEqual(sizes.map((n) => n + AUTH_OVERHEAD_BYTES));
      expect(got.frames.map((f) => l.receive(f))).toEqual(frames.map((f) => ({ type: 'frame', inner: f })));
      expect(new FrameReader(envelopeReaderOptions(inner)).push(d.seal(pattern(inner.maxBytes + 1))).error).toBe('frame-too-long');
    }
  });

  it('a peer speaking the older envelope version (1, not encrypted) is refused as such; a later version byte change is damage', () => {
    const l = new AuthSession(KEY, 'listener');
    const oldHello = Uint8Array.of(0xfa, 1, 1, 0, 0, 0, 0, 24, ...new Uint8Array(16).fill(3));
    expect(l.receive(oldHello)).toEqual({ type: 'refused', reason: 'wrong-version', detail: 'the peer speaks version 1, an older ftcp (authenticated, not encrypted)' });
    const { d, l: l2 } = readyPair();
    const env = d.seal(hb(1));
    env[1] = 1;
    expect(step(l2.receive(env))).toBe('bad-handshake');
  });
});

describe('log channel with a cluster key (real sockets)', () => {
  it('the right key: frames flow both ways, nothing refused', async () => {
    const l = await listener(KEY);
    const d = dialer(l.ch.endpoint.port, KEY);
    await d.ch.whenConnected(3000);
    await until(() => l.ch.connected, 3000, 'the listener side');
    const back: number[] = [];
    d.ch.onFrame((f) => back.push(hbId(f)));
    for (let i = 1; i <= 200; i++) d.ch.send(hb(i));
    l.ch.send(hb(1000));
    await until(() => l.got.length === 200 && back.length === 1, 5000, 'frames');
    expect(l.got).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(back).toEqual([1000]);
    expect(Object.values(l.ch.stats.refused).every((n) => n === 0)).toBe(true);
    expect(d.ch.authenticated).toBe(true);
  });

  it('a dialer with no key is refused with one log line; its frames are never taken and the backup keeps its connection', async () => {
    const l = await listener(KEY);
    const good = dialer(l.ch.endpoint.port, KEY);
    await good.ch.whenConnected(3000);
    await until(() => l.ch.stats.connects === 1, 3000, 'the backup');
    // A keyless ftcp process: it sees the listener's handshake and says what it lacks.
    const intruder = dialer(l.ch.endpoint.port, undefined);
    await until(() => intruder.ch.stats.refused['peer-has-key'] >= 1, 3000, 'the intruder\'s refusal');
    expect(refusedLine(intruder.statuses)).toMatch(/^log channel: refused 127\.0\.0\.1:\d+: the peer uses a cluster key and this process has none \(set FTCP_CLUSTER_KEY or --cluster-key-file\)$/);
    expect(intruder.ch.send(hb(666))).toBe(false);
    // A raw socket writing bare channel frames: refused with one line, none taken.
    const raw = net.connect(l.ch.endpoint.port, '127.0.0.1');
    closers.push(() => raw.destroy());
    raw.on('error', () => {});
    raw.write(Buffer.concat([hb(667), hb(668)]));
    await until(() => l.ch.stats.refused['no-key'] === 1, 3000, 'the refusal');
    expect(refusedLine(l.statuses)).toMatch(/^log channel: refused 127\.0\.0\.1:\d+: no cluster key \(the peer sent unauthenticated frames\)$/);
    // The real backup was never pushed off.
    expect(l.ch.stats.replaced).toBe(0);
    good.ch.send(hb(5));
    await until(() => l.got.length === 1, 3000, 'the backup\'s frame');
    expect(l.got).toEqual([5]);
  });

  it('a dialer with a wrong key is refused on both sides ("bad cluster key (MAC mismatch)") and keeps failing', async () => {
    const l = await listener(KEY);
    const d = dialer(l.ch.endpoint.port, WRONG);
    await expect(d.ch.whenConnected(1500)).rejects.toThrow(/^log channel: refused 127\.0\.0\.1:\d+: bad cluster key \(MAC mismatch\)$/);
    await until(() => l.ch.stats.refused['bad-key'] >= 1, 3000, 'the listener\'s refusal');
    expect(refusedLine(l.statuses)).toMatch(/^log channel: refused 127\.0\.0\.1:\d+: bad cluster key \(MAC mismatch\)$/);
    expect(d.ch.stats.refused['bad-key']).toBeGreaterThanOrEqual(1);
    expect(d.ch.stats.connectFailures).toBeGreaterThanOrEqual(1);
    expect(l.ch.stats.connects).toBe(0);
    expect(l.got).toEqual([]);
  });

  it('a listener with no key refuses a dialer that has one, and says which side lacks it', async () => {
    const l = await listener(undefined);
    const d = dialer(l.ch.endpoint.port, KEY);
    await until(() => l.ch.stats.refused['peer-has-key'] >= 1, 3000, 'the refusal');
    expect(refusedLine(l.statuses)).toMatch(/refused 127\.0\.0\.1:\d+: the peer uses a cluster key and this process has none/);
    await expect(d.ch.whenConnected(300)).rejects.toThrow(/closed the connection during the cluster-key handshake|no cluster key/);
    expect(l.got).toEqual([]);
  });

  it('a frame replayed in the same connection is refused; the dialer reconnects and a frame from the old connection is refused too', async () => {
    const l = await listener(KEY);
    const m = await relay(l.ch.endpoint.port);
    const d = dialer(m.port, KEY);
    await d.ch.whenConnected(3000);
    for (let i = 1; i <= 3; i++) d.ch.send(hb(i));
    await until(() => l.got.length === 3, 3000, 'three frames');
    const data = m.frames[0]!.filter((f) => envelopeType(f) === 3);
    expect(data.length).toBe(3);
    // Replay frame 2 (captured, re-sent as it was): refused, connection closed, nothing taken.
    m.inject(data[1]!);
    await until(() => l.ch.stats.refused.replay === 1, 3000, 'the replay refusal');
    expect(refusedLine(l.statuses)).toMatch(/^log channel: refused 127\.0\.0\.1:\d+: replayed frame \(its counter does not increase\): counter 2 after 3$/);
    expect(l.got).toEqual([1, 2, 3]);
    // The dialer comes back on a new connection (new nonces): frames flow again.
    await until(() => d.ch.stats.connects === 2 && l.ch.connected, 5000, 'the reconnection');
    d.ch.send(hb(4));
    await until(() => l.got.length === 4, 3000, 'frame 4');
    // A frame of the first connection, injected into the second: another session's MAC.
    m.inject(data[0]!);
    await until(() => l.ch.stats.refused['bad-mac'] === 1, 3000, 'the cross-session refusal');
    expect(l.got).toEqual([1, 2, 3, 4]);
  });

  it('a frame with one bit flipped, or one removed from the stream, is refused and never taken', async () => {
    const l = await listener(KEY);
    const m = await relay(l.ch.endpoint.port);
    const d = dialer(m.port, KEY);
    await d.ch.whenConnected(3000);
    let dataSeen = 0;
    // Flip one bit in the body of the 3rd data frame (a heartbeat's r).
    m.rewrite = (f) => {
      if (envelopeType(f) !== 3 || ++dataSeen !== 3) return f;
      const g = Uint8Array.from(f);
      g[16 + 19]! ^= 0x01;
      return g;
    };
    for (let i = 1; i <= 5; i++) d.ch.send(hb(i));
    await until(() => l.ch.stats.refused['bad-mac'] === 1, 3000, 'the tamper refusal');
    expect(refusedLine(l.statuses)).toMatch(/^log channel: refused 127\.0\.0\.1:\d+: bad frame MAC \(tampered with, or from another connection\)$/);
    expect(l.got).toEqual([1, 2]);
    // Next connection: the relay drops the 2nd data frame.
    await until(() => d.ch.stats.connects === 2 && l.ch.connected, 5000, 'the reconnection');
    dataSeen = 0;
    m.rewrite = (f) => (envelopeType(f) === 3 && ++dataSeen === 2 ? undefined : f);
    for (let i = 10; i <= 12; i++) d.ch.send(hb(i));
    await until(() => l.ch.stats.refused['counter-gap'] === 1, 3000, 'the gap refusal');
    expect(l.got).toEqual([1, 2, 10]);
  });

  it('a peer speaking the older envelope version is refused with one line that says so', async () => {
    const l = await listener(KEY);
    const old = net.connect(l.ch.endpoint.port, '127.0.0.1');
    old.on('error', () => {});
    closers.push(() => old.destroy());
    old.write(Uint8Array.of(0xfa, 1, 1, 0, 0, 0, 0, 24, ...new Uint8Array(16).fill(5))); // a version-1 hello
    await until(() => l.ch.stats.refused['wrong-version'] === 1, 3000, 'the version refusal');
    expect(refusedLine(l.statuses)).toMatch(/^log channel: refused 127\.0\.0\.1:\d+: cluster-key envelope version mismatch \(this process speaks version 2, encrypted; run one ftcp release on every process\): the peer speaks version 1, an older ftcp \(authenticated, not encrypted\)$/);
    expect(l.ch.stats.connects).toBe(0);
  });

  it('a peer that connects and never finishes the handshake, or sends a bad one, is refused', async () => {
    const l = await listener(KEY, { handshakeTimeoutMs: 200 });
    const silent = net.connect(l.ch.endpoint.port, '127.0.0.1');
    silent.on('error', () => {});
    closers.push(() => silent.destroy());
    await until(() => l.ch.stats.refused['handshake-timeout'] === 1, 3000, 'the timeout');
    const garbage = net.connect(l.ch.endpoint.port, '127.0.0.1');
    garbage.on('error', () => {});
    closers.push(() => garbage.destroy());
    // An envelope marker, then a proof before any hello.
    garbage.write(Uint8Array.of(0xfa, AUTH_VERSION, 2, 0, 0, 0, 0, 40, ...new Uint8Array(32)));
    await until(() => l.ch.stats.refused['bad-handshake'] === 1, 3000, 'the bad handshake');
    expect(l.ch.stats.connects).toBe(0);
    await sleep(50);
    expect(l.got).toEqual([]);
  });
});

describe('arbiter with a cluster key (real sockets)', () => {
  async function arbiter(key: ClusterKey | undefined) {
    const s = await ArbiterServer.start({ listen: LOCAL, statePath: join(mkdtempSync(join(dir, 'arb-')), 'arbiter.json'), init: true, clusterKey: key });
    closers.push(() => s.close());
    const events: ArbiterServerEvent[] = [];
    s.onEvent((e) => events.push(e));
    return { s, events };
  }
  const client = (port: number, key: ClusterKey | undefined) => {
    const c = new ArbiterClient({ server: { host: '127.0.0.1', port }, service: '192.0.2.10', clusterKey: key, reconnectDelayMs: 20, reconnectMaxMs: 100 });
    closers.push(() => c.close());
    return c;
  };
  const refusals = (events: ArbiterServerEvent[]) => events.filter((e) => e.type === 'refused').map((e) => (e as { message: string }).message);

  it('grants to a client with the key; a client with no key or a wrong one is refused and granted nothing', async () => {
    const { s, events } = await arbiter(KEY);
    await expect(client(s.local.port, WRONG).testAndSet(1, 'mallory', { timeoutMs: 800, retryMs: 100 })).rejects.toThrow(/^arbiter: refused 127\.0\.0\.1:\d+: bad cluster key \(MAC mismatch\)$/);
    await expect(client(s.local.port, undefined).testAndSet(1, 'eve', { timeoutMs: 800, retryMs: 100 })).rejects.toThrow();
    expect(s.stats.requests).toBe(0);
    expect(s.flags()).toEqual([]);
    expect(s.stats.refused['bad-key']).toBeGreaterThanOrEqual(1);
    expect(s.stats.refused['no-key']).toBeGreaterThanOrEqual(1);
    expect(refusals(events)).toContainEqual(expect.stringMatching(/^arbiter: refused 127\.0\.0\.1:\d+: bad cluster key \(MAC mismatch\)$/));
    expect(refusals(events)).toContainEqual(expect.stringMatching(/^arbiter: refused 127\.0\.0\.1:\d+: no cluster key/));
    // The rightful replica gets epoch 1.
    expect((await client(s.local.port, KEY).testAndSet(1, 'b', { timeoutMs: 3000 })).winner).toBe('b');
    expect(s.flags().map((f) => f.winner)).toEqual(['b']);
  });

  it('a request replayed (same connection or a new one) or tampered with is refused and not answered', async () => {
    const { s } = await arbiter(KEY);
    const m = await relay(s.local.port);
    const c = client(m.port, KEY);
    expect((await c.testAndSet(1, 'b', { timeoutMs: 3000 })).winner).toBe('b');
    const request = m.frames[0]!.find((f) => envelopeType(f) === 3)!;
    const requestsBefore = s.stats.requests;
    m.inject(request);
    await until(() => s.stats.refused.replay === 1, 3000, 'the replay refusal');
    // Into a new connection: another session.
    await until(() => !c.connected, 3000, 'the close');
    const answered = c.testAndSet(2, 'b', { timeoutMs: 3000 });
    await until(() => m.frames.length === 2 && m.frames[1]!.some((f) => envelopeType(f) === 3), 3000, 'the second connection');
    expect((await answered).winner).toBe('b');
    const before2 = s.stats.requests;
    m.inject(request);
    await until(() => s.stats.refused['bad-mac'] === 1, 3000, 'the cross-session refusal');
    expect(s.stats.requests).toBe(before2);
    expect(before2).toBe(requestsBefore + 1);
    // Tampered: one bit of the request flipped on the way.
    m.rewrite = (f) => {
      if (envelopeType(f) !== 3) return f;
      const g = Uint8Array.from(f);
      g[g.length - 16 - 4 - 8]! ^= 0x01;
      return g;
    };
    await expect(c.testAndSet(3, 'b', { timeoutMs: 600, retryMs: 100 })).rejects.toThrow();
    expect(s.stats.refused['bad-mac']).toBeGreaterThanOrEqual(2);
    expect(s.flags().map((f) => f.epoch)).toEqual([1, 2]);
  });
});
