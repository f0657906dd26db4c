/**
 * snapshot()/restore(): a restored stack fed the same inputs emits byte-identical packets
 * and the same events as the original; corrupt snapshots are refused with EINVAL.
 */
import { describe, expect, it } from 'vitest';
import { SNAPSHOT_VERSION } from '../../src/tcp/snapshot.js';
import { frameSnapshot } from '../../src/tcp/snapshot-frame.js';
import { Stack } from '../../src/tcp/stack.js';
import { StackError } from '../../src/tcp/types.js';
import { established, state } from './fixtures.js';
import { TCP_ACK, TCP_SYN } from '../../src/wire/tcp.js';
import { A_ADDR, B_ADDR, bytes, concat, craft, drainEvents, drainSegments, Pair, readAll, sameBytes } from './harness.js';
import { ScriptedPeer } from './scripted-peer.js';

interface Call {
  name: string;
  args: unknown[];
  result: unknown;
}

const METHODS = [
  'handlePacket', 'handleTimeout', 'pollTransmit', 'pollEvent', 'pollTimeout', 'write', 'read', 'shutdown',
  'close', 'abort', 'accept', 'connect', 'listen', 'setNoDelay', 'setKeepAlive',
] as const;

/** Record every call made on `s` (and what it returned) from now on. */
function record(s: Stack): Call[] {
  const log: Call[] = [];
  const target = s as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of METHODS) {
    const orig = target[name]!.bind(s);
    target[name] = (...args: unknown[]) => {
      const result = orig(...args);
      log.push({ name, args, result });
      return result;
    };
  }
  return log;
}

/** Make the same calls on `s`, checking that every result is the same. Returns the packet count. */
function replay(s: Stack, log: Call[]): number {
  const target = s as unknown as Record<string, (...a: unknown[]) => unknown>;
  let packets = 0;
  log.forEach((c, i) => {
    const result = target[c.name]!(...c.args);
    if (c.result instanceof Uint8Array) {
      expect(result instanceof Uint8Array && sameBytes(result, c.result), `call ${i} ${c.name}: bytes differ`).toBe(true);
      if (c.name === 'pollTransmit') packets++;
    } else {
      expect(result, `call ${i} ${c.name}`).toEqual(c.result);
    }
  });
  return packets;
}

describe('snapshot/restore', () => {
  it('a restored stack replays the rest of a lossy two-way transfer byte for byte', () => {
    const { p, ca, sb } = established({ a: { mslMs: 50 }, b: { mslMs: 50 } });
    let r = 99;
    const rnd = (): number => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32);
    p.dropHook = () => rnd() < 0.03;
    const size = 300_000;
    const up = bytes(size, 11);
    const down = bytes(size, 12);
    const sent = { a: 0, b: 0 };
    const got = { a: [] as Uint8Array[], b: [] as Uint8Array[] };
    const received = (): number => got.a.reduce((n, x) => n + x.length, 0) + got.b.reduce((n, x) => n + x.length, 0);
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
    p.runUntil(() => received() >= size); // halfway
    expect(p.a.stats().retransmits + p.b.stats().retransmits).toBeGreaterThan(0);

    const snapA = p.a.snapshot();
    const snapB = p.b.snapshot();
    const ra = Stack.restore(snapA);
    const rb = Stack.restore(snapB);
    expect(sameBytes(ra.snapshot(), snapA)).toBe(true);
    expect(sameBytes(rb.snapshot(), snapB)).toBe(true);
    const logA = record(p.a);
    const logB = record(p.b);
    p.runUntil(() => state(p, 'a', ca) === 'CLOSED' && state(p, 'b', sb) === 'CLOSED', 1_000_000);
    expect(sameBytes(concat(got.b), up)).toBe(true);
    expect(sameBytes(concat(got.a), down)).toBe(true);

    expect(replay(ra, logA)).toBeGreaterThan(50);
    expect(replay(rb, logB)).toBeGreaterThan(50);
    expect(sameBytes(ra.snapshot(), p.a.snapshot())).toBe(true);
    expect(sameBytes(rb.snapshot(), p.b.snapshot())).toBe(true);
    expect(rb.stats()).toEqual(p.b.stats());
  });

  it('keeps queued packets, queued events, timers, listeners and the PRNG', () => {
    const p = new Pair();
    p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 80 });
    p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 80 });
    // Two SYNs queued, not polled yet.
    const snap = p.a.snapshot();
    const ra = Stack.restore(snap);
    expect(ra.pollTimeout()).toBe(p.a.pollTimeout());
    for (let i = 0; i < 2; i++) expect(sameBytes(ra.pollTransmit()!, p.a.pollTransmit()!)).toBe(true);
    expect(ra.pollTransmit()).toBeUndefined();
    // The PRNG continues identically: same ephemeral port and ISN for the next connect.
    const x = p.a.connect(p.now + 5, { remoteAddress: B_ADDR, remotePort: 80 });
    const y = ra.connect(p.now + 5, { remoteAddress: B_ADDR, remotePort: 80 });
    expect(ra.info(y)).toEqual(p.a.info(x));
    // A listener with a queued, unpolled 'incoming' event and a connection in its accept queue.
    const s = new Stack({ addresses: [B_ADDR], seed: 5 });
    const l = s.listen(0, { port: 80 });
    const peer = { src: A_ADDR, dst: B_ADDR, srcPort: 4000, dstPort: 80 };
    s.handlePacket(10, craft({ ...peer, seq: 7, flags: TCP_SYN }));
    const synAck = drainSegments(s)[0]!;
    s.handlePacket(20, craft({ ...peer, seq: 8, ack: synAck.seq + 1, flags: TCP_ACK, payload: bytes(10) }));
    const rs = Stack.restore(s.snapshot());
    expect(drainSegments(rs)).toEqual(drainSegments(s)); // the quick ACK of the data (receiver.ts): queued in both
    expect(drainEvents(rs)).toEqual([{ type: 'incoming', socket: l }]);
    expect(drainEvents(s)).toEqual([{ type: 'incoming', socket: l }]);
    expect(rs.sockets()).toEqual(s.sockets());
    const c1 = s.accept(l)!;
    const c2 = rs.accept(l)!;
    expect(c2).toBe(c1);
    expect(drainEvents(rs)).toEqual(drainEvents(s));
    expect(sameBytes(rs.read(30, c2), s.read(30, c1))).toBe(true);
    expect(rs.pollTimeout()).toBe(s.pollTimeout());
    rs.handleTimeout(40_000);
    s.handleTimeout(40_000);
    expect(drainSegments(rs)).toEqual(drainSegments(s));
  });

  it('holds every tagged kind exactly (rings, out-of-order data, queued packets, maps): the same bytes twice, and again after a restore', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 5 });
    const l = s.listen(0, { port: 80 });
    const peer = { src: A_ADDR, dst: B_ADDR, srcPort: 4000, dstPort: 80 };
    s.handlePacket(10, craft({ ...peer, seq: 7, flags: TCP_SYN }));
    const synAck = drainSegments(s)[0]!;
    s.handlePacket(20, craft({ ...peer, seq: 8, ack: synAck.seq + 1, flags: TCP_ACK, payload: bytes(10) })); // in order: rcvBuf
    s.handlePacket(30, craft({ ...peer, seq: 28, ack: synAck.seq + 1, flags: TCP_ACK, payload: bytes(5, 3) })); // a hole: reassembly
    const c = s.accept(l)!;
    s.write(40, c, bytes(3000, 1)); // sndBuf, and segments queued unpolled
    const snap = s.snapshot();
    expect(sameBytes(s.snapshot(), snap)).toBe(true);
    const r = Stack.restore(snap);
    expect(sameBytes(r.snapshot(), snap)).toBe(true);
    const st = r.state();
    expect(st.listeners).toBeInstanceOf(Map);
    expect(st.conns).toBeInstanceOf(Map);
    expect(st.transmitQueue.length).toBeGreaterThan(0);
    expect(st.transmitQueue.every((x) => x instanceof Uint8Array)).toBe(true);
    const tcb = st.conns.get(c)!;
    expect(tcb.rcvBuf.length).toBe(10);
    expect(tcb.sndBuf.length).toBe(3000);
    expect(tcb.ooo.segs.length).toBe(1);
    expect(sameBytes(tcb.ooo.segs[0]!.data, bytes(5, 3))).toBe(true);
    expect(sameBytes(r.read(50, c), s.read(50, c))).toBe(true);
    expect(drainSegments(r)).toEqual(drainSegments(s));
  });

  it('refuses corrupt bytes with StackError EINVAL and a clear message', () => {
    const { p } = established();
    const snap = p.a.snapshot();
    const expectEinval = (bytes: Uint8Array, msg: RegExp): void => {
      let err: unknown;
      try {
        Stack.restore(bytes);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(StackError);
      expect((err as StackError).code).toBe('EINVAL');
      expect((err as StackError).message).toMatch(msg);
    };
    const flipped = snap.slice();
    flipped[snap.length - 10]! ^= 0x01;
    expectEinval(flipped, /CRC-32 mismatch/);
    expectEinval(snap.subarray(0, 10), /shorter than the 20-byte header/);
    expectEinval(snap.subarray(0, snap.length - 1), /payload length/);
    const magic = snap.slice();
    magic[0] = 0;
    expectEinval(magic, /bad magic/);
    const version = snap.slice();
    new DataView(version.buffer).setUint32(8, SNAPSHOT_VERSION + 1);
    expectEinval(version, /format version/);
    // Well framed (good CRC) but not a stack state.
    const frame = (json: string): Uint8Array => frameSnapshot({ magic: 'FTCPSNAP', version: SNAPSHOT_VERSION, what: 'snapshot' }, new TextEncoder().encode(json));
    expectEinval(frame('{"cfg": 1'), /not valid JSON/);
    expectEinval(frame('{"cfg": {}}'), /field 'prng'/);
    expectEinval(frame('[]'), /field 'cfg'/);
  });
});

describe('snapshot/restore in the middle of loss recovery', () => {
  // The timer that fires at the end: the RTO, or with RACK-TLP the tail loss probe before it.
  for (const [name, sack, cfg, timer] of [
    ['SACK recovery (RFC 6675) with CUBIC', true, { congestionControl: 'cubic', rack: false, prr: false }, 'timeouts'],
    ['RACK-TLP (RFC 8985) and PRR (RFC 6937) recovery with CUBIC', true, { congestionControl: 'cubic' }, 'tlpProbes'],
    ['NewReno recovery (RFC 6582) with NewReno', false, { congestionControl: 'newreno' }, 'timeouts'],
  ] as const) {
    it(`${name}: the restored stack emits byte-identical packets`, () => {
      const p = new ScriptedPeer(sack, cfg);
      p.s.write(p.now, p.id, bytes(60_000, 5));
      drainSegments(p.s);
      // Segments at 1, 3001 and 6001 are lost; enter recovery.
      const sacks: [number, number][][] = [[[1001, 3001]], [[1001, 3001], [4001, 6001]], [[1001, 3001], [4001, 6001], [7001, 10_001]]];
      for (const blocks of sacks) p.ack(sack ? 10 : 0, 1, sack ? blocks : []);
      expect(p.s.stats().fastRecoveries).toBe(1);
      expect(p.s.stats().sackRecoveries).toBe(sack ? 1 : 0);
      const snap = p.s.snapshot();
      const r = Stack.restore(snap);
      expect(sameBytes(r.snapshot(), snap)).toBe(true);
      // The rest of the recovery, then new data in congestion avoidance, then an RTO.
      const inputs: [number, Uint8Array][] = [];
      let t = p.now;
      const push = (dtMs: number, pkt: Uint8Array): void => {
        t += dtMs * 1000;
        inputs.push([t, pkt]);
      };
      push(30, p.ackPacket(3001, sack ? [[4001, 6001], [7001, 10_001]] : []));
      push(10, p.ackPacket(6001, sack ? [[7001, 10_001]] : []));
      push(10, p.ackPacket(12_001));
      for (let a = 13_001; a <= 30_001; a += 1000) push(5, p.ackPacket(a));
      let packets = 0;
      for (const [now, pkt] of inputs) {
        p.s.handlePacket(now, pkt);
        r.handlePacket(now, pkt);
        for (let x = p.s.pollTransmit(); x !== undefined; x = p.s.pollTransmit()) {
          expect(sameBytes(r.pollTransmit()!, x)).toBe(true);
          packets++;
        }
        expect(r.pollTransmit()).toBeUndefined();
      }
      // An RTO (or a probe): both time out at the same deadline and send the same retransmission.
      const deadline = p.s.pollTimeout()!;
      expect(deadline).toBeGreaterThan(t);
      expect(r.pollTimeout()).toBe(deadline);
      p.s.handleTimeout(deadline);
      r.handleTimeout(deadline);
      const rto = drainSegments(p.s);
      expect(rto.length).toBe(1);
      expect(drainSegments(r)).toEqual(rto);
      expect(p.s.stats()[timer]).toBe(1);
      expect(packets).toBeGreaterThan(10);
      expect(r.info(p.id)).toEqual(p.s.info(p.id));
      expect(r.stats()).toEqual(p.s.stats());
      expect(sameBytes(r.snapshot(), p.s.snapshot())).toBe(true);
    });
  }
});
