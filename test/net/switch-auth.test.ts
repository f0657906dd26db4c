// Authenticated switch registrations (src/net/switch-auth.ts) over real sockets on
// 127.0.0.1: a keyed switch refuses a register of the service address without a MAC, with
// a wrong key, and captured and re-sent (from another port, from the same port, and to a
// restarted switch); the address table does not change and the client's packets keep
// reaching the real primary. The right key works; a keyless host is told the switch has a
// key; a keyless switch refuses a keyed host.
import * as dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterKey } from '../../src/net/cluster-key.js';
import { ControlAuthHost, ControlAuthSwitch, decodeAuthControl, controlMacKey, encodeAuthControl, isAuthControl } from '../../src/net/switch-auth.js';
import { encodeControl } from '../../src/net/switch-control.js';
import { UdpSwitch, type SwitchEvent } from '../../src/net/switch.js';
import { UdpLink } from '../../src/net/udp-link.js';
import { parseIpv4Addr } from '../../src/wire/index.js';
import { tcpPacket, until } from '../helpers/net.js';
import { describeWithDist, startCli, stopProc } from '../helpers/process.js';

const CLIENT = parseIpv4Addr('192.0.2.1');
const SERVICE = parseIpv4Addr('192.0.2.10');
const KEY = ClusterKey.fromText(ClusterKey.generateText(), 'test');
const WRONG = ClusterKey.fromText(ClusterKey.generateText(), 'wrong');

const open: Array<{ close: () => unknown }> = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

async function startSwitch(clusterKey: ClusterKey | undefined, port = 0): Promise<{ sw: UdpSwitch; events: SwitchEvent[] }> {
  const sw = await UdpSwitch.start({ listen: { host: '127.0.0.1', port }, clusterKey });
  open.push(sw);
  const events: SwitchEvent[] = [];
  sw.onEvent((e) => events.push(e));
  return { sw, events };
}

async function link(peer: { host: string; port: number }, clusterKey: ClusterKey | undefined, refreshMs = 200): Promise<{ link: UdpLink; got: Uint8Array[] }> {
  const l = await UdpLink.open({ peer, retryMs: 20, refreshMs, clusterKey });
  open.push(l);
  const got: Uint8Array[] = [];
  l.onPacket((p) => got.push(Uint8Array.from(p)));
  return { link: l, got };
}

async function rawSocket(): Promise<{ sock: dgram.Socket; got: Uint8Array[]; sendTo: (port: number, bytes: Uint8Array) => Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  open.push({ close: () => new Promise<void>((resolve) => sock.close(() => resolve())) });
  const got: Uint8Array[] = [];
  sock.on('message', (m) => got.push(Uint8Array.from(m)));
  const sendTo = (port: number, bytes: Uint8Array) => new Promise<void>((resolve) => sock.send(bytes, port, '127.0.0.1', () => resolve()));
  return { sock, got, sendTo };
}

/**
 * A UDP relay between a host and the switch that keeps a copy of every datagram the host
 * sent (the capture an attacker on the path would have), and can send from its own port
 * (the host's endpoint, as the switch sees it).
 */
async function relay(switchPort: number): Promise<{ port: number; captured: Uint8Array[]; sendAsHost: (bytes: Uint8Array) => Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  open.push({ close: () => new Promise<void>((resolve) => sock.close(() => resolve())) });
  const captured: Uint8Array[] = [];
  let hostPort = 0;
  sock.on('message', (m, rinfo) => {
    if (rinfo.port === switchPort) {
      if (hostPort !== 0) sock.send(m, hostPort, '127.0.0.1');
      return;
    }
    hostPort = rinfo.port;
    captured.push(Uint8Array.from(m));
    sock.send(m, switchPort, '127.0.0.1');
  });
  return {
    port: sock.address().port,
    captured,
    sendAsHost: (bytes) => new Promise<void>((resolve) => sock.send(bytes, switchPort, '127.0.0.1', () => resolve())),
  };
}

/** A keyed switch, a keyed client and a keyed primary holding the service in epoch 1. */
async function keyedPair(): Promise<{ sw: UdpSwitch; events: SwitchEvent[]; client: Awaited<ReturnType<typeof link>>; primary: Awaited<ReturnType<typeof link>> }> {
  const { sw, events } = await startSwitch(KEY);
  const client = await link(sw.local, KEY);
  const primary = await link(sw.local, KEY);
  client.link.announce(CLIENT, 0);
  primary.link.announce(SERVICE, 1);
  await Promise.all([client.link.whenRegistered(CLIENT), primary.link.whenRegistered(SERVICE)]);
  return { sw, events, client, primary };
}

/** The client's packet to the service reaches the primary. */
async function reachesPrimary(client: UdpLink, primary: { got: Uint8Array[] }, seq: number): Promise<void> {
  const before = primary.got.length;
  client.send(tcpPacket(CLIENT, SERVICE, 10, seq));
  await until(() => primary.got.length > before, 5000, 'the packet at the primary');
}

describe('authenticated switch registrations', () => {
  it('the right key registers and refreshes; answers carry a MAC', async () => {
    const { sw, client, primary } = await keyedPair();
    expect(sw.authenticated).toBe(true);
    expect(sw.holder(SERVICE)).toEqual({ host: primary.link.local, epoch: 1 });
    await reachesPrimary(client.link, primary, 1);
    await until(() => sw.stats.refreshes >= 2, 5000, 'refreshes');
    expect(sw.stats.challenges).toBe(2); // one per endpoint, at its first register
    expect(sw.stats.dropped['bad-auth']).toBe(0);
    expect(primary.link.stats.dropped['bad-auth']).toBe(0);
    // A failover with keys: the backup's higher epoch moves the address; the old primary is told.
    const backup = await link(sw.local, KEY);
    backup.link.announce(SERVICE, 2);
    await backup.link.whenRegistered(SERVICE);
    await until(() => primary.link.registration(SERVICE)?.state === 'superseded', 5000, 'the old primary superseded');
    expect(primary.link.registration(SERVICE)?.supersededBy).toBe(2);
  });

  it('a register without a MAC, with a wrong key, or a bad MAC never changes the table', async () => {
    const { sw, events, client, primary } = await keyedPair();
    // A keyless host claims the service address with a higher epoch: refused, and told why.
    const keyless = await link(sw.local, undefined);
    keyless.link.announce(SERVICE, 9);
    await expect(keyless.link.whenRegistered(SERVICE, 3000)).rejects.toThrow(/uses a cluster key and this host has none \(set FTCP_CLUSTER_KEY or --cluster-key-file\)/);
    // A host with another key: its MAC fails; the switch does not answer it.
    const wrong = await link(sw.local, WRONG);
    wrong.link.announce(SERVICE, 9);
    await expect(wrong.link.whenRegistered(SERVICE, 1000)).rejects.toThrow(/did not confirm 192\.0\.2\.10 .*this host has a cluster key: the switch needs the same one/);
    // A well-formed authenticated register with a MAC of random bytes.
    const raw = await rawSocket();
    const forged = encodeAuthControl({ type: 'register', address: SERVICE, epoch: 99, counter: 1, nonce: new Uint8Array(16) }, controlMacKey(WRONG));
    await raw.sendTo(sw.local.port, forged);
    await until(() => sw.stats.badAuth['no-mac'] >= 1 && sw.stats.badAuth['bad-mac'] >= 2, 5000, 'the refusals');
    expect(sw.holder(SERVICE)).toEqual({ host: primary.link.local, epoch: 1 });
    expect(sw.stats.dropped['bad-auth']).toBe(sw.stats.badAuth['no-mac'] + sw.stats.badAuth['bad-mac']);
    expect(sw.stats.moves).toBe(0);
    expect(raw.got).toEqual([]); // no answer to a bad MAC
    // One line per reason (the first), naming the sender's endpoint.
    const lines = events.filter((e): e is Extract<SwitchEvent, { type: 'auth-refused' }> => e.type === 'auth-refused');
    expect(lines.filter((e) => e.reason === 'no-mac')).toEqual([{ type: 'auth-refused', reason: 'no-mac', host: keyless.link.local, count: 1 }]);
    expect(lines.filter((e) => e.reason === 'bad-mac').map((e) => e.count)).toEqual([1]);
    expect(primary.link.registration(SERVICE)?.state).toBe('registered');
    await reachesPrimary(client.link, primary, 2);
  });

  it('a captured register re-sent from another port, from the same port, or to a restarted switch is refused', async () => {
    const { sw, events } = await startSwitch(KEY);
    const client = await link(sw.local, KEY);
    client.link.announce(CLIENT, 0);
    await client.link.whenRegistered(CLIENT);
    // The primary talks to the switch through a relay that captures what it sends.
    const path = await relay(sw.local.port);
    const primary = await link({ host: '127.0.0.1', port: path.port }, KEY, 300);
    primary.link.announce(SERVICE, 3);
    await primary.link.whenRegistered(SERVICE);
    // The first (zero nonce), the one after the challenge, a refresh.
    await until(() => path.captured.filter((d) => isAuthControl(d)).length >= 3, 5000, 'a refresh through the relay');
    const registers = path.captured.filter((d) => isAuthControl(d));
    const holder = { host: { host: '127.0.0.1', port: path.port }, epoch: 3 };
    expect(sw.holder(SERVICE)).toEqual(holder);

    // From another port: the nonce is not the one this switch gave that endpoint.
    const attacker = await rawSocket();
    for (const r of registers) await attacker.sendTo(sw.local.port, r);
    await until(() => sw.stats.badAuth['stale-nonce'] >= registers.length - 1, 5000, 'the replays from another port refused');
    // From the host's own endpoint: the counters do not increase (and once the first, a
    // zero-nonce register, has earned a fresh nonce, the rest carry a stale one).
    const refusedBefore = sw.stats.badAuth['stale-nonce'] + sw.stats.badAuth.replay;
    for (const r of registers) await path.sendAsHost(r);
    await until(() => sw.stats.badAuth['stale-nonce'] + sw.stats.badAuth.replay - refusedBefore >= registers.length - 1, 5000, 'the replays refused');
    expect(sw.holder(SERVICE)).toEqual(holder);
    expect(sw.holder(parseIpv4Addr('192.0.2.10'))?.host.port).not.toBe(attacker.sock.address().port);
    expect(sw.stats.moves).toBe(0);
    // The attacker only ever got challenges it cannot answer without the key.
    expect(attacker.got.length).toBeGreaterThan(0);
    expect(attacker.got.every((d) => decodeAuthControl(d, controlMacKey(KEY)) !== 'malformed' && d[2] === 4)).toBe(true);
    expect(events.some((e) => e.type === 'auth-refused' && e.reason === 'stale-nonce' && e.host.port === attacker.sock.address().port)).toBe(true);
    await reachesPrimary(client.link, primary, 3);

    // The switch restarts (same port, empty table): the captured registers, re-sent first, earn challenges only.
    const port = sw.local.port;
    await sw.close();
    const again = await startSwitch(KEY, port);
    for (const r of registers) await attacker.sendTo(port, r);
    await until(() => again.sw.stats.challenges >= registers.length, 5000, 'challenges to the replays');
    expect(again.sw.holder(SERVICE)).toBeUndefined();
    expect(again.sw.stats.registrations).toBe(0);
    // The real primary's next refresh is challenged, then registers with the new nonce.
    await until(() => again.sw.holder(SERVICE)?.host.port === path.port, 5000, 'the primary back in the table');
    await until(() => again.sw.holder(CLIENT) !== undefined, 5000, 'the client back in the table');
    expect(again.sw.holder(SERVICE)).toEqual(holder);
    await reachesPrimary(client.link, primary, 4);
  });

  it('a host counts answers that fail its check and ignores them', async () => {
    const fake = await rawSocket();
    const host = await link({ host: '127.0.0.1', port: fake.sock.address().port }, KEY);
    host.link.announce(SERVICE, 1);
    await until(() => fake.got.length >= 1, 5000, 'the first register');
    const auth = new ControlAuthHost(WRONG);
    auth.register(SERVICE, 1);
    // An unauthenticated `registered`, one under another key, and the right key with a nonce the host never got.
    await fake.sendTo(host.link.local.port, encodeControl({ type: 'registered', address: SERVICE, epoch: 1 }));
    await fake.sendTo(host.link.local.port, encodeAuthControl({ type: 'registered', address: SERVICE, epoch: 1, counter: 1, nonce: new Uint8Array(16) }, controlMacKey(WRONG)));
    await fake.sendTo(host.link.local.port, encodeAuthControl({ type: 'registered', address: SERVICE, epoch: 1, counter: 1, nonce: new Uint8Array(16).fill(7) }, controlMacKey(KEY)));
    await until(() => host.link.stats.dropped['bad-auth'] >= 3, 5000, 'three refusals');
    expect(host.link.registration(SERVICE)?.state).toBe('pending');
  });

  it('a keyless switch takes keyless registers as before and refuses a keyed host', async () => {
    const { sw, events } = await startSwitch(undefined);
    const keyless = await link(sw.local, undefined);
    keyless.link.announce(CLIENT, 0);
    await keyless.link.whenRegistered(CLIENT);
    const keyed = await link(sw.local, KEY);
    keyed.link.announce(SERVICE, 1);
    await expect(keyed.link.whenRegistered(SERVICE, 1000)).rejects.toThrow(/this host has a cluster key: the switch needs the same one/);
    expect(sw.holder(SERVICE)).toBeUndefined();
    expect(sw.stats.badAuth['unexpected-mac']).toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e.type === 'auth-refused').map((e) => e.type === 'auth-refused' && e.reason)).toEqual(['unexpected-mac']);
  });
});

describeWithDist('ftcp switch with a cluster key (process)', ['cli/switch', 'cli/client', 'net/switch', 'net/switch-auth', 'net/udp-link'], () => {
  it('refuses a keyless `ftcp client` with one line on each side, and takes a keyed host', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ftcp-switch-auth-'));
    open.push({ close: () => rmSync(dir, { recursive: true, force: true }) });
    const keyText = ClusterKey.generateText();
    writeFileSync(join(dir, 'cluster.key'), `${keyText}\n`);
    const p = startCli(['switch', '--listen', '127.0.0.1:0', '--no-capture', '--cluster-key-file', join(dir, 'cluster.key')]);
    open.push({ close: () => stopProc(p) });
    const m = await p.waitFor(/listening on 127\.0\.0\.1:(\d+), .*cluster key ([0-9a-f]{8})/);
    const port = Number(m[1]);
    expect(m[2]).toBe(ClusterKey.fromText(keyText, 'x').id);
    const c = startCli(['client', '--switch', `127.0.0.1:${port}`, '--start-timeout-ms', '5000', '--connections', '1']);
    expect((await c.exited).code).toBe(4);
    expect(c.stderr()).toMatch(/^error: ftcp client: the switch at 127\.0\.0\.1:\d+ uses a cluster key and this host has none \(set FTCP_CLUSTER_KEY or --cluster-key-file\)\n$/);
    await p.waitFor(/refused register from 127\.0\.0\.1:\d+: the host has no cluster key/);
    // A host with the key registers.
    const keyed = await link({ host: '127.0.0.1', port }, ClusterKey.fromText(keyText, 'test'));
    keyed.link.announce(SERVICE, 1);
    await keyed.link.whenRegistered(SERVICE);
    expect(await stopProc(p, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect(p.stdout()).toMatch(/dropped: bad-auth \d+ \(bad-auth: no-mac \d+\)/);
    expect(p.stdout()).toMatch(/service 192\.0\.2\.10: epoch 1 at 127\.0\.0\.1:\d+/);
    expect(p.stdout() + p.stderr()).not.toContain(keyText);
    expect(p.stderr()).toBe('');
  }, 60_000);
});

describe('a UDP endpoint taken again by a new host', () => {
  it("the new host (its counter starts over) is challenged and registers; the old host's nonce is stale from then on", () => {
    const sw = new ControlAuthSwitch(KEY, 16);
    const register = (h: ControlAuthHost) => {
      let v = sw.check(h.register(SERVICE, 0), '127.0.0.1:40000');
      if (v.ok === 'challenge') {
        expect(h.receive(v.challenge)).toBe('challenge');
        v = sw.check(h.register(SERVICE, 0), '127.0.0.1:40000');
      }
      return v;
    };
    const old = new ControlAuthHost(KEY);
    expect(register(old).ok).toBe(true);
    for (let i = 0; i < 50; i++) expect(sw.check(old.register(SERVICE, 0), '127.0.0.1:40000').ok).toBe(true); // refreshes: its counter runs ahead
    const fresh = new ControlAuthHost(KEY);
    expect(register(fresh).ok).toBe(true);
    expect(sw.check(old.register(SERVICE, 0), '127.0.0.1:40000')).toMatchObject({ ok: false, reason: 'stale-nonce' });
    expect(sw.check(fresh.register(SERVICE, 0), '127.0.0.1:40000').ok).toBe(true);
  });
});
