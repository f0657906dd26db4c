// The stack's reaction to ICMP errors about its segments: RFC 1191 path-MTU discovery,
// RFC 5927 §4.1 validation, RFC 1122 4.2.3.9 / RFC 5461 soft and hard errors.
import { describe, expect, it } from 'vitest';
import { Stack } from '../../src/tcp/stack.js';
import type { SocketId, StackConfig } from '../../src/tcp/types.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { buildIcmpTcpError, ICMP_CODE_FRAG_NEEDED, ICMP_DEST_UNREACHABLE } from '../../src/wire/icmp.js';
import { TCP_ACK, TCP_SYN, type TcpOption, type TcpSegment } from '../../src/wire/tcp.js';
import { A_ADDR, B_ADDR, craft, drainEvents, drainSegments } from './harness.js';

const ROUTER = parseIpv4Addr('192.0.2.254');
const PEER = { src: A_ADDR, dst: B_ADDR, dstPort: 80 };

/** A server stack with one ESTABLISHED connection from A_ADDR:`port`, the peer announcing MSS 1460. */
function server(cfg: Partial<StackConfig> = {}, port = 4000, s?: Stack, startUs = 1_000_000): { s: Stack; id: SocketId; iss: number; now: number; synAck: TcpSegment } {
  s ??= new Stack({ addresses: [B_ADDR], seed: 9, timestamps: false, ...cfg });
  let now = startUs;
  const l = s.listen(now, { port: 80 });
  const opts: TcpOption[] = [{ kind: 'mss', mss: 1460 }];
  s.handlePacket(now, craft({ ...PEER, srcPort: port, seq: 0, flags: TCP_SYN, options: opts }));
  const synAck = drainSegments(s)[0]!;
  now += 10_000;
  s.handlePacket(now, craft({ ...PEER, srcPort: port, seq: 1, ack: synAck.seq + 1, flags: TCP_ACK }));
  const id = s.accept(l)!;
  s.close(now, l);
  return { s, id, iss: synAck.seq, now, synAck };
}

/** server() after a "fragmentation needed" with MTU 1200 about its first full segment. */
function learnt(): { s: Stack; id: SocketId; now: number } {
  const { s, id, iss, now } = server();
  s.write(now, id, new Uint8Array(1460));
  drainSegments(s);
  s.handlePacket(now, icmp(ICMP_CODE_FRAG_NEEDED, iss + 1, { mtu: 1200 }));
  drainSegments(s);
  return { s, id, now };
}

function icmp(code: number, seq: number, opts: { mtu?: number; port?: number; totalLength?: number } = {}): Uint8Array {
  return buildIcmpTcpError(
    { src: ROUTER, dst: B_ADDR, id: 1 },
    { type: ICMP_DEST_UNREACHABLE, code, nextHopMtu: opts.mtu ?? 0, quoted: { src: B_ADDR, dst: A_ADDR, srcPort: 80, dstPort: opts.port ?? 4000, seq, totalLength: opts.totalLength ?? 1500 } },
  );
}

const rel = (iss: number, segs: TcpSegment[]) => segs.map((g) => [(g.seq - iss) >>> 0, g.payload.length]);

describe('RFC 1191 path-MTU discovery', () => {
  it('a "fragmentation needed" with MTU 1200 lowers the send MSS to 1160 and resends what no longer fits, in segments of 1160', () => {
    const { s, id, iss, now } = server();
    expect(s.info(id).mss).toBe(1460);
    s.write(now, id, new Uint8Array(2920));
    expect(rel(iss, drainSegments(s))).toEqual([[1, 1460], [1461, 1460]]);
    const before = s.stats();
    s.handlePacket(now + 1000, icmp(ICMP_CODE_FRAG_NEEDED, iss + 1, { mtu: 1200 }));
    expect(s.info(id).mss).toBe(1160);
    // From SND.UNA again, 2920 bytes in 1160-byte segments, cwnd untouched (RFC 1191 §6.5: not congestion).
    expect(rel(iss, drainSegments(s))).toEqual([[1, 1160], [1161, 1160], [2321, 600]]);
    const after = s.stats();
    expect(after.pmtuDecreases).toBe(1);
    expect(after.retransmits - before.retransmits).toBe(3);
    expect(after.timeouts).toBe(before.timeouts);
  });

  it('with SACK (RACK keeps each segment): segments that still fit are not resent, the first too long one and what follows are', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 9, timestamps: false });
    const now = 1_000_000;
    const l = s.listen(now, { port: 80 });
    s.handlePacket(now, craft({ ...PEER, srcPort: 4000, seq: 0, flags: TCP_SYN, options: [{ kind: 'mss', mss: 1460 }, { kind: 'sackOk' }] }));
    const iss = drainSegments(s)[0]!.seq;
    s.handlePacket(now, craft({ ...PEER, srcPort: 4000, seq: 1, ack: iss + 1, flags: TCP_ACK }));
    const id = s.accept(l)!;
    s.setNoDelay(id, true);
    s.write(now, id, new Uint8Array(500));
    s.write(now, id, new Uint8Array(1460));
    expect(rel(iss, drainSegments(s))).toEqual([[1, 500], [501, 1460]]);
    s.handlePacket(now, icmp(ICMP_CODE_FRAG_NEEDED, iss + 1, { mtu: 1200 }));
    expect(rel(iss, drainSegments(s))).toEqual([[501, 1160], [1661, 300]]);
    expect(s.info(id).mss).toBe(1160);
    s.handlePacket(now, icmp(ICMP_CODE_FRAG_NEEDED, iss + 1, { mtu: 1000 }));
    expect(rel(iss, drainSegments(s))).toEqual([[501, 960], [1461, 500]]);
  });

  it('the congestion window and ssthresh are what they were before the message', () => {
    const { s, id, iss, now } = server();
    s.write(now, id, new Uint8Array(1460));
    drainSegments(s);
    const tcb = s.state().conns.get(id)!;
    const { cwnd, ssthresh } = tcb.cc;
    s.handlePacket(now + 1000, icmp(ICMP_CODE_FRAG_NEEDED, iss + 1, { mtu: 1200 }));
    expect([tcb.cc.cwnd, tcb.cc.ssthresh]).toEqual([cwnd, ssthresh]);
  });

  it('with timestamps the 12 option bytes come off too: MTU 1200 gives MSS 1148', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 9 });
    let now = 1_000_000;
    s.listen(now, { port: 80 });
    s.handlePacket(now, craft({ ...PEER, srcPort: 4000, seq: 0, flags: TCP_SYN, options: [{ kind: 'mss', mss: 1460 }, { kind: 'ts', val: 5, ecr: 0 }] }));
    const synAck = drainSegments(s)[0]!;
    now += 10_000;
    s.handlePacket(now, craft({ ...PEER, srcPort: 4000, seq: 1, ack: synAck.seq + 1, flags: TCP_ACK, options: [{ kind: 'ts', val: 6, ecr: 0 }] }));
    const id = s.accept(1)!;
    expect(s.info(id).mss).toBe(1448);
    s.write(now, id, new Uint8Array(100));
    drainSegments(s);
    s.handlePacket(now, icmp(ICMP_CODE_FRAG_NEEDED, synAck.seq + 1, { mtu: 1200 }));
    expect(s.info(id).mss).toBe(1148);
  });

  it('a later connection to the same destination sends at most the learnt MSS, and still announces 1460', () => {
    const { s, now } = learnt();
    const second = server({}, 4001, s, now);
    expect(second.synAck.options).toContainEqual({ kind: 'mss', mss: 1460 });
    expect(s.info(second.id).mss).toBe(1160);
  });

  it('the learnt value ages out after 10 minutes (RFC 1191 §6.3): a connection made then uses the full MSS', () => {
    const { s, id, now } = learnt();
    s.abort(now, id);
    drainSegments(s);
    expect(s.info(server({}, 4001, s, now + 599_000_000).id).mss).toBe(1160);
    expect(s.info(server({}, 4002, s, now + 600_000_000).id).mss).toBe(1460);
  });

  it('an MTU that would raise the PMTU is ignored and counted; one below 552 is taken as 552', () => {
    const { s, id, iss, now } = server();
    s.write(now, id, new Uint8Array(1460));
    drainSegments(s);
    s.handlePacket(now, icmp(ICMP_CODE_FRAG_NEEDED, iss + 1, { mtu: 1500 }));
    expect(s.info(id).mss).toBe(1460);
    expect(s.stats().drops['icmp-pmtu-not-lower']).toBe(1);
    expect(drainSegments(s)).toEqual([]);
    s.handlePacket(now, icmp(ICMP_CODE_FRAG_NEEDED, iss + 1, { mtu: 100 }));
    expect(s.info(id).mss).toBe(512);
  });

  it('without a next-hop MTU (a router older than RFC 1191) the next plateau below the quoted length is used (§7)', () => {
    const { s, id, iss, now } = server();
    s.write(now, id, new Uint8Array(1460));
    drainSegments(s);
    s.handlePacket(now, icmp(ICMP_CODE_FRAG_NEEDED, iss + 1, { mtu: 0, totalLength: 1500 }));
    expect(s.info(id).mss).toBe(1492 - 40);
  });
});

describe('RFC 5927 §4.1: the quoted sequence number must be one we sent and is unacknowledged', () => {
  it('below SND.UNA or beyond SND.NXT: dropped and counted, the MSS unchanged, nothing sent', () => {
    const { s, id, iss, now } = server();
    s.write(now, id, new Uint8Array(1460));
    drainSegments(s);
    for (const seq of [iss, iss + 1462, iss + 0x80000000]) s.handlePacket(now, icmp(ICMP_CODE_FRAG_NEEDED, seq >>> 0, { mtu: 1200 }));
    expect(s.stats().drops['icmp-out-of-window']).toBe(3);
    expect(s.info(id).mss).toBe(1460);
    expect(drainSegments(s)).toEqual([]);
    s.handlePacket(now, icmp(ICMP_CODE_FRAG_NEEDED, iss + 1461, { mtu: 1200 })); // SND.NXT itself: accepted, as Linux
    expect(s.info(id).mss).toBe(1160);
  });

  it('a message for no connection of ours is dropped and counted', () => {
    const { s, iss, now } = server();
    s.handlePacket(now, icmp(ICMP_CODE_FRAG_NEEDED, iss + 1, { mtu: 1200, port: 4999 }));
    expect(s.stats().drops['icmp-no-connection']).toBe(1);
  });

  it('a malformed ICMP message is a counted drop, never a throw', () => {
    const { s, iss, now } = server();
    const bad = icmp(ICMP_CODE_FRAG_NEEDED, iss + 1, { mtu: 1200 });
    bad[bad.length - 1] ^= 1; // breaks the ICMP checksum (the IPv4 header's is intact)
    s.handlePacket(now, bad);
    expect(s.stats().drops['icmp-bad-checksum']).toBe(1);
  });
});

describe('RFC 1122 4.2.3.9 / RFC 5461: other unreachables', () => {
  it('host unreachable on an ESTABLISHED connection is a soft error: it carries on, and a later timeout reports EHOSTUNREACH', () => {
    const { s, id, iss, now } = server({ maxRetries: 2 });
    s.write(now, id, new Uint8Array(100));
    drainSegments(s);
    s.handlePacket(now, icmp(1, iss + 1));
    expect(s.info(id).state).toBe('ESTABLISHED');
    drainEvents(s);
    let t = now;
    for (let i = 0; i < 20 && s.info(id).state !== 'CLOSED'; i++) {
      t = s.pollTimeout()!;
      s.handleTimeout(t);
      drainSegments(s);
    }
    expect(drainEvents(s)).toContainEqual({ type: 'closed', socket: id, error: 'EHOSTUNREACH' });
  });

  it('port unreachable on ESTABLISHED is soft too (RFC 5461 §4): the connection stays', () => {
    const { s, id, iss, now } = server();
    s.write(now, id, new Uint8Array(100));
    drainSegments(s);
    s.handlePacket(now, icmp(3, iss + 1));
    expect(s.info(id).state).toBe('ESTABLISHED');
  });

  it('port unreachable in SYN-SENT aborts the connect with ECONNREFUSED; host unreachable does only under profile linux', () => {
    for (const [profile, code, closed] of [['rfc', 3, true], ['rfc', 1, false], ['linux', 1, true]] as const) {
      const s = new Stack({ addresses: [B_ADDR], seed: 9, profile });
      const id = s.connect(0, { remoteAddress: A_ADDR, remotePort: 80 });
      const syn = drainSegments(s)[0]!;
      s.handlePacket(1000, buildIcmpTcpError({ src: ROUTER, dst: B_ADDR, id: 1 }, { type: 3, code, quoted: { src: B_ADDR, dst: A_ADDR, srcPort: syn.srcPort, dstPort: 80, seq: syn.seq, totalLength: 60 } }));
      const ev = drainEvents(s).find((e) => e.type === 'closed');
      expect(ev !== undefined, `${profile} code ${code}`).toBe(closed);
      if (closed) expect(ev).toEqual({ type: 'closed', socket: id, error: code === 3 ? 'ECONNREFUSED' : 'EHOSTUNREACH' });
    }
  });

  it('source quench is discarded (RFC 6633)', () => {
    const { s, id, iss, now } = server();
    s.write(now, id, new Uint8Array(100));
    drainSegments(s);
    s.handlePacket(now, buildIcmpTcpError({ src: ROUTER, dst: B_ADDR, id: 1 }, { type: 4, code: 0, quoted: { src: B_ADDR, dst: A_ADDR, srcPort: 80, dstPort: 4000, seq: iss + 1, totalLength: 140 } }));
    expect(s.stats().drops['icmp-source-quench']).toBe(1);
    expect(s.state().conns.get(id)!.softError).toBeUndefined();
  });
});

describe('snapshot and digest', () => {
  it('a stack restored after a PMTU decrease has the same digest and keeps the learnt value for new connections', () => {
    const { s, id, iss, now } = server();
    s.write(now, id, new Uint8Array(1460));
    drainSegments(s);
    const untouched = s.stateDigest();
    s.handlePacket(now, icmp(ICMP_CODE_FRAG_NEEDED, iss + 1, { mtu: 1200 }));
    drainSegments(s);
    expect(s.stateDigest()).not.toBe(untouched);
    const r = Stack.restore(s.snapshot());
    expect(r.stateDigest()).toBe(s.stateDigest());
    const { s: r2, id: id2 } = server({}, 4002, r);
    expect(r2.info(id2).mss).toBe(1160);
  });
});
