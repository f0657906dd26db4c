/** Which service connection a packet belongs to, from its bytes: the RSM's touched set. */

/** A connection's remote end as one number (remote address * 2^16 + remote port; exact below 2^48). */
export function remoteKey(addr: number, port: number): number {
  return addr * 65536 + port;
}

/**
 * The byRemote key of a packet of a service connection, read from raw IPv4/TCP bytes
 * without validating them (the client's end: the source of an inbound packet, the
 * destination of an outbound one), or -1 when it is not one.
 */
export function packetRemoteKey(p: Uint8Array, inbound: boolean, servicePort: number): number {
  if (inbound && p.length >= 20 && p[0]! >> 4 === 4 && p[9] === 1) return icmpRemoteKey(p, servicePort);
  if (p.length < 20 || p[0]! >> 4 !== 4 || p[9] !== 6) return -1;
  const ihl = (p[0]! & 0x0f) * 4;
  if (p.length < ihl + 4) return -1;
  const a = inbound ? 12 : 16;
  const addr = ((p[a]! << 24) | (p[a + 1]! << 16) | (p[a + 2]! << 8) | p[a + 3]!) >>> 0;
  const sport = (p[ihl]! << 8) | p[ihl + 1]!;
  const dport = (p[ihl + 2]! << 8) | p[ihl + 3]!;
  if ((inbound ? dport : sport) !== servicePort) return -1;
  return remoteKey(addr, inbound ? sport : dport);
}

/**
 * An inbound ICMP error names its connection by the segment it quotes (RFC 792: the
 * datagram's IPv4 header and first 8 bytes), one the service sent: the client's end is the
 * quoted destination. The RSM's state checks then cover the connection the ICMP changed.
 */
function icmpRemoteKey(p: Uint8Array, servicePort: number): number {
  const q = (p[0]! & 0x0f) * 4 + 8;
  if (p.length < q + 20 || p[q]! >> 4 !== 4 || p[q + 9] !== 6) return -1;
  const t = q + (p[q]! & 0x0f) * 4;
  if (p.length < t + 4) return -1;
  const addr = ((p[q + 16]! << 24) | (p[q + 17]! << 16) | (p[q + 18]! << 8) | p[q + 19]!) >>> 0;
  if (((p[t]! << 8) | p[t + 1]!) !== servicePort) return -1;
  return remoteKey(addr, (p[t + 2]! << 8) | p[t + 3]!);
}
