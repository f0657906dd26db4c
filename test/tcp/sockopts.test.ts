// Per-socket options in the stack (src/tcp/sockopts.ts): inherited from the listener,
// carried by snapshot() and the state digest (so they replicate), defaults unchanged, bad
// values refused, and the timers they change.
import { describe, expect, it } from 'vitest';
import { Stack } from '../../src/tcp/stack.js';
import { StackError } from '../../src/tcp/types.js';
import { SERVER_PORT, established } from './fixtures.js';
import { A_ADDR, B_ADDR, MS, Pair, SEC, bytes, craft, drainSegments } from './harness.js';
import { TCP_ACK, TCP_SYN } from '../../src/wire/tcp.js';

describe('per-socket options', () => {
  it('a listener passes its options to the connections it accepts, before the SYN-ACK', () => {
    const p = new Pair();
    const lb = p.b.listen(p.now, { port: SERVER_PORT, options: { recvBufferBytes: 3000, maxSegment: 900, userTimeoutMs: 5000, cork: true } });
    const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: SERVER_PORT });
    p.runUntil(() => p.a.info(ca).state === 'ESTABLISHED');
    p.settle();
    const sb = p.b.accept(lb)!;
    expect(p.b.socketOptions(sb)).toEqual({ recvBufferBytes: 3000, sendBufferBytes: 1_048_576, maxSegment: 900, userTimeoutMs: 5000, notSentLowat: 0, cork: true, noDelay: false, tos: 0, dontFragment: true });
    const synAck = p.wire.find((w) => w.from === 'b')!.seg;
    expect(synAck.window).toBe(3000);
    expect(synAck.options.find((o) => o.kind === 'mss')).toEqual({ kind: 'mss', mss: 900 });
    // The client's send MSS follows the clamp the server announced (less the timestamps).
    expect(p.a.info(ca).mss).toBe(900 - 12);
    expect(p.b.socketOptions(lb).maxSegment).toBe(900);
  });

  it('a socket without options snapshots as before they existed; one with them restores them', () => {
    const plain = established();
    const snap = new TextDecoder().decode(plain.p.b.snapshot());
    expect(snap).not.toMatch(/mssClamp|userTimeout|"cork"|"options"/);
    const c = established();
    c.p.b.setSocketOptions(c.p.now, c.sb, { sendBufferBytes: 5000, userTimeoutMs: 700, cork: true });
    const before = c.p.b.stateDigest();
    expect(before).not.toBe(plain.p.b.stateDigest());
    const restored = Stack.restore(c.p.b.snapshot());
    expect(restored.socketOptions(c.sb)).toEqual(c.p.b.socketOptions(c.sb));
    expect(restored.stateDigest()).toBe(before);
    c.p.b.setSocketOptions(c.p.now, c.sb, { userTimeoutMs: 0, cork: false });
    expect(c.p.b.socketOptions(c.sb)).toMatchObject({ userTimeoutMs: 0, cork: false, sendBufferBytes: 5000 });
  });

  it('the send buffer bounds what write() takes', () => {
    const c = established({ b: { sendBufferBytes: 100_000 } });
    c.p.b.setSocketOptions(c.p.now, c.sb, { sendBufferBytes: 4000 });
    expect(c.p.b.write(c.p.now, c.sb, bytes(10_000))).toBe(4000);
    expect(c.p.b.info(c.sb).writable).toBe(0);
  });

  it('a socket sets the TOS byte (RFC 9293 MUST-48) and DF of its own segments only; 0 and DF leave no trace', () => {
    const c = established();
    const plain = c.p.b.stateDigest();
    const from = c.p.wire.length;
    c.p.b.setSocketOptions(c.p.now, c.sb, { tos: 0x28, dontFragment: false });
    expect(c.p.b.stateDigest()).not.toBe(plain);
    c.p.b.write(c.p.now, c.sb, bytes(100));
    c.p.a.write(c.p.now, c.ca, bytes(100));
    c.p.settle();
    const ip = (w: { bytes: Uint8Array }) => ({ tos: w.bytes[1], df: (w.bytes[6]! & 0x40) !== 0 });
    const sent = c.p.wire.slice(from);
    expect(sent.filter((w) => w.from === 'b').map(ip)).toContainEqual({ tos: 0x28, df: false });
    expect(sent.filter((w) => w.from === 'b').every((w) => ip(w).tos === 0x28)).toBe(true);
    expect(sent.filter((w) => w.from === 'a').every((w) => ip(w).tos === 0 && ip(w).df)).toBe(true);
    c.p.b.setSocketOptions(c.p.now, c.sb, { tos: 0, dontFragment: true });
    expect(new TextDecoder().decode(c.p.b.snapshot())).not.toMatch(/"tos"|noDf/);
    expect(() => c.p.b.setSocketOptions(c.p.now, c.sb, { tos: 256 })).toThrow(StackError);
  });

  it('refuses bad values with EINVAL', () => {
    const c = established();
    for (const bad of [{ maxSegment: 10 }, { recvBufferBytes: 0 }, { userTimeoutMs: -1 }, { cork: 1 as unknown as boolean }]) {
      expect(() => c.p.b.setSocketOptions(c.p.now, c.sb, bad)).toThrow(StackError);
    }
    expect(() => c.p.a.connect(c.p.now, { remoteAddress: B_ADDR, remotePort: 81, options: { sendBufferBytes: 1.5 } })).toThrow(/sendBufferBytes/);
  });

  it('keep-alive under a user timeout ends the connection once nothing was heard that long, not after the probe count', () => {
    const c = established({ b: { keepAliveIdleMs: 1000, keepAliveIntervalMs: 1000, keepAliveProbes: 100 } });
    c.p.b.setKeepAlive(c.sb, true);
    c.p.b.setSocketOptions(c.p.now, c.sb, { userTimeoutMs: 2500 });
    const start = c.p.now;
    c.p.dropHook = () => true; // the client is gone
    c.p.runUntil(() => c.p.events.b.some((e) => e.type === 'closed'), start + 60 * SEC);
    const closed = c.p.events.b.find((e) => e.type === 'closed');
    expect(closed).toEqual({ type: 'closed', socket: c.sb, error: 'ETIMEDOUT' });
    // Probes at idle (1 s), 2 s, 3 s: the one at 3 s finds 2.5 s of silence and gives up.
    expect(c.p.now - start).toBeGreaterThanOrEqual(2500 * MS);
    expect(c.p.now - start).toBeLessThanOrEqual(3000 * MS + 50 * MS);
  });

  it('a user timeout also bounds zero-window probing', () => {
    const c = established();
    c.p.b.setSocketOptions(c.p.now, c.sb, { userTimeoutMs: 3000 });
    // The client never reads: its window closes, and the server probes it.
    c.p.b.write(c.p.now, c.sb, bytes(3_000_000));
    const start = c.p.now;
    c.p.runUntil(() => c.p.events.b.some((e) => e.type === 'closed'), start + 600 * SEC);
    expect(c.p.events.b.find((e) => e.type === 'closed')).toEqual({ type: 'closed', socket: c.sb, error: 'ETIMEDOUT' });
    expect(c.p.now - start).toBeLessThan(60 * SEC);
  });

  it('a SYN cookie carries the MSS clamp and receive buffer of the listener, and its connection gets the options', () => {
    const server = new Stack({ addresses: [B_ADDR], seed: 2 });
    const now = SEC;
    const lb = server.listen(now, { port: SERVER_PORT, backlog: 1, options: { maxSegment: 700, recvBufferBytes: 5000, userTimeoutMs: 900 } });
    const syn = (srcPort: number): Uint8Array => craft({ src: A_ADDR, dst: B_ADDR, srcPort, dstPort: SERVER_PORT, seq: 1000, flags: TCP_SYN, options: [{ kind: 'mss', mss: 1460 }] });
    server.handlePacket(now, syn(40000)); // fills the backlog
    const held = drainSegments(server)[0]!;
    server.handlePacket(now, syn(40001)); // answered with a cookie
    const cookie = drainSegments(server)[0]!;
    expect(server.stats().synCookiesSent).toBe(1);
    for (const synAck of [held, cookie]) {
      expect(synAck.window).toBe(5000);
      expect(synAck.options.find((o) => o.kind === 'mss')).toEqual({ kind: 'mss', mss: 700 });
    }
    server.handlePacket(now + MS, craft({ src: A_ADDR, dst: B_ADDR, srcPort: 40001, dstPort: SERVER_PORT, seq: 1001, ack: cookie.seq + 1, flags: TCP_ACK }));
    expect(server.stats().synCookiesValidated).toBe(1);
    const sb = server.accept(lb)!;
    expect(server.info(sb).remotePort).toBe(40001);
    expect(server.info(sb).mss).toBeLessThanOrEqual(700);
    expect(server.socketOptions(sb)).toMatchObject({ maxSegment: 700, recvBufferBytes: 5000, userTimeoutMs: 900 });
  });
});
