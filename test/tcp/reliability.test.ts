/**
 * Reliable delivery: retransmission on timeout (RFC 6298, Karn, backoff, retry limits),
 * zero windows and the persist timer, Nagle, delayed ACKs, out-of-order reassembly and
 * its memory bound, fast retransmit, keep-alive.
 */
import { describe, expect, it } from 'vitest';
import { generateIsn } from '../../src/tcp/isn.js';
import { prngNextU32, prngSeed } from '../../src/tcp/prng.js';
import { MAX_QUICK_ACKS } from '../../src/tcp/receiver.js';
import { Stack } from '../../src/tcp/stack.js';
import { TCP_ACK, TCP_SYN } from '../../src/wire/tcp.js';
import { established, SERVER_PORT, state } from './fixtures.js';
import { A_ADDR, B_ADDR, bytes, concat, craft, drainSegments, MS, Pair, readAll, sameBytes, SEC, type Wire } from './harness.js';

const dataFrom = (ws: Wire[]): Wire[] => ws.filter((w) => w.seg.payload.length > 0);
const gaps = (ws: Wire[]): number[] => ws.slice(1).map((w, i) => w.time - ws[i]!.time);

/** Use up b's quick ACKs of the connection's start (receiver.ts, MAX_QUICK_ACKS) with small writes from a. */
function useQuickAcks(p: Pair, ca: number): void {
  for (let i = 0; i < MAX_QUICK_ACKS; i++) {
    p.a.write(p.now, ca, bytes(10));
    p.settle();
  }
}

// The RTO alone: RACK-TLP (RFC 8985) is off, or its tail loss probe would come first (tlp.test.ts).
describe('retransmission timeout (RFC 6298)', () => {
  it('a dropped segment is sent again, identical, after one RTO', () => {
    const { p, ca, sb } = established({ a: { rack: false } });
    const rtoUs = p.a.info(ca).rtoMs * 1000;
    expect(rtoUs).toBe(200 * MS); // one 20 ms RTT sample, clamped to rtoMinMs
    let dropped = 0;
    p.dropHook = (w) => w.from === 'a' && w.seg.payload.length > 0 && dropped++ === 0;
    const since = p.wire.length;
    p.a.write(p.now, ca, bytes(1000, 5));
    p.settle();
    const sent = dataFrom(p.sentBy('a', since));
    expect(sent).toHaveLength(2);
    expect(sent[1]!.time - sent[0]!.time).toBe(rtoUs);
    // The same segment but for its timestamp (RFC 7323: TSval is the time of sending).
    const tsless = (w: Wire): unknown => ({ ...w.seg, options: w.seg.options.filter((o) => o.kind !== 'ts') });
    expect(tsless(sent[1]!)).toEqual(tsless(sent[0]!));
    expect(sameBytes(readAll(p.b, p.now, sb), bytes(1000, 5))).toBe(true);
    expect(p.a.stats().retransmits).toBe(1);
    expect(p.a.stats().timeouts).toBe(1);
  });

  it("Karn's rule: the ACK of a retransmitted segment gives no RTT sample (without timestamps)", () => {
    // With timestamps the echoed TSval gives a valid sample instead (RFC 7323 §4.1; timestamps.test.ts).
    const { p, ca } = established({ a: { timestamps: false } });
    const before = p.a.info(ca);
    expect(before.srttMs).toBe(20);
    p.latencyUs = 50 * MS; // any sample now would move SRTT away from 20 ms
    let dropped = 0;
    p.dropHook = (w) => w.from === 'a' && w.seg.payload.length > 0 && dropped++ === 0;
    p.a.write(p.now, ca, bytes(100));
    p.settle();
    expect(p.a.stats().retransmits).toBe(1);
    expect(p.a.info(ca).srttMs).toBe(20);
    // A segment sent once does give a sample.
    p.a.write(p.now, ca, bytes(100));
    p.settle();
    expect(p.a.info(ca).srttMs).toBeGreaterThan(20);
  });

  it('backs off exponentially: each retransmission waits twice as long', () => {
    const { p, ca } = established({ a: { rack: false } });
    p.dropHook = (w) => w.from === 'a';
    const since = p.wire.length;
    p.a.write(p.now, ca, bytes(100));
    p.runFor(30 * SEC);
    const sent = dataFrom(p.sentBy('a', since));
    expect(gaps(sent).slice(0, 6)).toEqual([200, 400, 800, 1600, 3200, 6400].map((ms) => ms * MS));
    expect(p.a.info(ca).rtoMs).toBe(25_600);
  });

  it('gives up after maxRetries retransmissions with ETIMEDOUT', () => {
    const { p, ca } = established({ a: { maxRetries: 3, rack: false } });
    p.dropHook = (w) => w.from === 'a';
    p.clearEvents();
    const since = p.wire.length;
    const t0 = p.now;
    p.a.write(p.now, ca, bytes(100));
    p.runUntil(() => p.events.a.some((e) => e.type === 'closed'));
    expect(p.events.a).toEqual([{ type: 'closed', socket: ca, error: 'ETIMEDOUT' }]);
    expect(p.now - t0).toBe((200 + 400 + 800 + 1600) * MS);
    expect(dataFrom(p.sentBy('a', since))).toHaveLength(4);
    expect(p.a.stats().connectionsTimedOut).toBe(1);
    expect(state(p, 'a', ca)).toBe('CLOSED');
    expect(() => p.a.write(p.now, ca, bytes(1))).toThrow(/ENOTCONN/);
  });

  it('gives up a SYN after synRetries retransmissions (1 s, 2 s, 4 s) with ETIMEDOUT', () => {
    const p = new Pair({ a: { synRetries: 2 } });
    p.dropHook = () => true;
    const t0 = p.now;
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: SERVER_PORT });
    p.runUntil(() => p.events.a.length > 0);
    expect(p.events.a).toEqual([{ type: 'closed', socket: ca, error: 'ETIMEDOUT' }]);
    const syns = p.sentBy('a').filter((w) => w.seg.flags === TCP_SYN);
    expect(syns.map((w) => w.time - t0)).toEqual([0, 1 * SEC, 3 * SEC]);
    expect(p.now - t0).toBe(7 * SEC);
  });

  it('retransmits a lost SYN-ACK and a lost FIN', () => {
    const p = new Pair({ b: { mslMs: 100 }, a: { mslMs: 100 } });
    const lb = p.b.listen(p.now, { port: SERVER_PORT });
    let synAcks = 0;
    let fins = 0;
    p.dropHook = (w) => (w.seg.flags === (TCP_SYN | TCP_ACK) && synAcks++ === 0) || ((w.seg.flags & 1) === 1 && w.from === 'a' && fins++ === 0);
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: SERVER_PORT });
    p.runUntil(() => state(p, 'a', ca) === 'ESTABLISHED');
    const sb = p.b.accept(lb) ?? (p.settle(), p.b.accept(lb));
    expect(sb).toBeDefined();
    p.a.close(p.now, ca);
    p.runUntil(() => state(p, 'b', sb!) === 'CLOSE-WAIT');
    expect(fins).toBe(2);
    expect(p.a.stats().retransmits).toBe(2); // the SYN (its SYN-ACK was lost), then the FIN
    expect(p.b.stats().retransmits).toBeGreaterThanOrEqual(1);
  });
});

describe('flow control', () => {
  it('zero window: persist probes with backoff, then the window reopens and the data flows', () => {
    const { p, ca, sb } = established({ b: { recvBufferBytes: 4096, windowScaling: false } });
    const payload = bytes(20_000, 9);
    expect(p.a.write(p.now, ca, payload)).toBe(20_000);
    p.runFor(1 * SEC);
    expect(p.b.info(sb).readable).toBe(4096);
    expect(p.b.info(sb).rcvWnd).toBe(0);
    expect(p.a.info(ca).sndWnd).toBe(0);
    const since = p.wire.length;
    p.runFor(20 * SEC);
    const probes = p.sentBy('a', since);
    expect(probes.length).toBeGreaterThanOrEqual(4);
    const una = p.a.info(ca).sndUna;
    for (const w of probes) {
      expect(w.seg.payload.length).toBe(0);
      expect(w.seg.seq).toBe((una - 1) >>> 0); // <SEQ=SND.UNA-1>: the receiver must answer
    }
    const g = gaps(probes);
    for (let i = 1; i < g.length; i++) expect(g[i]).toBe(g[i - 1]! * 2);
    // Every probe was answered, still with a zero window; the connection lives on.
    expect(p.sentBy('b', since).length).toBe(probes.length);
    expect(state(p, 'a', ca)).toBe('ESTABLISHED');
    // The application reads: a window update reopens the flow.
    const got: Uint8Array[] = [readAll(p.b, p.now, sb)];
    p.onEvent = (side, ev) => {
      if (side === 'b' && ev.type === 'readable') got.push(readAll(p.b, p.now, sb));
    };
    p.runUntil(() => got.reduce((n, x) => n + x.length, 0) === payload.length);
    expect(sameBytes(concat(got), payload)).toBe(true);
  });

  it('a window update is sent when the application opens the window significantly', () => {
    const { p, ca, sb } = established({ b: { recvBufferBytes: 8192, windowScaling: false } });
    p.a.write(p.now, ca, bytes(8192));
    p.runFor(300 * MS);
    expect(p.b.info(sb).rcvWnd).toBe(0);
    const since = p.wire.length;
    p.b.read(p.now, sb, 100); // too little to matter (receiver SWS avoidance)
    p.flush();
    expect(p.sentBy('b', since)).toHaveLength(0);
    p.b.read(p.now, sb, 4000);
    p.flush();
    const upd = p.sentBy('b', since);
    expect(upd).toHaveLength(1);
    expect(upd[0]!.seg.window).toBe(4100);
  });

  it('Nagle holds small segments while data is unacknowledged; setNoDelay turns it off', () => {
    const { p, ca } = established();
    let since = p.wire.length;
    for (let i = 0; i < 5; i++) p.a.write(p.now, ca, bytes(1, i));
    p.flush();
    expect(dataFrom(p.sentBy('a', since)).map((w) => w.seg.payload.length)).toEqual([1]);
    p.settle();
    expect(dataFrom(p.sentBy('a', since)).map((w) => w.seg.payload.length)).toEqual([1, 4]);

    p.a.setNoDelay(ca, true);
    since = p.wire.length;
    for (let i = 0; i < 5; i++) p.a.write(p.now, ca, bytes(1, i));
    p.flush();
    expect(dataFrom(p.sentBy('a', since)).map((w) => w.seg.payload.length)).toEqual([1, 1, 1, 1, 1]);
  });

  it('starts with an initial window of 10 segments (RFC 6928) and grows it in slow start', () => {
    const { p, ca } = established();
    const since = p.wire.length;
    p.a.write(p.now, ca, bytes(100_000));
    p.flush();
    expect(dataFrom(p.sentBy('a', since))).toHaveLength(10);
    p.runFor(p.latencyUs * 2); // one round trip: 5 ACKs (every second segment) open 5 more segments each
    expect(dataFrom(p.sentBy('a', since)).length).toBeGreaterThanOrEqual(20);
  });

  it('sends full-sized segments at once even with Nagle on', () => {
    const { p, ca } = established();
    const since = p.wire.length;
    p.a.write(p.now, ca, bytes(3 * 1448 + 10));
    p.flush();
    // 1460 - 12 bytes of timestamps option (RFC 6691 §3).
    expect(dataFrom(p.sentBy('a', since)).map((w) => w.seg.payload.length)).toEqual([1448, 1448, 1448]);
  });
});

describe('zero window and FIN', () => {
  it('a FIN is accepted into a zero window, so the sender does not time out', () => {
    const { p, ca, sb } = established({ b: { recvBufferBytes: 3000, windowScaling: false } });
    p.a.write(p.now, ca, bytes(3000));
    p.runFor(1 * SEC);
    expect(p.b.info(sb).rcvWnd).toBe(0);
    p.a.shutdown(p.now, ca); // a bare FIN into the zero window
    p.runFor(2 * SEC);
    expect(p.a.stats().retransmits).toBe(0);
    expect(state(p, 'b', sb)).toBe('CLOSE-WAIT');
    expect(state(p, 'a', ca)).toBe('FIN-WAIT-2');
    expect(p.b.read(p.now, sb)).toHaveLength(3000);
  });
});

describe('before the handshake completes', () => {
  it('data written and a shutdown in SYN-SENT go out once ESTABLISHED', () => {
    const p = new Pair();
    const lb = p.b.listen(p.now, { port: SERVER_PORT });
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: SERVER_PORT });
    expect(p.a.write(p.now, ca, bytes(2000, 3))).toBe(2000);
    p.a.shutdown(p.now, ca);
    expect(state(p, 'a', ca)).toBe('SYN-SENT');
    p.settle();
    const sb = p.b.accept(lb)!;
    expect(sameBytes(p.b.read(p.now, sb), bytes(2000, 3))).toBe(true);
    expect(state(p, 'b', sb)).toBe('CLOSE-WAIT');
    expect(state(p, 'a', ca)).toBe('FIN-WAIT-2');
  });

  it('text on a SYN to a listener is not acknowledged (the peer sends it again)', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 1 });
    s.listen(0, { port: 80 });
    s.handlePacket(0, craft({ src: A_ADDR, dst: B_ADDR, srcPort: 4000, dstPort: 80, seq: 100, flags: TCP_SYN, payload: bytes(10) }));
    const [synAck] = drainSegments(s);
    expect(synAck!.ack).toBe(101);
  });
});

describe('acknowledgments', () => {
  it('an out-of-order segment gets a pure duplicate ACK even when data goes out too', () => {
    const { p, ca, sb } = established();
    let n = 0;
    p.dropHook = (w) => w.from === 'a' && w.seg.payload.length > 0 && n++ === 0;
    p.b.write(p.now, sb, bytes(200_000)); // b always has data to send
    const since = p.wire.length;
    p.a.write(p.now, ca, bytes(4 * 1460));
    p.settle();
    const una = (p.a.info(ca).iss + 1) >>> 0;
    const pureDup = p.sentBy('b', since).filter((w) => w.seg.payload.length === 0 && w.seg.ack === una);
    expect(pureDup.length).toBeGreaterThanOrEqual(3);
    expect(p.a.stats().timeouts).toBe(0);
    expect(p.a.stats().retransmits).toBe(1);
  });

  it('delays the ACK of a lone segment by delayedAckMs', () => {
    const { p, ca } = established();
    useQuickAcks(p, ca);
    const since = p.wire.length;
    p.a.write(p.now, ca, bytes(100));
    p.settle();
    const seg = dataFrom(p.sentBy('a', since))[0]!;
    const acks = p.sentBy('b', since);
    expect(acks).toHaveLength(1);
    expect(acks[0]!.time - (seg.time + p.latencyUs)).toBe(40 * MS);
  });

  it('ACKs the first data at once (quick ACKs at connection start), up to MAX_QUICK_ACKS', () => {
    const { p, ca } = established();
    const since = p.wire.length;
    useQuickAcks(p, ca);
    const acks = p.sentBy('b', since);
    const data = dataFrom(p.sentBy('a', since));
    expect(acks).toHaveLength(MAX_QUICK_ACKS);
    acks.forEach((a, i) => expect(a.time).toBe(data[i]!.time + p.latencyUs));
    expect(p.b.info(p.b.sockets()[1]!).state).toBe('ESTABLISHED');
  });

  it('ACKs at once every second full-sized segment', () => {
    const { p, ca } = established();
    useQuickAcks(p, ca);
    const since = p.wire.length;
    p.a.write(p.now, ca, bytes(2 * p.a.info(ca).mss));
    p.settle();
    const segs = dataFrom(p.sentBy('a', since));
    const acks = p.sentBy('b', since);
    expect(acks).toHaveLength(1);
    expect(acks[0]!.time).toBe(segs[1]!.time + p.latencyUs);
    expect(acks[0]!.seg.ack).toBe(p.a.info(ca).sndNxt);
  });

  it('honours a configured delayedAckMs', () => {
    const { p, ca } = established({ b: { delayedAckMs: 200 } });
    useQuickAcks(p, ca);
    const since = p.wire.length;
    p.a.write(p.now, ca, bytes(10));
    p.settle();
    const seg = dataFrom(p.sentBy('a', since))[0]!;
    expect(p.sentBy('b', since)[0]!.time - seg.time - p.latencyUs).toBe(200 * MS);
  });
});

describe('reassembly', () => {
  it('out-of-order segments are held, ACKed at once, and delivered when the gap fills (fast retransmit)', () => {
    const { p, ca, sb } = established();
    let n = 0;
    p.dropHook = (w) => w.from === 'a' && w.seg.payload.length > 0 && n++ === 0;
    const since = p.wire.length;
    const payload = bytes(5 * 1460, 4);
    p.a.write(p.now, ca, payload);
    p.settle();
    expect(p.b.stats().outOfOrderSegments).toBe(4);
    const dupAcks = p.sentBy('b', since).filter((w) => w.seg.ack === ((p.a.info(ca).iss + 1) >>> 0));
    expect(dupAcks.length).toBe(4);
    expect(p.a.stats().retransmits).toBe(1);
    expect(p.a.stats().timeouts).toBe(0); // fast retransmit, not an RTO
    expect(sameBytes(readAll(p.b, p.now, sb), payload)).toBe(true);
  });

  it('bounds the bytes held out of order (reassemblyLimitBytes) and still delivers everything', () => {
    const { p, ca, sb } = established({ b: { reassemblyLimitBytes: 2000 } });
    let n = 0;
    p.dropHook = (w) => w.from === 'a' && w.seg.payload.length > 0 && n++ === 0;
    const payload = bytes(8 * 1460, 6);
    p.a.write(p.now, ca, payload);
    p.settle();
    expect(p.b.stats().drops['reassembly-full']).toBeGreaterThanOrEqual(2);
    expect(sameBytes(readAll(p.b, p.now, sb), payload)).toBe(true);
  });

  it('reassembles segments delivered in reverse order, overlapping ones included', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 3 });
    const lb = s.listen(0, { port: 80 });
    const peer = { src: A_ADDR, dst: B_ADDR, srcPort: 4000, dstPort: 80 };
    s.handlePacket(0, craft({ ...peer, seq: 999, flags: TCP_SYN }));
    const synAck = drainSegments(s)[0]!;
    const ack = (synAck.seq + 1) >>> 0;
    s.handlePacket(0, craft({ ...peer, seq: 1000, ack, flags: TCP_ACK }));
    const sb = s.accept(lb)!;
    const data = bytes(3000, 8);
    const pieces: [number, number][] = [
      [2500, 3000],
      [1500, 2600],
      [200, 1000],
      [900, 1600],
      [0, 300],
    ];
    for (const [from, to] of pieces) {
      s.handlePacket(1000, craft({ ...peer, seq: 1000 + from, ack, flags: TCP_ACK, payload: data.subarray(from, to) }));
    }
    expect(sameBytes(readAll(s, 2000, sb), data)).toBe(true);
    expect(s.info(sb).rcvNxt).toBe(4000);
  });
});

describe('sequence number wrap-around', () => {
  it('sends and receives across 2^32 in both directions', () => {
    // Pick the time of the connect so that the client's ISN lands just below 2^32: the
    // stack's ISN key is the first two PRNG words of its seed (RFC 6528 F is public).
    const seed = 42;
    const prng = prngSeed(seed);
    const key = { k0: prngNextU32(prng), k1: prngNextU32(prng) };
    const f = generateIsn(0, key, A_ADDR, 5000, B_ADDR, SERVER_PORT);
    const m = (0x1_0000_0000 - 3000 - f) >>> 0;
    const p = new Pair({ a: { seed }, startUs: m * 4 });
    const lb = p.b.listen(p.now, { port: SERVER_PORT });
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: SERVER_PORT, localPort: 5000 });
    expect(p.a.info(ca).iss).toBe(0x1_0000_0000 - 3000);
    p.runUntil(() => state(p, 'a', ca) === 'ESTABLISHED');
    p.settle();
    const sb = p.b.accept(lb)!;
    const up = bytes(50_000, 1);
    p.a.write(p.now, ca, up);
    p.settle();
    expect(sameBytes(readAll(p.b, p.now, sb), up)).toBe(true);
    expect(p.a.info(ca).sndUna).toBe((0x1_0000_0000 - 3000 + 1 + 50_000) >>> 0);
    expect(p.b.info(sb).rcvNxt).toBe(p.a.info(ca).sndUna);
  });

  it('receives from a peer whose sequence numbers wrap, out of order too', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 3 });
    const lb = s.listen(0, { port: 80 });
    const peer = { src: A_ADDR, dst: B_ADDR, srcPort: 4000, dstPort: 80 };
    const isn = 0xfffffc00;
    s.handlePacket(0, craft({ ...peer, seq: isn, flags: TCP_SYN }));
    const ack = (drainSegments(s)[0]!.seq + 1) >>> 0;
    s.handlePacket(0, craft({ ...peer, seq: isn + 1, ack, flags: TCP_ACK }));
    const sb = s.accept(lb)!;
    const data = bytes(3000, 2);
    s.handlePacket(1, craft({ ...peer, seq: (isn + 1 + 1500) >>> 0, ack, flags: TCP_ACK, payload: data.subarray(1500) }));
    s.handlePacket(2, craft({ ...peer, seq: isn + 1, ack, flags: TCP_ACK, payload: data.subarray(0, 1500) }));
    expect(sameBytes(readAll(s, 3, sb), data)).toBe(true);
    expect(s.info(sb).rcvNxt).toBe((isn + 1 + 3000) >>> 0);
    const acks = drainSegments(s);
    expect(acks.at(-1)!.ack).toBe((isn + 1 + 3000) >>> 0);
  });
});

describe('keep-alive (RFC 1122 4.2.3.6)', () => {
  const ka = { keepAliveIdleMs: 1000, keepAliveIntervalMs: 500, keepAliveProbes: 3 };

  it('is off by default', () => {
    const { p } = established({ a: ka });
    const since = p.wire.length;
    p.runFor(10 * SEC);
    expect(p.sentBy('a', since)).toHaveLength(0);
  });

  it('probes an idle connection; answered probes keep it alive; unanswered ones end it with ETIMEDOUT', () => {
    const { p, ca } = established({ a: ka });
    p.a.setKeepAlive(ca, true);
    const t0 = p.now;
    const since = p.wire.length;
    p.runFor(2500 * MS);
    const probes = p.sentBy('a', since);
    expect(probes.length).toBe(2);
    const i = p.a.info(ca);
    for (const w of probes) {
      expect(w.seg.payload.length).toBe(0);
      expect(w.seg.seq).toBe((i.sndNxt - 1) >>> 0);
    }
    expect(probes[0]!.time).toBeGreaterThan(t0);
    expect(gaps(probes)[0]).toBe(1000 * MS + 2 * p.latencyUs); // idle time counted from the answer
    expect(state(p, 'a', ca)).toBe('ESTABLISHED');

    p.dropHook = (w) => w.from === 'b';
    p.clearEvents();
    p.runUntil(() => p.events.a.length > 0);
    expect(p.events.a).toEqual([{ type: 'closed', socket: ca, error: 'ETIMEDOUT' }]);
  });
});

describe('long transfers', () => {
  it('moves 2 MB each way over a lossy link and ends cleanly', () => {
    const { p, ca, sb } = established({ a: { mslMs: 10 }, b: { mslMs: 10 } });
    let r = 12345;
    const rnd = (): number => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32);
    p.dropHook = () => rnd() < 0.02;
    const size = 2_000_000;
    const up = bytes(size, 1);
    const down = bytes(size, 2);
    const sent = { a: 0, b: 0 };
    const got = { a: [] as Uint8Array[], b: [] as Uint8Array[] };
    const pump = (side: 'a' | 'b'): void => {
      const id = side === 'a' ? ca : sb;
      const src = side === 'a' ? up : down;
      if (sent[side] < size) {
        sent[side] += p.stack(side).write(p.now, id, src.subarray(sent[side]));
        if (sent[side] === size) p.stack(side).shutdown(p.now, id);
      }
    };
    p.onEvent = (side, ev) => {
      const id = side === 'a' ? ca : sb;
      if (ev.type === 'writable') pump(side);
      if (ev.type === 'readable') got[side].push(readAll(p.stack(side), p.now, id));
    };
    pump('a');
    pump('b');
    p.runUntil(() => state(p, 'a', ca) === 'CLOSED' && state(p, 'b', sb) === 'CLOSED', 2_000_000);
    expect(sameBytes(concat(got.b), up)).toBe(true);
    expect(sameBytes(concat(got.a), down)).toBe(true);
    expect(p.a.stats().resetsSent + p.b.stats().resetsSent).toBe(0);
  });
});
