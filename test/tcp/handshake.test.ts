/**
 * Opening and closing: RFC 9293 §3.5 (handshakes, simultaneous open), §3.6 (closing,
 * half-close, simultaneous close, TIME-WAIT), §3.10.7 RST processing in every state,
 * resets for closed ports (§3.10.7.1) and RST on close with unread data (RFC 1122 4.2.2.13).
 */
import { describe, expect, it } from 'vitest';
import { Stack } from '../../src/tcp/stack.js';
import type { StackEvent } from '../../src/tcp/types.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/wire/tcp.js';
import { closing, established, finWait1, finWait2, lastAck, SERVER_PORT, state, timeWait } from './fixtures.js';
import { A_ADDR, B_ADDR, bytes, craft, drainEvents, drainSegments, MS, Pair, readAll, sameBytes, SEC } from './harness.js';

const closedEv = (events: StackEvent[]): StackEvent[] => events.filter((e) => e.type === 'closed');

describe('opening', () => {
  it('active and passive open: SYN, SYN-ACK, ACK with MSS options; events on both sides', () => {
    const p = new Pair();
    const lb = p.b.listen(p.now, { port: SERVER_PORT });
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: SERVER_PORT });
    expect(state(p, 'a', ca)).toBe('SYN-SENT');
    p.flush();
    const [syn] = p.sentBy('a');
    expect(syn!.seg.flags).toBe(TCP_SYN);
    expect(syn!.seg.seq).toBe(p.a.info(ca).iss);
    expect(syn!.seg.options).toContainEqual({ kind: 'mss', mss: 1460 });
    const ai = p.a.info(ca);
    expect(ai.localPort).toBeGreaterThanOrEqual(49152);
    expect(p.b.accept(lb)).toBeUndefined();

    p.step(); // SYN arrives at b
    const [synAck] = p.sentBy('b');
    expect(synAck!.seg.flags).toBe(TCP_SYN | TCP_ACK);
    expect(synAck!.seg.ack).toBe((ai.iss + 1) >>> 0);
    expect(synAck!.seg.options).toContainEqual({ kind: 'mss', mss: 1460 });
    expect(p.b.accept(lb)).toBeUndefined(); // still SYN-RECEIVED

    p.step(); // SYN-ACK arrives at a
    expect(state(p, 'a', ca)).toBe('ESTABLISHED');
    expect(p.events.a).toEqual([{ type: 'connected', socket: ca }]);
    const ack = p.sentBy('a')[1]!;
    expect(ack.seg.flags).toBe(TCP_ACK);
    expect(ack.seg.seq).toBe((ai.iss + 1) >>> 0);
    expect(ack.seg.ack).toBe((synAck!.seg.seq + 1) >>> 0);

    p.step(); // ACK arrives at b
    expect(p.events.b).toEqual([{ type: 'incoming', socket: lb }]);
    const sb = p.b.accept(lb)!;
    expect(sb).toBeDefined();
    p.flush();
    expect(p.events.b).toContainEqual({ type: 'connected', socket: sb });
    expect(state(p, 'b', sb)).toBe('ESTABLISHED');
    // Timestamps are on by default: 12 bytes of every segment go to <nop,nop,TS> (RFC 6691 §3).
    expect(p.a.info(ca).mss).toBe(1448);
    expect(p.b.info(sb).mss).toBe(1448);
    expect(p.a.info(ca).timestamps).toBe(true);
    expect(p.a.stats().connectionsOpened).toBe(1);
    expect(p.b.stats().connectionsPassive).toBe(1);
  });

  it('uses 536 as the send MSS when the SYN has no MSS option (RFC 9293 §3.7.1)', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 9 });
    const lb = s.listen(0, { port: 80 });
    const peer = { src: A_ADDR, dst: B_ADDR, srcPort: 4000, dstPort: 80 };
    s.handlePacket(0, craft({ ...peer, seq: 100, flags: TCP_SYN }));
    const [synAck] = drainSegments(s);
    s.handlePacket(1000, craft({ ...peer, seq: 101, ack: synAck!.seq + 1, flags: TCP_ACK }));
    const sb = s.accept(lb)!;
    expect(s.info(sb).mss).toBe(536);
    s.write(1000, sb, bytes(2000));
    const segs = drainSegments(s);
    // The 392-byte tail waits for an ACK (Nagle, RFC 1122 4.2.3.4).
    expect(segs.map((g) => g.payload.length)).toEqual([536, 536, 536]);
    s.handlePacket(2000, craft({ ...peer, seq: 101, ack: segs[2]!.seq + 536, flags: TCP_ACK }));
    expect(drainSegments(s).map((g) => g.payload.length)).toEqual([392]);
  });

  it('simultaneous open: both SYN-SENT, both SYN-RECEIVED, both ESTABLISHED; data flows', () => {
    const p = new Pair();
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 6000, localPort: 5000 });
    const cb = p.b.connect(p.now, { remoteAddress: A_ADDR, remotePort: 5000, localPort: 6000 });
    p.step(); // the SYNs cross
    expect(state(p, 'a', ca)).toBe('SYN-RECEIVED');
    expect(state(p, 'b', cb)).toBe('SYN-RECEIVED');
    const synAcks = p.wire.filter((w) => w.seg.flags === (TCP_SYN | TCP_ACK));
    expect(synAcks).toHaveLength(2);
    p.step(); // the SYN-ACKs cross
    expect(state(p, 'a', ca)).toBe('ESTABLISHED');
    expect(state(p, 'b', cb)).toBe('ESTABLISHED');
    expect(p.events.a).toEqual([{ type: 'connected', socket: ca }]);
    expect(p.events.b).toEqual([{ type: 'connected', socket: cb }]);
    p.a.write(p.now, ca, bytes(3000, 1));
    p.b.write(p.now, cb, bytes(2000, 2));
    p.settle();
    expect(sameBytes(readAll(p.b, p.now, cb), bytes(3000, 1))).toBe(true);
    expect(sameBytes(readAll(p.a, p.now, ca), bytes(2000, 2))).toBe(true);
    expect(p.a.stats().resetsSent + p.b.stats().resetsSent).toBe(0);
  });
});

describe('closing', () => {
  it('active close and passive close: FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, LAST-ACK, TIME-WAIT, CLOSED', () => {
    const { p, ca, sb } = established({ a: { mslMs: 1000 } });
    p.clearEvents();
    p.a.close(p.now, ca);
    expect(state(p, 'a', ca)).toBe('FIN-WAIT-1');
    p.runUntil(() => state(p, 'a', ca) === 'FIN-WAIT-2');
    expect(state(p, 'b', sb)).toBe('CLOSE-WAIT');
    p.flush();
    expect(p.events.b).toEqual([{ type: 'eof', socket: sb }]);
    expect(p.b.read(p.now, sb)).toHaveLength(0);
    p.b.close(p.now, sb);
    expect(state(p, 'b', sb)).toBe('LAST-ACK');
    p.runUntil(() => state(p, 'a', ca) === 'TIME-WAIT');
    const enteredUs = p.now;
    p.runUntil(() => p.events.b.some((e) => e.type === 'closed'));
    expect(closedEv(p.events.b)).toEqual([{ type: 'closed', socket: sb }]);
    expect(() => p.b.info(sb)).toThrow(/EBADF/); // closed by the user and CLOSED: released
    // a stays in TIME-WAIT for 2*MSL = 2 s after entering it.
    p.runTo(enteredUs + 2 * SEC - 1);
    expect(state(p, 'a', ca)).toBe('TIME-WAIT');
    p.runTo(enteredUs + 2 * SEC + 1);
    expect(closedEv(p.events.a)).toEqual([{ type: 'closed', socket: ca }]);
    expect(() => p.a.info(ca)).toThrow(/EBADF/);
    expect(p.a.sockets()).toEqual([]);
    expect(p.a.pollTimeout()).toBeUndefined();
  });

  it('simultaneous close: both CLOSING, then both TIME-WAIT, then CLOSED', () => {
    const c = closing({ a: { mslMs: 500 }, b: { mslMs: 500 } });
    const { p } = c;
    p.runUntil(() => state(p, 'a', c.ca) === 'TIME-WAIT' && state(p, 'b', c.sb) === 'TIME-WAIT');
    p.runFor(1 * SEC + 1);
    expect(state(p, 'a', c.ca)).toBe('CLOSED');
    expect(state(p, 'b', c.sb)).toBe('CLOSED');
    expect(closedEv(p.events.a)).toEqual([{ type: 'closed', socket: c.ca }]);
    expect(closedEv(p.events.b)).toEqual([{ type: 'closed', socket: c.sb }]);
  });

  it('half-close: data keeps flowing towards the side that shut down', () => {
    const { p, ca, sb } = finWait2();
    const payload = bytes(100_000, 7);
    let off = 0;
    const got: Uint8Array[] = [];
    p.onEvent = (side, ev) => {
      if (side === 'b' && ev.type === 'writable') off += p.b.write(p.now, sb, payload.subarray(off));
      if (side === 'a' && ev.type === 'readable') got.push(readAll(p.a, p.now, ca));
    };
    off += p.b.write(p.now, sb, payload);
    p.runUntil(() => off === payload.length && got.reduce((n, g) => n + g.length, 0) === payload.length);
    expect(state(p, 'a', ca)).toBe('FIN-WAIT-2');
    expect(() => p.a.write(p.now, ca, bytes(1))).toThrow(/EPIPE/);
    p.b.shutdown(p.now, sb);
    p.runUntil(() => p.events.a.some((e) => e.type === 'eof'));
    expect(state(p, 'a', ca)).toBe('TIME-WAIT');
    const all = new Uint8Array(payload.length);
    let o = 0;
    for (const g of got) {
      all.set(g, o);
      o += g.length;
    }
    expect(sameBytes(all, payload)).toBe(true);
  });

  it('TIME-WAIT: a retransmitted FIN is acknowledged and restarts the 2*MSL timer', () => {
    const { p, ca } = timeWait({ a: { mslMs: 1000 } });
    const before = p.a.pollTimeout()!;
    p.runFor(500 * MS);
    const i = p.a.info(ca);
    const since = p.wire.length;
    // The peer's FIN again: SEQ = RCV.NXT - 1.
    p.deliver('a', p.craftFor('a', ca, { seq: i.rcvNxt - 1, ack: i.sndNxt, flags: TCP_FIN | TCP_ACK }));
    const out = p.sentBy('a', since);
    expect(out).toHaveLength(1);
    expect(out[0]!.seg.flags).toBe(TCP_ACK);
    expect(out[0]!.seg.ack).toBe(i.rcvNxt);
    const after = p.a.pollTimeout()!;
    expect(after).toBe(p.now + 2 * SEC);
    expect(after).toBeGreaterThan(before);
    expect(state(p, 'a', ca)).toBe('TIME-WAIT');
  });
});

describe('RST received in each state', () => {
  /** A RST with SEG.SEQ = RCV.NXT (acceptable, RFC 5961 exact match) delivered now. */
  function rstTo(p: Pair, side: 'a' | 'b', id: number): void {
    const i = p.stack(side).info(id);
    p.deliver(side, p.craftFor(side, id, { seq: i.rcvNxt, flags: TCP_RST }));
  }

  it('SYN-SENT: RST acknowledging our SYN -> ECONNREFUSED', () => {
    const p = new Pair();
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 81 });
    p.flush();
    const i = p.a.info(ca);
    p.deliver('a', p.craftFor('a', ca, { seq: 0, ack: i.iss + 1, flags: TCP_RST | TCP_ACK }));
    expect(state(p, 'a', ca)).toBe('CLOSED');
    expect(p.events.a).toEqual([{ type: 'closed', socket: ca, error: 'ECONNREFUSED' }]);
  });

  it('SYN-SENT: connecting to a closed port is refused by the peer stack', () => {
    const p = new Pair();
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 81 });
    p.settle();
    expect(p.events.a).toEqual([{ type: 'closed', socket: ca, error: 'ECONNREFUSED' }]);
    expect(p.b.stats().resetsSent).toBe(1);
    p.a.close(p.now, ca);
    expect(p.a.sockets()).toEqual([]);
  });

  it('SYN-SENT: a RST without ACK is ignored', () => {
    const p = new Pair();
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 81 });
    p.flush();
    p.deliver('a', p.craftFor('a', ca, { seq: 0, flags: TCP_RST }));
    expect(state(p, 'a', ca)).toBe('SYN-SENT');
    expect(p.a.stats().drops['rst-ignored']).toBe(1);
  });

  it('SYN-RECEIVED from a passive open: back to LISTEN, nobody told, listener still works', () => {
    const p = new Pair();
    const lb = p.b.listen(p.now, { port: SERVER_PORT });
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: SERVER_PORT });
    p.dropHook = (w) => w.from === 'b'; // keep a in SYN-SENT
    p.step(); // SYN reaches b: SYN-RECEIVED
    expect(p.b.pollTimeout()).toBeDefined(); // SYN-ACK retransmission armed
    const i = p.a.info(ca);
    p.deliver('b', craft({ src: A_ADDR, dst: B_ADDR, srcPort: i.localPort, dstPort: SERVER_PORT, seq: i.iss + 1, flags: TCP_RST }));
    expect(p.b.stats().resetsReceived).toBe(1);
    expect(p.b.pollTimeout()).toBeUndefined(); // the embryonic connection is gone
    expect(p.events.b).toEqual([]);
    expect(p.b.accept(lb)).toBeUndefined();
    expect(p.b.sockets()).toEqual([lb]);
    // The client's SYN retransmission opens a fresh connection through the same listener.
    p.dropHook = undefined;
    p.runUntil(() => state(p, 'a', ca) === 'ESTABLISHED');
    p.settle();
    expect(p.b.accept(lb)).toBeDefined();
  });

  it('SYN-RECEIVED from a simultaneous open: ECONNREFUSED', () => {
    const p = new Pair();
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 6000, localPort: 5000 });
    p.b.connect(p.now, { remoteAddress: A_ADDR, remotePort: 5000, localPort: 6000 });
    p.step();
    expect(state(p, 'a', ca)).toBe('SYN-RECEIVED');
    rstTo(p, 'a', ca);
    expect(p.events.a).toEqual([{ type: 'closed', socket: ca, error: 'ECONNREFUSED' }]);
  });

  for (const [name, make, side, expected] of [
    ['ESTABLISHED', established, 'a', 'ECONNRESET'],
    ['FIN-WAIT-1', finWait1, 'a', 'ECONNRESET'],
    ['FIN-WAIT-2', finWait2, 'a', 'ECONNRESET'],
    ['CLOSE-WAIT', finWait2, 'b', 'ECONNRESET'],
    ['CLOSING', closing, 'a', undefined],
    ['LAST-ACK', lastAck, 'b', undefined],
    ['TIME-WAIT', timeWait, 'a', undefined],
  ] as const) {
    it(`${name}: ${expected ?? 'closed without error'}`, () => {
      const c = make();
      const id = side === 'a' ? c.ca : c.sb;
      expect(state(c.p, side, id)).toBe(name);
      c.p.clearEvents();
      rstTo(c.p, side, id);
      expect(state(c.p, side, id)).toBe('CLOSED');
      const ev = expected === undefined ? { type: 'closed', socket: id } : { type: 'closed', socket: id, error: expected };
      expect(closedEv(c.p.events[side])).toEqual([ev]);
      expect(c.p.stack(side).stats().resetsReceived).toBe(1);
      expect(c.p.stack(side).pollTimeout()).toBeUndefined();
      expect(c.p.stack(side).read(c.p.now, id)).toHaveLength(0);
    });
  }

  it('an out-of-window RST is dropped silently; an in-window inexact one gets a challenge ACK (RFC 5961 §3)', () => {
    const { p, ca } = established();
    const i = p.a.info(ca);
    const since = p.wire.length;
    p.deliver('a', p.craftFor('a', ca, { seq: i.rcvNxt + 2_000_000, flags: TCP_RST }));
    expect(state(p, 'a', ca)).toBe('ESTABLISHED');
    expect(p.sentBy('a', since)).toHaveLength(0);
    expect(p.a.stats().drops['rst-ignored']).toBe(1);
    p.deliver('a', p.craftFor('a', ca, { seq: i.rcvNxt + 100, flags: TCP_RST }));
    expect(state(p, 'a', ca)).toBe('ESTABLISHED');
    const out = p.sentBy('a', since);
    expect(out).toHaveLength(1);
    expect(out[0]!.seg.flags).toBe(TCP_ACK);
    expect(out[0]!.seg.ack).toBe(i.rcvNxt);
    expect(p.a.stats().drops['rst-ignored']).toBe(2);
  });

  it('a SYN in ESTABLISHED gets a challenge ACK and changes nothing (RFC 5961 §4)', () => {
    const { p, ca } = established();
    const i = p.a.info(ca);
    const since = p.wire.length;
    p.deliver('a', p.craftFor('a', ca, { seq: i.rcvNxt + 5, flags: TCP_SYN }));
    expect(state(p, 'a', ca)).toBe('ESTABLISHED');
    const out = p.sentBy('a', since);
    expect(out.map((w) => w.seg.flags)).toEqual([TCP_ACK]);
    expect(p.a.stats().drops['syn-ignored']).toBe(1);
  });
});

describe('resets sent', () => {
  const peer = { src: A_ADDR, dst: B_ADDR, srcPort: 4000, dstPort: 81 };

  it('closed port, ACK off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (SYN and FIN count)', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 1 });
    s.handlePacket(0, craft({ ...peer, seq: 1000, flags: TCP_SYN }));
    s.handlePacket(0, craft({ ...peer, seq: 5000, flags: TCP_SYN | TCP_FIN | TCP_PSH, payload: bytes(10) }));
    const out = drainSegments(s);
    expect(out.map((g) => [g.flags, g.seq, g.ack, g.srcPort, g.dstPort])).toEqual([
      [TCP_RST | TCP_ACK, 0, 1001, 81, 4000],
      [TCP_RST | TCP_ACK, 0, 5012, 81, 4000],
    ]);
    expect(s.stats().resetsSent).toBe(2);
  });

  it('closed port, ACK on: <SEQ=SEG.ACK><CTL=RST>', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 1 });
    s.handlePacket(0, craft({ ...peer, seq: 1000, ack: 777777, flags: TCP_ACK, payload: bytes(5) }));
    const out = drainSegments(s);
    expect(out.map((g) => [g.flags, g.seq, g.ack])).toEqual([[TCP_RST, 777777, 0]]);
  });

  it('a RST to a closed port is not answered', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 1 });
    s.handlePacket(0, craft({ ...peer, seq: 1000, ack: 5, flags: TCP_RST | TCP_ACK }));
    expect(drainSegments(s)).toEqual([]);
  });

  it('an ACK to a listener is answered with <SEQ=SEG.ACK><CTL=RST>', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 1 });
    s.listen(0, { port: 81 });
    s.handlePacket(0, craft({ ...peer, seq: 1000, ack: 4242, flags: TCP_ACK }));
    expect(drainSegments(s).map((g) => [g.flags, g.seq])).toEqual([[TCP_RST, 4242]]);
  });

  it('close() with unread data sends RST (RFC 1122 4.2.2.13, RFC 2525); the peer sees ECONNRESET', () => {
    const { p, ca, sb } = established();
    p.a.write(p.now, ca, bytes(500));
    p.settle();
    expect(p.b.info(sb).readable).toBe(500);
    p.clearEvents();
    const since = p.wire.length;
    p.b.close(p.now, sb);
    p.flush();
    const out = p.sentBy('b', since);
    expect(out.map((w) => w.seg.flags)).toEqual([TCP_RST | TCP_ACK]);
    expect(p.b.stats().resetsSent).toBe(1);
    p.settle();
    expect(closedEv(p.events.a)).toEqual([{ type: 'closed', socket: ca, error: 'ECONNRESET' }]);
    expect(() => p.b.info(sb)).toThrow(/EBADF/);
  });

  it('data arriving after close() is answered with RST', () => {
    const { p, ca, sb } = established();
    p.b.close(p.now, sb); // b: FIN-WAIT-1, nothing unread
    p.flush();
    const i = p.a.info(ca);
    const since = p.wire.length;
    p.deliver('b', craft({ src: A_ADDR, dst: B_ADDR, srcPort: i.localPort, dstPort: SERVER_PORT, seq: i.sndNxt, ack: i.rcvNxt, flags: TCP_ACK, payload: bytes(10) }));
    expect(p.sentBy('b', since).map((w) => w.seg.flags)).toEqual([TCP_RST | TCP_ACK]);
  });

  it('a bad ACK in SYN-SENT is answered with <SEQ=SEG.ACK><CTL=RST>; the connection stays in SYN-SENT', () => {
    const p = new Pair();
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: SERVER_PORT });
    p.flush();
    const i = p.a.info(ca);
    const since = p.wire.length;
    const badAck = (i.iss + 1000) >>> 0;
    p.deliver('a', p.craftFor('a', ca, { seq: 9999, ack: badAck, flags: TCP_SYN | TCP_ACK }));
    const out = p.sentBy('a', since);
    expect(out.map((w) => [w.seg.flags, w.seg.seq])).toEqual([[TCP_RST, badAck]]);
    expect(state(p, 'a', ca)).toBe('SYN-SENT');
    expect(p.a.stats().drops['bad-ack']).toBe(1);
  });

  it('a bad ACK in SYN-RECEIVED is answered with <SEQ=SEG.ACK><CTL=RST>', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 1 });
    s.listen(0, { port: 81 });
    s.handlePacket(0, craft({ ...peer, seq: 1000, flags: TCP_SYN }));
    drainSegments(s);
    s.handlePacket(0, craft({ ...peer, seq: 1001, ack: 12345, flags: TCP_ACK }));
    expect(drainSegments(s).map((g) => [g.flags, g.seq])).toEqual([[TCP_RST, 12345]]);
  });
});

describe('drops', () => {
  it('a segment with port 0 is dropped and counted', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 1 });
    s.listen(0, { port: 81 });
    s.handlePacket(0, craft({ src: A_ADDR, dst: B_ADDR, srcPort: 0, dstPort: 81, seq: 1, flags: TCP_SYN }));
    s.handlePacket(0, craft({ src: A_ADDR, dst: B_ADDR, srcPort: 5, dstPort: 0, seq: 1, flags: TCP_SYN }));
    expect(drainSegments(s)).toEqual([]);
    expect(s.stats().drops['bad-port']).toBe(2);
    expect(drainEvents(s)).toEqual([]);
  });

  it('packets for another address are dropped as not-for-us', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 1 });
    s.handlePacket(0, craft({ src: A_ADDR, dst: A_ADDR, srcPort: 5, dstPort: 81, seq: 1, flags: TCP_SYN }));
    expect(drainSegments(s)).toEqual([]);
    expect(s.stats().drops['not-for-us']).toBe(1);
  });
});
