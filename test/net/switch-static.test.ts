// The switch's static entries: an address pinned to a UDP endpoint that sends no
// control datagrams (socat's TUN bridge) is routed from the start, forwards what comes from
// that endpoint, and never moves to another host; the service address cannot be pinned.
import * as dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { UdpSwitch } from '../../src/net/switch.js';
import { UdpLink } from '../../src/net/udp-link.js';
import { parseIpv4Addr } from '../../src/wire/index.js';
import { tcpPacket, until } from '../helpers/net.js';

const KERNEL = parseIpv4Addr('192.0.2.1');
const SERVICE = parseIpv4Addr('192.0.2.10');
const LOCAL = { host: '127.0.0.1', port: 0 };
const open: Array<{ close: () => unknown }> = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

/** A plain UDP socket, like socat's: it only sends and receives raw IP packets. */
async function rawPeer(): Promise<{ socket: dgram.Socket; port: number; got: Buffer[] }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  open.push({ close: () => new Promise<void>((r) => socket.close(() => r())) });
  return { socket, port: socket.address().port, got };
}

describe('UdpSwitch static entries', () => {
  it('routes a pinned address both ways without registration, and refuses to move it', async () => {
    const raw = await rawPeer();
    const sw = await UdpSwitch.start({ listen: LOCAL, staticHosts: [{ address: KERNEL, host: { host: '127.0.0.1', port: raw.port } }] });
    open.push(sw);
    expect(sw.holder(KERNEL)).toEqual({ host: { host: '127.0.0.1', port: raw.port }, epoch: 0 });
    const server = await UdpLink.open({ peer: sw.local, retryMs: 20 });
    open.push(server);
    const serverGot: Uint8Array[] = [];
    server.onPacket((p) => serverGot.push(Uint8Array.from(p)));
    server.announce(SERVICE, 1);
    await server.whenRegistered(SERVICE);

    const up = tcpPacket(KERNEL, SERVICE, 100, 1);
    raw.socket.send(up, sw.local.port, sw.local.host);
    const down = tcpPacket(SERVICE, KERNEL, 200, 2);
    server.send(down);
    await until(() => serverGot.length === 1 && raw.got.length === 1, 5000, 'both packets');
    expect(Buffer.from(serverGot[0]!).equals(Buffer.from(up))).toBe(true);
    expect(raw.got[0]!.equals(Buffer.from(down))).toBe(true);

    // Another host claiming the pinned address (epoch 0, which would win an ordinary entry) is refused.
    const thief = await UdpLink.open({ peer: sw.local, retryMs: 20 });
    open.push(thief);
    const events: string[] = [];
    sw.onEvent((e) => events.push(e.type));
    thief.announce(KERNEL, 0);
    await until(() => events.includes('refused'), 5000, 'the refusal');
    expect(sw.holder(KERNEL)?.host.port).toBe(raw.port);
    expect(sw.stats.moves).toBe(0);
    // The raw peer never got a control datagram (socat would write it into the TUN device).
    expect(raw.got.every((d) => d[0] !== 0)).toBe(true);
  });

  it('will not pin the service address (its epoch fencing stays)', async () => {
    await expect(UdpSwitch.start({ listen: LOCAL, staticHosts: [{ address: SERVICE, host: { host: '127.0.0.1', port: 9 } }] })).rejects.toThrow(/service address/);
  });
});
