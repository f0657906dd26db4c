// The UDP switch with real sockets on 127.0.0.1: registration, forwarding, the service
// address moving by epoch, fencing of an old epoch, counted drops, the capture; and the
// `ftcp switch` process stopped with SIGTERM.
import * as dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { encodeControl, type SwitchControl } from '../../src/net/switch-control.js';
import { UdpSwitch, type SwitchEvent } from '../../src/net/switch.js';
import { UdpLink } from '../../src/net/udp-link.js';
import { readPcapng } from '../../src/pcap/reader.js';
import { parseIpv4Addr } from '../../src/wire/index.js';
import { tcpPacket, until } from '../helpers/net.js';
import { describeWithDist, killAll, startCli, stopProc } from '../helpers/process.js';

const CLIENT = parseIpv4Addr('192.0.2.1');
const CLIENT2 = parseIpv4Addr('192.0.2.2');
const SERVICE = parseIpv4Addr('192.0.2.10');
const LOCAL = { host: '127.0.0.1', port: 0 };

const dir = mkdtempSync(join(tmpdir(), 'ftcp-switch-'));
const open: Array<{ close: () => unknown }> = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
  await killAll();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function startSwitch(capturePath?: string): Promise<UdpSwitch> {
  const sw = await UdpSwitch.start({ listen: LOCAL, ...(capturePath !== undefined ? { capturePath } : {}) });
  open.push(sw);
  return sw;
}

/** A host: a link to the switch that records what it receives. */
async function host(sw: { local: { host: string; port: number } }): Promise<{ link: UdpLink; got: Uint8Array[]; control: SwitchControl[] }> {
  const link = await UdpLink.open({ peer: sw.local, retryMs: 20, refreshMs: 200 });
  open.push(link);
  const got: Uint8Array[] = [];
  const control: SwitchControl[] = [];
  link.onPacket((p) => got.push(Uint8Array.from(p)));
  link.onControl((m) => control.push(m));
  return { link, got, control };
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** A client (epoch 0) and a primary holding the service in epoch 1, then a backup that takes it in epoch 2. */
async function failedOver(sw: UdpSwitch): Promise<Record<'client' | 'primary' | 'backup', Awaited<ReturnType<typeof host>>>> {
  const client = await host(sw);
  const primary = await host(sw);
  const backup = await host(sw);
  client.link.announce(CLIENT, 0);
  primary.link.announce(SERVICE, 1);
  await Promise.all([client.link.whenRegistered(CLIENT), primary.link.whenRegistered(SERVICE)]);
  backup.link.announce(SERVICE, 2);
  await backup.link.whenRegistered(SERVICE);
  return { client, primary, backup };
}

describe('UdpSwitch', () => {
  it('forwards by destination address, both ways, unchanged, and captures the client-side view', async () => {
    const capture = join(dir, 'forward.pcapng');
    const sw = await startSwitch(capture);
    const events: SwitchEvent[] = [];
    sw.onEvent((e) => events.push(e));
    const client = await host(sw);
    const server = await host(sw);
    client.link.announce(CLIENT, 0);
    server.link.announce(SERVICE, 1);
    await Promise.all([client.link.whenRegistered(CLIENT), server.link.whenRegistered(SERVICE)]);
    expect(sw.holder(SERVICE)).toEqual({ host: server.link.local, epoch: 1 });

    const up = Array.from({ length: 20 }, (_, i) => tcpPacket(CLIENT, SERVICE, i * 100, i + 1));
    const down = Array.from({ length: 20 }, (_, i) => tcpPacket(SERVICE, CLIENT, 30_000 + i, 1000 + i));
    for (const p of up) client.link.send(p);
    for (const p of down) server.link.send(p);
    await until(() => server.got.length === 20 && client.got.length === 20, 5000, 'forwarded packets');
    // UDP on loopback keeps order for one socket pair; bytes are untouched (no TTL change).
    server.got.forEach((p, i) => expect(same(p, up[i]!)).toBe(true));
    client.got.forEach((p, i) => expect(same(p, down[i]!)).toBe(true));
    expect(sw.stats).toMatchObject({ forwarded: 40, captured: 40, registrations: 2 });
    expect(events.map((e) => e.type)).toEqual(['registered', 'registered']);

    await sw.close();
    const r = readPcapng(readFileSync(capture));
    expect(r.truncated).toBeUndefined();
    expect(r.interfaces.map((i) => i.name)).toEqual(['switch']);
    expect(r.packets.length).toBe(40);
    expect(r.packets.every((p, i) => i === 0 || p.timestampUs >= r.packets[i - 1]!.timestampUs)).toBe(true);
    const captured = r.packets.map((p) => Buffer.from(p.data));
    for (const p of [...up, ...down]) expect(captured.some((c) => c.equals(Buffer.from(p)))).toBe(true);
  });

  it('moves the service address to the highest epoch and drops what the old holder sends', async () => {
    const capture = join(dir, 'move.pcapng');
    const sw = await startSwitch(capture);
    const events: SwitchEvent[] = [];
    sw.onEvent((e) => events.push(e));
    // The backup goes live in epoch 2: the gratuitous ARP.
    const { client, primary, backup } = await failedOver(sw);
    await until(() => primary.link.registration(SERVICE)?.state === 'superseded', 2000, 'the old primary to hear it was superseded');
    expect(primary.link.registration(SERVICE)).toMatchObject({ state: 'superseded', supersededBy: 2, epoch: 1 });
    expect(sw.holder(SERVICE)).toEqual({ host: backup.link.local, epoch: 2 });
    expect(sw.stats.moves).toBe(1);
    expect(events.filter((e) => e.type === 'moved')).toMatchObject([{ type: 'moved', epoch: 2, fromEpoch: 1, from: primary.link.local, to: backup.link.local }]);

    // Client packets now reach the new holder only.
    const syn = tcpPacket(CLIENT, SERVICE, 0, 7);
    client.link.send(syn);
    await until(() => backup.got.length === 1, 2000, 'the packet at the new holder');
    expect(primary.got.length).toBe(0);

    // The old primary still talks as the service: fenced, counted as stale-epoch.
    for (let i = 0; i < 5; i++) primary.link.send(tcpPacket(SERVICE, CLIENT, 10, 100 + i));
    const fresh = tcpPacket(SERVICE, CLIENT, 10, 200);
    backup.link.send(fresh);
    await until(() => client.got.length === 1 && sw.stats.dropped['stale-epoch'] === 5, 2000, 'the drops');
    expect(same(client.got[0]!, fresh)).toBe(true);

    // Re-announcing the old epoch, or tying the holder's, is refused.
    const refusedBefore = sw.stats.refused;
    primary.link.announce(SERVICE, 1);
    await expect(primary.link.whenRegistered(SERVICE)).rejects.toThrow(/epoch 2/);
    const third = await host(sw);
    third.link.announce(SERVICE, 2);
    await expect(third.link.whenRegistered(SERVICE)).rejects.toThrow(/epoch 2/);
    expect(sw.stats.refused).toBe(refusedBefore + 2);
    expect(sw.holder(SERVICE)?.host).toEqual(backup.link.local);

    // A third replica of a later epoch takes it again.
    third.link.announce(SERVICE, 3);
    await third.link.whenRegistered(SERVICE);
    expect(sw.holder(SERVICE)).toEqual({ host: third.link.local, epoch: 3 });

    await sw.close();
    const comments = readPcapng(readFileSync(capture)).packets.map((p) => p.comment).filter((c) => c !== undefined);
    expect(comments).toEqual([expect.stringMatching(/service address 192\.0\.2\.10 moved from .* \(epoch 1\) to .* \(epoch 2\)/)]);
  });

  it('with captureDropped, captures what it refuses on a second interface, naming the sender', async () => {
    const capture = join(dir, 'dropped.pcapng');
    const sw = await UdpSwitch.start({ listen: LOCAL, capturePath: capture, captureDropped: true });
    open.push(sw);
    const { client, primary, backup } = await failedOver(sw);
    const stale = [tcpPacket(SERVICE, CLIENT, 10, 300), tcpPacket(SERVICE, CLIENT, 10, 301)];
    for (const p of stale) primary.link.send(p);
    const fresh = tcpPacket(SERVICE, CLIENT, 10, 302);
    backup.link.send(fresh);
    await until(() => client.got.length === 1 && sw.stats.dropped['stale-epoch'] === 2, 2000, 'the drops');
    await sw.close();
    const r = readPcapng(readFileSync(capture));
    expect(r.interfaces.map((i) => i.name)).toEqual(['switch', 'switch-dropped']);
    const dropped = r.packets.filter((p) => p.interfaceId === 1);
    expect(dropped.map((p) => p.comment)).toEqual([`dropped (stale-epoch) from 127.0.0.1:${primary.link.local.port}`, `dropped (stale-epoch) from 127.0.0.1:${primary.link.local.port}`]);
    expect(dropped.every((p, i) => same(p.data, stale[i]!))).toBe(true);
    // The forwarded packet stays on the client-side interface, with the move's comment (the
    // refused packets in between did not take it).
    const forwarded = r.packets.filter((p) => p.interfaceId === 0 && same(p.data, fresh));
    expect(forwarded.map((p) => p.comment)).toEqual([expect.stringMatching(/service address 192\.0\.2\.10 moved from .* \(epoch 1\) to .* \(epoch 2\)/)]);
  });

  it('gives an unfenced (epoch 0) address to the latest registration', async () => {
    const sw = await startSwitch();
    const first = await host(sw);
    const second = await host(sw);
    first.link.announce(CLIENT, 0);
    await first.link.whenRegistered(CLIENT);
    second.link.announce(CLIENT, 0);
    await second.link.whenRegistered(CLIENT);
    expect(sw.holder(CLIENT)?.host).toEqual(second.link.local);
    // The first host's packets as CLIENT are no longer forwarded: not-owner (not an older epoch).
    const other = await host(sw);
    other.link.announce(CLIENT2, 0);
    await other.link.whenRegistered(CLIENT2);
    first.link.send(tcpPacket(CLIENT, CLIENT2, 1));
    await until(() => sw.stats.dropped['not-owner'] === 1, 2000, 'not-owner drop');
  });

  it('counts and drops malformed datagrams, bad control, unknown sources and destinations', async () => {
    const sw = await startSwitch();
    const client = await host(sw);
    client.link.announce(CLIENT, 0);
    await client.link.whenRegistered(CLIENT);
    const raw = dgram.createSocket('udp4');
    await new Promise<void>((r) => raw.bind(0, '127.0.0.1', () => r()));
    open.push({ close: () => new Promise<void>((r) => raw.close(() => r())) });
    const send = (b: Uint8Array) => new Promise<void>((r) => raw.send(b, sw.local.port, '127.0.0.1', () => r()));
    const bad = tcpPacket(CLIENT, SERVICE, 5);
    bad[10]! ^= 0x55; // header checksum
    await send(bad);
    await send(new Uint8Array(3));
    await send(encodeControl({ type: 'register', address: CLIENT2, epoch: 0 }).subarray(0, 15)); // short control
    await send(encodeControl({ type: 'registered', address: CLIENT2, epoch: 0 })); // a host-bound type
    await send(tcpPacket(CLIENT2, CLIENT, 5)); // source never registered
    client.link.send(tcpPacket(CLIENT, SERVICE, 5)); // nobody holds the service
    client.link.send(tcpPacket(CLIENT, SERVICE, 65_000 - 40 + 1)); // above the link's default MTU: refused at the link
    await until(() => sw.stats.dropped['no-route'] === 1, 2000, 'drops');
    expect(sw.stats.dropped).toMatchObject({ malformed: 1, 'bad-control': 3, 'unregistered-source': 1, 'no-route': 1 });
    expect(sw.stats.malformed).toEqual({ 'ipv4-bad-checksum': 1 });
    expect(client.link.stats.dropped['send-too-big']).toBe(1);
    expect(sw.stats.forwarded).toBe(0);
  });

  it('is relearnt by hosts that refresh their claims after a switch restart on the same port', async () => {
    const sw = await startSwitch();
    const port = sw.local.port;
    const client = await host(sw);
    client.link.announce(CLIENT, 0);
    await client.link.whenRegistered(CLIENT);
    await sw.close();
    const again = await UdpSwitch.start({ listen: { host: '127.0.0.1', port } });
    open.push(again);
    await until(() => again.holder(CLIENT) !== undefined, 3000, 'the refresh');
    expect(again.holder(CLIENT)?.host).toEqual(client.link.local);
  });
});

describeWithDist('ftcp switch (process)', ['cli/switch', 'net/switch', 'net/udp-link'], () => {
  it('forwards, writes its capture, and on SIGTERM closes it and prints its statistics', async () => {
    const capture = join(dir, 'proc', 'client.pcapng');
    const p = startCli(['switch', '--listen', '127.0.0.1:0', '--capture', capture]);
    const m = await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
    const sw = { local: { host: '127.0.0.1', port: Number(m[1]) } };
    const client = await host(sw);
    const server = await host(sw);
    client.link.announce(CLIENT, 0);
    server.link.announce(SERVICE, 1);
    await Promise.all([client.link.whenRegistered(CLIENT), server.link.whenRegistered(SERVICE)]);
    for (let i = 0; i < 10; i++) client.link.send(tcpPacket(CLIENT, SERVICE, 100, i));
    await until(() => server.got.length === 10, 5000, 'forwarded packets');
    expect(await stopProc(p, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect(p.stdout()).toMatch(/stopped by SIGTERM/);
    expect(p.stdout()).toMatch(/forwarded 10 /);
    expect(p.stdout()).toMatch(/service 192\.0\.2\.10: epoch 1 at 127\.0\.0\.1:\d+/);
    // without a cluster key it says so, once (test/net/switch-auth.test.ts has the keyed switch).
    expect(p.stderr()).toBe('warning: ftcp switch: no cluster key (--cluster-key-file, FTCP_CLUSTER_KEY_FILE or FTCP_CLUSTER_KEY): the switch accepts any process that can connect\n');
    expect(existsSync(capture)).toBe(true);
    const r = readPcapng(readFileSync(capture));
    expect(r.packets.length).toBe(10);
    expect(r.truncated).toBeUndefined();
  });

  it('a port in use, a bad address and a bad flag each give a one-line error and a non-zero exit', async () => {
    const first = startCli(['switch', '--listen', '127.0.0.1:0', '--no-capture']);
    const m = await first.waitFor(/listening on (127\.0\.0\.1:\d+)/);
    const cases: Array<[string[], number, RegExp]> = [
      [['switch', '--listen', m[1]!, '--no-capture'], 4, /^error: ftcp switch: 127\.0\.0\.1:\d+ is already in use .*--listen HOST:PORT/],
      [['switch', '--listen', '10.255.255.1:0', '--no-capture', '--insecure'], 4, /^error: ftcp switch: 10\.255\.255\.1 is not an address of this machine; use --listen 127\.0\.0\.1:PORT/],
      [['switch', '--listen', 'localhost:99999'], 2, /^error: --listen: the port must be 0\.\.65535, got 99999/],
      [['switch', '--service', '192.0.2.300'], 2, /^error: --service must be an IPv4 address such as 192\.0\.2\.10, got 192\.0\.2\.300/],
      [['switch', '--mtu', '65535'], 2, /^error: --mtu: MTU must be an integer from 68 to 65507 .*got 65535/],
    ];
    const runs = cases.map(([args]) => startCli(args));
    const exits = await Promise.all(runs.map((p) => p.exited));
    cases.forEach(([args, code, re], i) => {
      const stderr = runs[i]!.stderr();
      expect(exits[i]!.code, `${args.join(' ')}: ${stderr}`).toBe(code);
      expect(stderr.trim().split('\n').length, stderr).toBe(1);
      expect(stderr).toMatch(re);
    });
    await stopProc(first, 'SIGTERM');
  });
});
