/**
 * The socket API: typed errors for misuse, handles and their release, listener backlog
 * and connection limits, ephemeral ports, ISNs (RFC 6528), IP ID and TTL, events.
 */
import { describe, expect, it } from 'vitest';
import { generateIsn } from '../../src/tcp/isn.js';
import { Stack } from '../../src/tcp/stack.js';
import { StackError, type StackErrorCode } from '../../src/tcp/types.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { parseTcpPacket } from '../../src/wire/packet.js';
import { TCP_ACK, TCP_SYN } from '../../src/wire/tcp.js';
import { established, state } from './fixtures.js';
import { A_ADDR, B_ADDR, bytes, craft, drainEvents, drainSegments, Pair, SEC } from './harness.js';

function code(fn: () => unknown): StackErrorCode | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof StackError) return e.code;
    throw e;
  }
  return undefined;
}

describe('API misuse throws StackError with a stable code', () => {
  it('config', () => {
    expect(code(() => new Stack({ addresses: [], seed: 1 }))).toBe('EINVAL');
    expect(code(() => new Stack({ addresses: [B_ADDR], seed: 1, mtu: 10 }))).toBe('EINVAL');
    expect(code(() => new Stack({ addresses: [B_ADDR], seed: 1, rtoMinMs: 500, rtoMaxMs: 100 }))).toBe('EINVAL');
    expect(code(() => new Stack({ addresses: [B_ADDR], seed: 1, delayedAckMs: 600 }))).toBe('EINVAL');
  });

  it('listen', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 1 });
    expect(code(() => s.listen(0, { port: 0 }))).toBe('EINVAL');
    expect(code(() => s.listen(0, { port: 70000 }))).toBe('EINVAL');
    expect(code(() => s.listen(0, { port: 80, address: A_ADDR }))).toBe('EADDRNOTAVAIL');
    expect(code(() => s.listen(0, { port: 80, backlog: 0 }))).toBe('EINVAL');
    s.listen(0, { port: 80 });
    expect(code(() => s.listen(0, { port: 80 }))).toBe('EADDRINUSE');
    expect(code(() => s.listen(0, { port: 80, address: B_ADDR }))).toBe('EADDRINUSE');
  });

  it('connect', () => {
    const s = new Stack({ addresses: [A_ADDR], seed: 1, maxConnections: 2 });
    expect(code(() => s.connect(0, { remoteAddress: 0, remotePort: 80 }))).toBe('EINVAL');
    expect(code(() => s.connect(0, { remoteAddress: parseIpv4Addr('224.0.0.1'), remotePort: 80 }))).toBe('EINVAL');
    expect(code(() => s.connect(0, { remoteAddress: B_ADDR, remotePort: 0 }))).toBe('EINVAL');
    expect(code(() => s.connect(0, { remoteAddress: B_ADDR, remotePort: 80, localAddress: B_ADDR }))).toBe('EADDRNOTAVAIL');
    s.connect(0, { remoteAddress: B_ADDR, remotePort: 80, localPort: 5000 });
    expect(code(() => s.connect(0, { remoteAddress: B_ADDR, remotePort: 80, localPort: 5000 }))).toBe('EADDRINUSE');
    s.connect(0, { remoteAddress: B_ADDR, remotePort: 80 });
    expect(code(() => s.connect(0, { remoteAddress: B_ADDR, remotePort: 81 }))).toBe('EMFILE');
  });

  it('socket calls on the wrong kind of socket, unknown, closed or shut-down sockets', () => {
    const { p, ca, lb } = established();
    expect(code(() => p.b.accept(999))).toBe('EBADF');
    expect(code(() => p.a.accept(ca))).toBe('EINVAL');
    expect(code(() => p.b.read(p.now, lb))).toBe('EINVAL');
    expect(code(() => p.b.write(p.now, lb, bytes(1)))).toBe('EINVAL');
    expect(code(() => p.a.read(p.now, ca, -1))).toBe('EINVAL');
    expect(code(() => p.a.info(12345))).toBe('EBADF');
    p.a.shutdown(p.now, ca);
    expect(code(() => p.a.write(p.now, ca, bytes(1)))).toBe('EPIPE');
    p.a.close(p.now, ca);
    expect(code(() => p.a.read(p.now, ca))).toBe('EBADF');
    expect(code(() => p.a.close(p.now, ca))).toBe('EBADF');
  });
});

describe('handles', () => {
  it('are never reused; released when CLOSED and closed by the user; closed is reported once', () => {
    const { p, ca, sb, lb } = established({ a: { mslMs: 10 }, b: { mslMs: 10 } });
    expect(p.a.sockets()).toEqual([ca]);
    expect(p.b.sockets()).toEqual([lb, sb]);
    p.b.abort(p.now, sb);
    p.settle();
    // a was reset but not closed by the user: the handle stays, in CLOSED.
    expect(state(p, 'a', ca)).toBe('CLOSED');
    expect(p.a.sockets()).toEqual([ca]);
    p.a.close(p.now, ca);
    expect(p.a.sockets()).toEqual([]);
    const closedA = p.events.a.filter((e) => e.type === 'closed');
    const closedB = p.events.b.filter((e) => e.type === 'closed');
    expect(closedA).toEqual([{ type: 'closed', socket: ca, error: 'ECONNRESET' }]);
    expect(closedB).toEqual([{ type: 'closed', socket: sb }]);
    const again = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 80 });
    expect(again).toBeGreaterThan(ca);
    expect(p.b.sockets()).toEqual([lb]);
  });

  it('closing a listener resets the connections it had not handed out', () => {
    const p = new Pair();
    const lb = p.b.listen(p.now, { port: 80 });
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 80 });
    p.runUntil(() => p.events.b.some((e) => e.type === 'incoming'));
    p.b.close(p.now, lb);
    p.settle();
    expect(p.events.a.filter((e) => e.type === 'closed')).toEqual([{ type: 'closed', socket: ca, error: 'ECONNRESET' }]);
    expect(p.b.sockets()).toEqual([]);
  });

  it('accept() replays readable and eof for data and FIN that came before it', () => {
    const p = new Pair();
    const lb = p.b.listen(p.now, { port: 80 });
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 80 });
    p.runUntil(() => state(p, 'a', ca) === 'ESTABLISHED');
    p.a.write(p.now, ca, bytes(100));
    p.a.shutdown(p.now, ca);
    p.settle();
    expect(p.events.b).toEqual([{ type: 'incoming', socket: lb }]);
    const sb = p.b.accept(lb)!;
    expect(drainEvents(p.b)).toEqual([
      { type: 'connected', socket: sb },
      { type: 'readable', socket: sb },
      { type: 'eof', socket: sb },
    ]);
    expect(state(p, 'b', sb)).toBe('CLOSE-WAIT');
    expect(p.b.read(p.now, sb)).toHaveLength(100);
  });
});

describe('limits', () => {
  const syn = (srcPort: number, seq = 1000): Uint8Array => craft({ src: A_ADDR, dst: B_ADDR, srcPort, dstPort: 80, seq, flags: TCP_SYN });

  it('listen backlog bounds SYN-RECEIVED plus the accept queue; excess SYNs are dropped and counted (SYN cookies off)', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 1, synCookies: false });
    const l = s.listen(0, { port: 80, backlog: 2 });
    s.handlePacket(0, syn(4001));
    s.handlePacket(0, syn(4002));
    s.handlePacket(0, syn(4003));
    const out = drainSegments(s);
    expect(out.map((g) => g.dstPort)).toEqual([4001, 4002]);
    expect(s.stats().drops['listen-backlog-full']).toBe(1);
    // Complete one handshake and accept it: room for one more.
    s.handlePacket(10, craft({ src: A_ADDR, dst: B_ADDR, srcPort: 4001, dstPort: 80, seq: 1001, ack: out[0]!.seq + 1, flags: TCP_ACK }));
    expect(s.accept(l)).toBeDefined();
    s.handlePacket(20, syn(4003));
    expect(drainSegments(s).map((g) => g.dstPort)).toEqual([4003]);
  });

  it('with SYN cookies (the default) a SYN beyond the backlog is answered, and no state is kept for it', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 1 });
    s.listen(0, { port: 80, backlog: 2 });
    s.handlePacket(0, syn(4001));
    s.handlePacket(0, syn(4002));
    s.handlePacket(0, syn(4003));
    expect(drainSegments(s).map((g) => g.dstPort)).toEqual([4001, 4002, 4003]);
    expect(s.stats().synCookiesSent).toBe(1);
    expect(s.held().halfOpen).toBe(2);
  });

  it('maxConnections drops inbound SYNs (counted) and refuses connect() with EMFILE', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 1, maxConnections: 1 });
    s.listen(0, { port: 80 });
    s.handlePacket(0, syn(4001));
    s.handlePacket(0, syn(4002));
    expect(drainSegments(s)).toHaveLength(1);
    expect(s.stats().drops['too-many-connections']).toBe(1);
    expect(code(() => s.connect(0, { remoteAddress: A_ADDR, remotePort: 9 }))).toBe('EMFILE');
  });
});

describe('ports, ISNs, IP header', () => {
  it('ephemeral ports are in 49152-65535, distinct, and depend only on the seed', () => {
    const ports = (seed: number): number[] => {
      const s = new Stack({ addresses: [A_ADDR], seed });
      return Array.from({ length: 50 }, () => s.info(s.connect(0, { remoteAddress: B_ADDR, remotePort: 80 })).localPort);
    };
    const a = ports(7);
    expect(new Set(a).size).toBe(50);
    for (const port of a) expect(port >= 49152 && port <= 65535).toBe(true);
    expect(ports(7)).toEqual(a);
    expect(ports(8)).not.toEqual(a);
  });

  it('ISN = M + F(tuple, key) (RFC 6528): M ticks every 4 µs; F depends on the tuple and the key', () => {
    const key = { k0: 0x01234567, k1: 0x89abcdef };
    const f = (now: number, lp = 1000, k = key): number => generateIsn(now, k, A_ADDR, lp, B_ADDR, 80);
    expect((f(4000) - f(0)) >>> 0).toBe(1000);
    expect(f(3)).toBe(f(0));
    expect(f(0, 1001)).not.toBe(f(0, 1000));
    expect(f(0, 1000, { k0: 1, k1: 2 })).not.toBe(f(0));
    // Two stacks with different seeds pick different ISNs for the same tuple and time.
    const s1 = new Stack({ addresses: [A_ADDR], seed: 1 });
    const s2 = new Stack({ addresses: [A_ADDR], seed: 2 });
    const i1 = s1.info(s1.connect(0, { remoteAddress: B_ADDR, remotePort: 80, localPort: 5000 })).iss;
    const i2 = s2.info(s2.connect(0, { remoteAddress: B_ADDR, remotePort: 80, localPort: 5000 })).iss;
    expect(i1).not.toBe(i2);
  });

  it('IP ID is a per-stack counter; TTL and DF as configured', () => {
    const s = new Stack({ addresses: [A_ADDR], seed: 1, ttl: 33 });
    s.connect(0, { remoteAddress: B_ADDR, remotePort: 80 });
    s.connect(0, { remoteAddress: B_ADDR, remotePort: 81 });
    const ips = [s.pollTransmit()!, s.pollTransmit()!].map((b) => {
      const r = parseTcpPacket(b);
      if (!r.ok) throw new Error(r.reason);
      return r.ip;
    });
    expect(ips[1]!.id).toBe((ips[0]!.id + 1) & 0xffff);
    expect(ips[0]!.ttl).toBe(33);
    expect(ips[0]!.dontFragment).toBe(true);
  });

  it('stats() is a copy', () => {
    const s = new Stack({ addresses: [A_ADDR], seed: 1 });
    const st = s.stats();
    st.packetsIn = 99;
    st.drops.other = 5;
    expect(s.stats().packetsIn).toBe(0);
    expect(s.stats().drops.other).toBeUndefined();
  });

  it('TIME-WAIT gives way to a new SYN with a higher sequence number (RFC 1122 4.2.2.13)', () => {
    const { p, ca, sb, lb } = established({ b: { mslMs: 30_000 } });
    // b closes first, so the server side holds TIME-WAIT.
    p.b.close(p.now, sb);
    p.runUntil(() => state(p, 'a', ca) === 'CLOSE-WAIT');
    const i = p.a.info(ca);
    p.a.close(p.now, ca);
    p.runUntil(() => state(p, 'b', sb) === 'TIME-WAIT');
    p.runFor(1 * SEC);
    expect(p.b.sockets()).toEqual([lb, sb]);
    expect(state(p, 'b', sb)).toBe('TIME-WAIT');
    p.deliver('b', craft({ src: A_ADDR, dst: B_ADDR, srcPort: i.localPort, dstPort: 80, seq: i.sndNxt + 100_000, flags: TCP_SYN }));
    expect(p.sentBy('b').at(-1)!.seg.flags).toBe(TCP_SYN | TCP_ACK);
    expect(p.b.sockets()).toEqual([lb]);
  });
});
