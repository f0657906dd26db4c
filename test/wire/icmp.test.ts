import { describe, expect, it } from 'vitest';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { buildIcmpTcpError, parseIcmpTcpError, ICMP_CODE_FRAG_NEEDED, ICMP_DEST_UNREACHABLE } from '../../src/wire/icmp.js';
import { parseIpv4 } from '../../src/wire/ipv4.js';

const US = parseIpv4Addr('192.0.2.10');
const PEER = parseIpv4Addr('192.0.2.1');
const ROUTER = parseIpv4Addr('192.0.2.254');

function fragNeeded(mtu = 1200): Uint8Array {
  return buildIcmpTcpError(
    { src: ROUTER, dst: US, id: 7 },
    { type: ICMP_DEST_UNREACHABLE, code: ICMP_CODE_FRAG_NEEDED, nextHopMtu: mtu, quoted: { src: US, dst: PEER, srcPort: 80, dstPort: 4000, seq: 0xdeadbeef, totalLength: 1500 } },
  );
}

/** The ICMP message of a built packet (the IPv4 payload). */
function icmpOf(packet: Uint8Array): Uint8Array {
  const ip = parseIpv4(packet);
  if (!ip.ok) throw new Error(ip.reason);
  expect(ip.header.protocol).toBe(1);
  return ip.payload;
}

/** Recompute the ICMP checksum after a test changed a byte. */
function resum(icmp: Uint8Array): Uint8Array {
  icmp[2] = 0;
  icmp[3] = 0;
  const s = internetChecksum(icmp, 0, icmp.length);
  icmp[2] = s >>> 8;
  icmp[3] = s & 0xff;
  return icmp;
}

describe('ICMP errors about TCP segments (RFC 792, RFC 1191 §4)', () => {
  it('a "fragmentation needed" gives its type, code, next-hop MTU and the quoted segment', () => {
    const r = parseIcmpTcpError(icmpOf(fragNeeded(1200)));
    expect(r).toEqual({
      ok: true,
      message: { type: 3, code: 4, nextHopMtu: 1200, quotedTotalLength: 1500, src: US, dst: PEER, srcPort: 80, dstPort: 4000, seq: 0xdeadbeef },
    });
  });

  it('the next-hop MTU is read only from a "fragmentation needed": a port unreachable reports 0', () => {
    const icmp = icmpOf(fragNeeded(1200));
    icmp[1] = 3;
    const r = parseIcmpTcpError(resum(icmp));
    expect(r.ok && r.message.nextHopMtu).toBe(0);
    expect(r.ok && r.message.code).toBe(3);
  });

  it('every truncation short of header + quoted IPv4 header + 8 bytes is icmp-truncated', () => {
    const icmp = icmpOf(fragNeeded());
    expect(icmp.length).toBe(36);
    for (let n = 0; n < icmp.length; n++) {
      expect(parseIcmpTcpError(icmp.subarray(0, n)), `length ${n}`).toEqual({ ok: false, reason: 'icmp-truncated' });
    }
  });

  it('a quoted header with IP options longer than what was quoted is icmp-truncated', () => {
    const icmp = icmpOf(fragNeeded());
    icmp[8] = 0x46; // IHL 6: 24 bytes of header, so the 8 data bytes would end past the message
    expect(parseIcmpTcpError(resum(icmp))).toEqual({ ok: false, reason: 'icmp-truncated' });
  });

  it('a wrong checksum is icmp-bad-checksum, whichever byte is off', () => {
    for (const at of [0, 1, 7, 12, 30, 35]) {
      const icmp = icmpOf(fragNeeded());
      icmp[at] ^= 0x10;
      expect(parseIcmpTcpError(icmp), `byte ${at}`).toEqual({ ok: false, reason: 'icmp-bad-checksum' });
    }
  });

  it('a quoted datagram that is UDP is icmp-not-tcp; one that is not IPv4 is icmp-bad-quote', () => {
    const udp = icmpOf(fragNeeded());
    udp[8 + 9] = 17;
    expect(parseIcmpTcpError(resum(udp))).toEqual({ ok: false, reason: 'icmp-not-tcp' });
    const v6 = icmpOf(fragNeeded());
    v6[8] = 0x65;
    expect(parseIcmpTcpError(resum(v6))).toEqual({ ok: false, reason: 'icmp-bad-quote' });
  });

  it('an echo request or reply is not an error: icmp-not-error', () => {
    for (const type of [0, 8, 13]) {
      const icmp = icmpOf(fragNeeded());
      icmp[0] = type;
      expect(parseIcmpTcpError(resum(icmp)), `type ${type}`).toEqual({ ok: false, reason: 'icmp-not-error' });
    }
  });

  it('the built packet is a valid IPv4 datagram with protocol 1, DF clear', () => {
    const p = fragNeeded();
    const ip = parseIpv4(p);
    expect(ip.ok && ip.header.dontFragment).toBe(false);
    expect(ip.ok && ip.header.src).toBe(ROUTER);
    expect(internetChecksum(icmpOf(p))).toBe(0);
  });
});
