// TapLink with real sockets on 127.0.0.1 and a raw dgram socket playing socat (the real
// socat and TAP device are in test/lab/lan.test.ts).
import type * as dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ETHERNET_HEADER_BYTES, MAX_TAP_FRAME_BYTES, TapLink, tapSocatArgs } from '../../src/net/tap-link.js';
import { LinkError } from '../../src/net/udp-link.js';
import { openSockets, until } from '../helpers/net.js';

const sockets = openSockets();
const { rawSocket } = sockets;
afterEach(() => sockets.closeAll());

async function linkTo(socat: dgram.Socket): Promise<TapLink> {
  return sockets.track(await TapLink.open({ port: 0, socatPort: socat.address().port }));
}

function frame(bytes: number, fill: number): Uint8Array {
  return new Uint8Array(bytes).fill(fill);
}

describe('TapLink', () => {
  it('is socat`s argv, and the link knows its own', async () => {
    expect(tapSocatArgs({ device: 'tap0', port: 9601, socatPort: 9602 })).toEqual(['-b', '65536', 'TUN,tun-type=tap,iff-no-pi,up,tun-name=tap0', 'UDP:127.0.0.1:9601,sourceport=9602']);
    expect(() => tapSocatArgs({ device: 'a-name-far-too-long', port: 1, socatPort: 2 })).toThrow(/1\.\.15/);
    expect(() => tapSocatArgs({ device: 'tap0', port: 0, socatPort: 2 })).toThrow(/port must be 1\.\.65535/);
    const socat = await rawSocket();
    const link = await linkTo(socat);
    expect(link.socatArgs('tap1')).toEqual(tapSocatArgs({ device: 'tap1', port: link.local.port, socatPort: socat.address().port }));
  });

  it('carries frames both ways up to the largest datagram, and counts them', async () => {
    const socat = await rawSocket();
    const link = await linkTo(socat);
    const got: Uint8Array[] = [];
    link.onFrame((f) => got.push(Uint8Array.from(f)));
    const heard: Buffer[] = [];
    socat.on('message', (m) => heard.push(m));
    for (const f of [frame(60, 1), frame(MAX_TAP_FRAME_BYTES, 2)]) socat.send(f, link.local.port, '127.0.0.1');
    await until(() => got.length === 2, 5000, 'two frames in');
    expect(got.map((f) => [f.length, f[0]])).toEqual([[60, 1], [MAX_TAP_FRAME_BYTES, 2]]);
    expect(link.send(frame(1514, 3))).toBe(true);
    expect(link.send(frame(MAX_TAP_FRAME_BYTES, 4))).toBe(true);
    await until(() => heard.length === 2, 5000, 'two frames out');
    expect(heard.map((f) => [f.length, f[0]])).toEqual([[1514, 3], [MAX_TAP_FRAME_BYTES, 4]]);
    expect(link.stats).toMatchObject({ framesIn: 2, bytesIn: 60 + MAX_TAP_FRAME_BYTES, framesOut: 2, bytesOut: 1514 + MAX_TAP_FRAME_BYTES, sendErrors: 0 });
  });

  it('drops and counts what is not a frame from socat, and what cannot be sent', async () => {
    const socat = await rawSocket();
    const stranger = await rawSocket();
    const link = await linkTo(socat);
    const got: Uint8Array[] = [];
    link.onFrame((f) => got.push(f));
    stranger.send(frame(60, 9), link.local.port, '127.0.0.1');
    socat.send(frame(ETHERNET_HEADER_BYTES - 1, 8), link.local.port, '127.0.0.1');
    socat.send(frame(ETHERNET_HEADER_BYTES, 7), link.local.port, '127.0.0.1');
    await until(() => link.stats.framesIn === 1 && link.stats.dropped.foreign === 1 && link.stats.dropped.runt === 1, 5000, 'one frame, one foreign, one runt');
    expect(got.map((f) => f[0])).toEqual([7]);
    expect(link.send(frame(ETHERNET_HEADER_BYTES - 1, 0))).toBe(false);
    expect(link.send(frame(MAX_TAP_FRAME_BYTES + 1, 0))).toBe(false);
    await link.close();
    expect(link.send(frame(60, 0))).toBe(false);
    expect(link.stats.dropped).toMatchObject({ 'send-too-small': 1, 'send-too-big': 1, closed: 1 });
    expect(link.stats.framesOut).toBe(0);
  });

  it('reports a port in use in one line that says what to do', async () => {
    const taken = await rawSocket();
    const error = await TapLink.open({ port: taken.address().port, socatPort: 9 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LinkError);
    expect((error as Error).message).toMatch(/^127\.0\.0\.1:\d+ is already in use .*pick a free port with --tap-port/);
    expect((error as Error).message).not.toContain('\n');
  });
});
