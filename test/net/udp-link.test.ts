// UdpLink with real sockets on 127.0.0.1: two links pointed at each other, or a link and a
// raw dgram socket playing a misbehaving peer.
import * as dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeControl } from '../../src/net/switch-control.js';
import { checkMtu, MAX_MTU, UdpLink } from '../../src/net/udp-link.js';
import { parseIpv4Addr } from '../../src/wire/index.js';
import { openSockets, tcpPacket, until } from '../helpers/net.js';

const A = parseIpv4Addr('192.0.2.1');
const B = parseIpv4Addr('192.0.2.10');

const sockets = openSockets();
const { open, rawSocket } = sockets;
afterEach(() => sockets.closeAll());

/** Ports that were free a moment ago (bound, noted, released). */
async function freeUdpPorts(n: number): Promise<number[]> {
  const sockets = await Promise.all(Array.from({ length: n }, () => rawSocket()));
  const ports = sockets.map((s) => s.address().port);
  for (const _ of sockets) await open.pop()!.close();
  return ports;
}

async function link(opts: Partial<Parameters<typeof UdpLink.open>[0]> & { peer: { host: string; port: number } }): Promise<UdpLink> {
  const l = await UdpLink.open(opts);
  open.push(l);
  return l;
}

describe('UdpLink', () => {
  it('carries IP packets byte for byte between two links, large ones included', async () => {
    const [pa, pb] = await freeUdpPorts(2);
    const a2 = await link({ bind: { host: '127.0.0.1', port: pa! }, peer: { host: '127.0.0.1', port: pb! }, mtu: MAX_MTU });
    const b = await link({ bind: { host: '127.0.0.1', port: pb! }, peer: a2.local, mtu: MAX_MTU });
    const gotA: Uint8Array[] = [];
    const gotB: Uint8Array[] = [];
    a2.onPacket((p) => gotA.push(Uint8Array.from(p)));
    b.onPacket((p) => gotB.push(Uint8Array.from(p)));
    const sizes = [0, 1, 1460, 9000, MAX_MTU - 40];
    const sent = sizes.map((n, i) => tcpPacket(A, B, n, i + 1));
    for (const p of sent) expect(a2.send(p)).toBe(true);
    const back = tcpPacket(B, A, 100, 99);
    b.send(back);
    await until(() => gotB.length === sent.length && gotA.length === 1, 5000, 'packets');
    gotB.forEach((p, i) => expect(Buffer.from(p).equals(Buffer.from(sent[i]!))).toBe(true));
    expect(Buffer.from(gotA[0]!).equals(Buffer.from(back))).toBe(true);
    expect(a2.stats).toMatchObject({ packetsSent: 5, packetsReceived: 1 });
    expect(b.stats.bytesReceived).toBe(sent.reduce((n, p) => n + p.length, 0));
  });

  it('counts and drops malformed, oversize and foreign datagrams, and refuses to send above the MTU', async () => {
    const peer = await rawSocket();
    const l = await link({ peer: { host: '127.0.0.1', port: peer.address().port }, mtu: 1500 });
    const got: Uint8Array[] = [];
    l.onPacket((p) => got.push(p));
    const to = (s: dgram.Socket, b: Uint8Array) => new Promise<void>((r) => s.send(b, l.local.port, '127.0.0.1', () => r()));
    const good = tcpPacket(A, B, 10);
    const badChecksum = Uint8Array.from(good);
    badChecksum[10]! ^= 0xff;
    const truncated = good.subarray(0, good.length - 5); // total length says more than arrived
    await to(peer, badChecksum);
    await to(peer, truncated);
    await to(peer, new Uint8Array(40).fill(0x60)); // IPv6-looking junk
    await to(peer, tcpPacket(A, B, 2000)); // above this link's MTU
    await to(peer, encodeControl({ type: 'registered', address: A, epoch: 1 }).map((b, i) => (i === 5 ? b ^ 1 : b))); // bad CRC
    const stranger = await rawSocket();
    await to(stranger, good); // not from the peer
    await to(peer, good);
    await until(() => got.length === 1, 5000, 'the good packet');
    expect(l.stats.dropped).toMatchObject({ malformed: 3, oversize: 1, foreign: 1, 'bad-control': 1 });
    expect(l.stats.malformed).toEqual({ 'ipv4-bad-checksum': 1, 'ipv4-bad-total-length': 1, 'ipv4-bad-version': 1 });
    expect(l.send(tcpPacket(A, B, 1461))).toBe(false);
    expect(l.stats.dropped['send-too-big']).toBe(1);
    await l.close();
    expect(l.send(good)).toBe(false);
    expect(l.stats.dropped.closed).toBe(1);
  });

  it('rejects MTUs a UDP datagram cannot carry', () => {
    expect(() => checkMtu(65_535)).toThrow(/68 to 65507/);
    expect(() => checkMtu(67)).toThrow(RangeError);
    expect(checkMtu(65_507)).toBe(65_507);
  });

  it('reports a port in use in one line that says what to do', async () => {
    const taken = await rawSocket();
    await expect(UdpLink.open({ bind: { host: '127.0.0.1', port: taken.address().port }, peer: { host: '127.0.0.1', port: 9 } })).rejects.toThrow(
      /^127\.0\.0\.1:\d+ is already in use .*pick a free port with --bind/,
    );
  });
});
