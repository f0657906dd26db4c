// An ICMP "fragmentation needed" is an input like a client segment: the primary logs it on
// the same path, the backup applies it, and both stacks stay identical (the replication
// fault detector, Rsm.verify and the backup's fault event, compares them).
import { describe, expect, it } from 'vitest';
import { Rsm } from '../../src/replica/rsm.js';
import type { LogEntry } from '../../src/replica/log.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { buildIcmpTcpError, ICMP_CODE_FRAG_NEEDED, ICMP_DEST_UNREACHABLE } from '../../src/wire/icmp.js';
import { parseTcpPacket } from '../../src/wire/packet.js';
import { drainAll, exchange, pairWithClient } from './pair-harness.js';
import { CLIENT, PORT, RsmLoop, rsmConfig, SERVICE } from './rsm-harness.js';

const ROUTER = parseIpv4Addr('192.0.2.254');

function fragNeeded(mtu: number, clientPort: number, seq: number): Uint8Array {
  return buildIcmpTcpError(
    { src: ROUTER, dst: SERVICE, id: 3 },
    { type: ICMP_DEST_UNREACHABLE, code: ICMP_CODE_FRAG_NEEDED, nextHopMtu: mtu, quoted: { src: SERVICE, dst: CLIENT, srcPort: PORT, dstPort: clientPort, seq, totalLength: 1500 } },
  );
}

/** A bulk transfer to the loop's client, an ICMP entry logged while data is in flight; the transfer then runs to its end. */
function bulkWithIcmp(): { loop: RsmLoop; icmpIndex: number; resent: number[]; got: number } {
  const loop = new RsmLoop(rsmConfig('bulk'));
  const s = loop.client.connect(0, { remoteAddress: SERVICE, remotePort: PORT });
  loop.drainClient();
  let got = 0;
  const readAll = () => {
    for (let e = loop.client.pollEvent(); e; e = loop.client.pollEvent()) {
      /* drained */
    }
    try {
      for (let d = loop.client.read(loop.nowUs, s); d.length > 0; d = loop.client.read(loop.nowUs, s)) got += d.length;
    } catch {
      /* closed */
    }
  };
  let full: { seq: number; len: number } | undefined;
  for (let i = 0; i < 200 && full === undefined; i++) {
    loop.run(100, readAll);
    for (const p of loop.results.at(-1)?.packets ?? []) {
      const seg = parseTcpPacket(p);
      if (seg.ok && seg.segment.payload.length > 1200) full = { seq: seg.segment.seq, len: seg.segment.payload.length };
    }
  }
  expect(full, 'the service sent a full-sized segment').toBeDefined();
  loop.applyEntry({ kind: 'packet', packet: fragNeeded(1200, loop.client.info(s).localPort, full!.seq) });
  const icmpIndex = loop.entries.length - 1;
  const resent = loop.results[icmpIndex]!.packets.map((p) => {
    const seg = parseTcpPacket(p);
    return seg.ok ? seg.segment.payload.length : -1;
  });
  loop.run(3_000_000, readAll);
  return { loop, icmpIndex, resent, got };
}

describe('ICMP fragmentation needed under replication', () => {
  it('the follower applying the logged ICMP stays identical: same outputs, every state check and digest passes', () => {
    const { loop, icmpIndex, resent, got } = bulkWithIcmp();
    // The ICMP changed the service connection, and its entry carries that connection's check.
    expect(resent.length).toBeGreaterThan(0);
    expect(Math.max(...resent)).toBeLessThanOrEqual(1160);
    expect(loop.entries[icmpIndex]!.checks.length).toBe(1);
    expect(got).toBe(20_000);
    expect(loop.mismatches).toEqual([]);
    expect(loop.outputDiffs).toEqual([]);
  });

  it('a follower given another MTU in that entry is caught by the state checks: the comparison has teeth', () => {
    const { loop, icmpIndex } = bulkWithIcmp();
    const other = Rsm.create(loop.config, stackFactory);
    let mismatch: string | undefined;
    for (const [i, entry] of loop.entries.entries()) {
      const e: LogEntry = i === icmpIndex && entry.kind === 'packet' ? { ...entry, packet: patchMtu(entry.packet, 1000) } : entry;
      const m = other.verify(e, other.apply(e));
      if (m !== undefined) {
        mismatch = `entry ${m.index} ${m.field}`;
        break;
      }
    }
    expect(mismatch).toBeDefined();
  });

  it('through the replicas: the primary logs the ICMP it receives, the backup applies it without a fault and the stacks agree', () => {
    const { a, b, client } = pairWithClient();
    const socket = client.sockets()[0]!;
    client.write(400, socket, new TextEncoder().encode('1\n2\n3\n'));
    for (let p = client.pollTransmit(); p !== undefined; p = client.pollTransmit()) a.handleServicePacket(500, p);
    exchange(a, b, 600);
    const reply = drainAll(() => a.pollTransmit()).map((x) => parseTcpPacket(x.packet)).find((x) => x.ok && x.segment.payload.length > 0);
    expect(reply?.ok).toBe(true);
    const seq = reply!.ok ? reply!.segment.seq : 0;
    a.handleServicePacket(700, fragNeeded(1200, client.info(socket).localPort, seq));
    exchange(a, b, 800);
    drainAll(() => a.pollTransmit());
    const faults = drainAll(() => b.pollEvent()).filter((e) => e.type === 'fault');
    expect(faults).toEqual([]);
    const [ra, rb] = [a.rsm!, b.rsm!];
    expect(ra.stats().pmtuDecreases).toBe(1);
    expect(rb.stats().pmtuDecreases).toBe(1);
    const conn = ra.connections()[0]!;
    expect(ra.info(conn).mss).toBeLessThanOrEqual(1160);
    expect(rb.info(conn).mss).toBe(ra.info(conn).mss);
    expect(rb.digest()).toBe(ra.digest());
  });
});

/** The same ICMP message with another next-hop MTU (checksum fixed). */
function patchMtu(packet: Uint8Array, mtu: number): Uint8Array {
  const p = Uint8Array.from(packet);
  const o = (p[0]! & 0x0f) * 4;
  const old = (p[o + 6]! << 8) | p[o + 7]!;
  p[o + 6] = mtu >>> 8;
  p[o + 7] = mtu & 0xff;
  // RFC 1624 incremental update of the ICMP checksum.
  let sum = (~((p[o + 2]! << 8) | p[o + 3]!) & 0xffff) + (~old & 0xffff) + mtu;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  p[o + 2] = c >>> 8;
  p[o + 3] = c & 0xff;
  return p;
}
