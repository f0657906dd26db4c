// Malformed and hostile frames over real sockets on 127.0.0.1, at the log channel and at the
// embedded arbiter, with and without a cluster key (with one, the frames come from a peer
// that passed the handshake: the MAC is good, the frame inside is not). Every one is
// rejected and counted by kind, never handed on, and its connection closed. Then entries
// out of order (gaps, regressions) and from an old epoch, sent to a real backup (src/replica)
// through the channel: rejected or held, counted, never applied out of turn.
import * as net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ArbiterClient } from '../../src/net/arbiter-client.js';
import { ArbiterServer } from '../../src/net/arbiter-server.js';
import { ARBITER_FRAME_MAX_BYTES, encodeArbiterFrame } from '../../src/net/arbiter-wire.js';
import { AuthSession } from '../../src/net/cluster-auth.js';
import { ClusterKey } from '../../src/net/cluster-key.js';
import { FrameReader } from '../../src/net/frames.js';
import { LogChannel } from '../../src/net/log-channel.js';
import { CHANNEL_FRAME_MAX_BYTES, decodeChannel, encodeChannel, type ChannelMessage } from '../../src/replica/channel.js';
import type { ReplicaEvent, ReplicaOptions } from '../../src/replica/outbox.js';
import { Replica } from '../../src/replica/replica.js';
import type { RsmConfig } from '../../src/replica/rsm.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import { crc32 } from '../../src/wire/crc32.js';
import { parseIpv4Addr } from '../../src/wire/index.js';
import { tcpPacket, until } from '../helpers/net.js';

const KEY = ClusterKey.fromText('hostile-frames-test-key-0123456789', 'test');
const LOCAL = { host: '127.0.0.1', port: 0 };
const dir = mkdtempSync(join(tmpdir(), 'ftcp-hostile-'));
const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A raw TCP peer; with a key it first runs the handshake (as a dialer), then `send` seals. */
async function rawPeer(port: number, key: ClusterKey | undefined): Promise<{ send: (bytes: Uint8Array) => void; closed: Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1');
  closers.push(() => socket.destroy());
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  if (key === undefined) return { send: (b) => socket.write(b), closed };
  const session = new AuthSession(key, 'dialer');
  const reader = new FrameReader({ lengthOffset: 4, minBytes: 8, maxBytes: 1 << 20 });
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      for (const f of reader.push(new Uint8Array(chunk)).frames) {
        const step = session.receive(f);
        if (step.type === 'send') socket.write(step.bytes);
        else if (step.type === 'ready') resolve();
        else if (step.type === 'refused') reject(new Error(step.reason));
      }
    });
    socket.write(session.hello);
  });
  return { send: (b) => socket.write(session.seal(b)), closed };
}

/** A channel frame with its CRC recomputed after `edit`. */
function reCrc(frame: Uint8Array, edit: (f: Uint8Array, v: DataView) => void): Uint8Array {
  const f = Uint8Array.from(frame);
  const v = new DataView(f.buffer);
  edit(f, v);
  v.setUint32(f.length - 4, crc32(f, 0, f.length - 4));
  return f;
}

const hb = encodeChannel({ type: 'heartbeat', epoch: 1, r: 1, lastIndex: 1 });
const header = (length: number) => {
  const h = new Uint8Array(8);
  h[0] = 1;
  h[1] = 2;
  new DataView(h.buffer).setUint32(4, length);
  return h;
};

/** keys: bare, and inside a valid MAC; framing errors only bare, and a wrong length field only keyed (bare, the length is the framing). */
const BOTH = [undefined, KEY];
const CHANNEL_CASES: Array<{ name: string; bytes: Uint8Array; counter: string; keys: Array<ClusterKey | undefined> }> = [
  { name: 'corrupt (CRC)', bytes: reCrc(hb, () => {}).map((b, i, a) => (i === a.length - 1 ? b ^ 1 : b)), counter: 'channel-bad-crc', keys: BOTH },
  { name: 'bad version', bytes: reCrc(hb, (f) => (f[0] = 2)), counter: 'channel-bad-version', keys: BOTH },
  { name: 'unknown type', bytes: reCrc(hb, (f) => (f[1] = 10)), counter: 'channel-bad-type', keys: BOTH },
  { name: 'body shorter than its type needs', bytes: reCrc(encodeChannel({ type: 'ack', epoch: 1, index: 1 }), (f) => (f[1] = 2)), counter: 'channel-bad-body', keys: BOTH },
  { name: 'length field disagreeing with the frame', bytes: reCrc(hb, (_, v) => v.setUint32(4, hb.length - 1)), counter: 'channel-bad-length', keys: [KEY] },
  // Framing errors: seen in the envelope's place when keyed, so only bare.
  { name: `oversized (length ${CHANNEL_FRAME_MAX_BYTES + 1}, beyond the maximum)`, bytes: header(CHANNEL_FRAME_MAX_BYTES + 1), counter: 'frame-too-long', keys: [undefined] },
  { name: 'too short to be a frame (length 8)', bytes: header(8), counter: 'frame-too-short', keys: [undefined] },
];

describe('log channel: malformed frames', () => {
  for (const c of CHANNEL_CASES) {
    for (const key of c.keys) {
      it(`${c.name}${key === undefined ? '' : ', inside a valid MAC'}: counted, not taken, connection closed`, async () => {
        const ch = await LogChannel.listen(LOCAL, { clusterKey: key });
        closers.push(() => ch.close());
        const got: Uint8Array[] = [];
        ch.onFrame((f) => got.push(f));
        const peer = await rawPeer(ch.endpoint.port, key);
        peer.send(hb); // a good frame first: taken
        peer.send(c.bytes);
        peer.send(hb); // after the bad one: never read
        await peer.closed;
        await until(() => ch.stats.malformedFrames === 1, 3000, 'the count');
        expect(ch.stats.malformed[c.counter as keyof typeof ch.stats.malformed]).toBe(1);
        expect(got.length).toBe(1);
        expect(ch.stats.framesReceived).toBe(1);
      });
    }
  }

  it('an oversized envelope with a key is cut off before its body arrives', async () => {
    const ch = await LogChannel.listen(LOCAL, { clusterKey: KEY });
    closers.push(() => ch.close());
    const peer = await rawPeer(ch.endpoint.port, KEY);
    // A sealed frame of CHANNEL_FRAME_MAX_BYTES + 1 bytes: the envelope is over its bound.
    peer.send(new Uint8Array(CHANNEL_FRAME_MAX_BYTES + 1));
    await peer.closed;
    expect(ch.stats.malformed['frame-too-long']).toBe(1);
  });

  it('a connection that closes in the middle of a frame: the partial frame is counted and dropped', async () => {
    for (const key of [undefined, KEY]) {
      const ch = await LogChannel.listen(LOCAL, { clusterKey: key });
      closers.push(() => ch.close());
      const got: Uint8Array[] = [];
      ch.onFrame((f) => got.push(f));
      const peer = await rawPeer(ch.endpoint.port, key);
      peer.send(hb);
      await until(() => got.length === 1, 3000, 'the whole frame');
      // Half a frame (bare, or half a hello), then the end of the connection.
      const raw = net.connect(ch.endpoint.port, '127.0.0.1');
      raw.on('error', () => {});
      closers.push(() => raw.destroy());
      await new Promise<void>((r) => raw.once('connect', () => r()));
      raw.end(key === undefined ? hb.subarray(0, hb.length - 5) : Uint8Array.of(0xfa, 1, 1, 0, 0, 0, 0, 24, 1, 2, 3));
      await until(() => ch.stats.truncatedFrames === 1, 3000, 'the truncated count');
      expect(got.length).toBe(1);
    }
  });
});

describe('arbiter: malformed frames', () => {
  const request = encodeArbiterFrame('192.0.2.10', { type: 'request', id: 1, epoch: 1, replica: 'x' });
  const reCrcA = (edit: (f: Uint8Array, v: DataView) => void) => reCrc(request, edit);
  const len = (n: number) => {
    const h = new Uint8Array(8);
    new DataView(h.buffer).setUint32(0, n);
    h[4] = 1;
    return h;
  };
  const CASES: Array<{ name: string; bytes: Uint8Array; keys: Array<ClusterKey | undefined> }> = [
    { name: 'corrupt (CRC)', bytes: request.map((b, i, a) => (i === a.length - 1 ? b ^ 0xff : b)), keys: BOTH },
    { name: 'bad version', bytes: reCrcA((f) => (f[4] = 9)), keys: BOTH },
    { name: 'empty service name', bytes: reCrcA((f) => (f[5] = 0)), keys: BOTH },
    { name: 'a response where a request belongs', bytes: encodeArbiterFrame('192.0.2.10', { type: 'response', id: 1, epoch: 1, replica: 'x', winner: 'x' }), keys: BOTH },
    { name: 'inner message corrupt (its own CRC)', bytes: reCrcA((f) => (f[f.length - 6]! ^= 1)), keys: BOTH },
    { name: `oversized (length ${ARBITER_FRAME_MAX_BYTES + 1})`, bytes: len(ARBITER_FRAME_MAX_BYTES + 1), keys: [undefined] },
    { name: 'too short (length 8)', bytes: len(8), keys: [undefined] },
  ];
  for (const c of CASES) {
    for (const key of c.keys) {
      it(`${c.name}${key === undefined ? '' : ', inside a valid MAC'}: counted, nothing granted, connection closed`, async () => {
        const s = await ArbiterServer.start({ listen: LOCAL, statePath: join(mkdtempSync(join(dir, 'a-')), 'arbiter.json'), init: true, clusterKey: key });
        closers.push(() => s.close());
        const peer = await rawPeer(s.local.port, key);
        peer.send(c.bytes);
        peer.send(request); // after the bad one: never read
        await peer.closed;
        expect(s.stats.malformedFrames).toBe(1);
        expect(s.stats.requests).toBe(0);
        expect(s.flags()).toEqual([]);
      });
    }
  }

  it('a client that gets a malformed answer counts it, drops the connection and asks again on a new one', async () => {
    let connections = 0;
    const fake = net.createServer((sock) => {
      const n = ++connections;
      sock.on('error', () => {});
      const reader = new FrameReader({ lengthOffset: 0, minBytes: 8, maxBytes: ARBITER_FRAME_MAX_BYTES });
      sock.on('data', (chunk: Buffer) => {
        for (const f of reader.push(new Uint8Array(chunk)).frames) {
          const id = new DataView(f.buffer, f.byteOffset).getUint32(6 + 10 + 4);
          const answer = encodeArbiterFrame('192.0.2.10', { type: 'response', id, epoch: 1, replica: 'b', winner: 'b' });
          if (n === 1) answer[answer.length - 1]! ^= 1; // the first connection answers with a bad CRC
          sock.write(answer);
        }
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
    closers.push(() => new Promise<void>((r) => fake.close(() => r())));
    const c = new ArbiterClient({ server: { host: '127.0.0.1', port: (fake.address() as net.AddressInfo).port }, service: '192.0.2.10', reconnectDelayMs: 10 });
    closers.push(() => c.close());
    const errors: string[] = [];
    c.onError((m) => errors.push(m));
    expect((await c.testAndSet(1, 'b', { timeoutMs: 5000, retryMs: 100 })).winner).toBe('b');
    expect(c.stats.malformedFrames).toBe(1);
    expect(c.stats.connects).toBe(2);
    expect(errors[0]).toMatch(/^the arbiter at 127\.0\.0\.1:\d+ sent a malformed frame; reconnecting/);
  });

  it('a request cut short by the end of its connection is counted and not answered', async () => {
    const s = await ArbiterServer.start({ listen: LOCAL, statePath: join(mkdtempSync(join(dir, 'a-')), 'arbiter.json'), init: true });
    closers.push(() => s.close());
    const raw = net.connect(s.local.port, '127.0.0.1');
    raw.on('error', () => {});
    closers.push(() => raw.destroy());
    await new Promise<void>((r) => raw.once('connect', () => r()));
    raw.end(request.subarray(0, request.length - 3));
    await until(() => s.stats.truncatedFrames === 1, 3000, 'the truncated count');
    expect(s.stats.requests).toBe(0);
    expect(s.flags()).toEqual([]);
  });
});

// ---- out of order and old epochs, at a real backup --------------------------------------

const SERVICE = parseIpv4Addr('192.0.2.10');
const CLIENT = parseIpv4Addr('192.0.2.1');
const rsm: RsmConfig = { stack: { addresses: [SERVICE], seed: 99 }, servicePort: 7, app: 'echo', digestEvery: 16 };
const opts = (name: string): ReplicaOptions => ({ name, rsm, factory: stackFactory, heartbeatMs: 5, failureTimeoutMs: 600_000 });

describe('a backup behind the log channel: entries out of order and from an old epoch', () => {
  it('holds entries beyond a gap, drops regressions and other epochs, and applies each entry once, in order', async () => {
    // One append frame per entry, from a real primary.
    const p = Replica.primary(opts('a'), 'b', 0);
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) {
      p.handleServicePacket(1000 * (i + 1), tcpPacket(CLIENT, SERVICE, 10, i + 1));
      for (let f = p.pollChannel(); f !== undefined; f = p.pollChannel()) if (decodeChannel(f).ok && f[1] === 1) frames.push(f);
    }
    expect(frames.length).toBe(3);
    const reEpoch = (f: Uint8Array, epoch: number) => {
      const d = decodeChannel(f);
      if (!d.ok) throw new Error('bad frame');
      return encodeChannel({ ...d.message, epoch } as ChannelMessage);
    };

    // The "primary" side is a test listener (the key on both sides); the backup dials it.
    const primaryCh = await LogChannel.listen(LOCAL, { clusterKey: KEY });
    closers.push(() => primaryCh.close());
    const backupCh = LogChannel.dial(primaryCh.endpoint, { clusterKey: KEY, resendOnReconnect: false });
    closers.push(() => backupCh.close());
    const b = Replica.backup(opts('b'), 'a', 0);
    const events: ReplicaEvent[] = [];
    const replies: ChannelMessage[] = [];
    primaryCh.onFrame((f) => {
      const d = decodeChannel(f);
      if (d.ok) replies.push(d.message);
    });
    let now = 10_000;
    backupCh.onFrame((f) => {
      b.handleChannel((now += 100), f);
      for (let e = b.pollEvent(); e !== undefined; e = b.pollEvent()) if (e.type !== 'shadow') events.push(e);
      for (let o = b.pollChannel(); o !== undefined; o = b.pollChannel()) backupCh.send(o);
    });
    await backupCh.whenConnected(3000);
    await until(() => primaryCh.connected, 3000, 'the channel');
    const counters = () => (b.current as unknown as { counters: Record<string, number> }).counters;
    const step = async (frame: Uint8Array, done: () => boolean, what: string) => {
      primaryCh.send(frame);
      await until(done, 3000, what);
    };

    await step(frames[2]!, () => counters()['outOfOrder'] === 1, 'entry 3 held beyond the gap');
    expect(b.rsm!.index).toBe(0);
    await until(() => replies.some((m) => m.type === 'resend' && m.from === 1), 3000, 'the backup to ask for the gap');
    await step(frames[0]!, () => b.rsm!.index === 1, 'entry 1');
    await step(frames[0]!, () => counters()['duplicates'] === 1, 'entry 1 again (a regression)');
    await step(reEpoch(frames[1]!, 0), () => counters()['wrongEpoch'] === 1, 'entry 2 from epoch 0');
    await step(reEpoch(frames[1]!, 7), () => counters()['wrongEpoch'] === 2, 'entry 2 from a later epoch');
    expect(b.rsm!.index).toBe(1);
    await step(frames[1]!, () => b.rsm!.index === 3, 'entry 2, then the held 3');
    expect(counters()).toMatchObject({ applied: 3, duplicates: 1, outOfOrder: 1, wrongEpoch: 2, badFrames: 0 });
    expect(events.filter((e) => e.type === 'rejected').length).toBe(2);
    expect(events.filter((e) => e.type === 'fault')).toEqual([]);
    expect(replies.filter((m) => m.type === 'ack').at(-1)).toMatchObject({ index: 3 });

    // The other way: acks and resend requests of another epoch reach a real primary; rejected, counted.
    const primaryEvents: ReplicaEvent[] = [];
    primaryCh.onFrame((f) => {
      p.handleChannel((now += 100), f);
      for (let e = p.pollEvent(); e !== undefined; e = p.pollEvent()) primaryEvents.push(e);
    });
    backupCh.send(encodeChannel({ type: 'ack', epoch: 0, index: 3 }));
    backupCh.send(encodeChannel({ type: 'resend', epoch: 9, from: 1 }));
    const pc = () => (p.current as unknown as { counters: Record<string, number>; acked: number });
    await until(() => pc().counters['wrongEpoch'] === 2, 3000, 'the primary\'s rejections');
    expect(pc().acked).toBe(0);
    expect(primaryEvents.filter((e) => e.type === 'rejected').length).toBe(2);
  });
});
