// The log channel over real TCP on 127.0.0.1: framing, malformed frames, backpressure,
// redialing; and a real primary/backup pair (src/replica) replicating through it while a
// relay in the middle cuts the connection mid-stream, twice.
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LogChannel, type LogChannelStatus } from '../../src/net/log-channel.js';
import { decodeChannel, encodeChannel, type ChannelMessage } from '../../src/replica/channel.js';
import type { ReplicaEvent, ReplicaOptions, ServicePacket } from '../../src/replica/outbox.js';
import { Replica } from '../../src/replica/replica.js';
import type { RsmConfig } from '../../src/replica/rsm.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import { parseIpv4Addr } from '../../src/wire/index.js';
import { sleep, tcpPacket, until } from '../helpers/net.js';

const LOCAL = { host: '127.0.0.1', port: 0 };
const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function listen(opts: Parameters<typeof LogChannel.listen>[1] = {}): Promise<LogChannel> {
  const ch = await LogChannel.listen(LOCAL, opts);
  closers.push(() => ch.close());
  return ch;
}

function dial(to: { host: string; port: number }, opts: Parameters<typeof LogChannel.dial>[1] = {}): LogChannel {
  const ch = LogChannel.dial(to, opts);
  closers.push(() => ch.close());
  return ch;
}

/** A TCP relay to `target` whose connections can be cut, as a network fault would. */
async function relay(target: { host: string; port: number }): Promise<{ port: number; cut: () => void; cuts: number }> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((down) => {
    const up = net.connect(target.port, target.host);
    const pair: [net.Socket, net.Socket] = [down, up];
    pairs.add(pair);
    const end = () => {
      down.destroy();
      up.destroy();
      pairs.delete(pair);
    };
    for (const s of pair) {
      s.on('error', end);
      s.on('close', end);
    }
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const r = {
    port: (server.address() as net.AddressInfo).port,
    cuts: 0,
    cut: () => {
      r.cuts++;
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
  };
  closers.push(() => {
    r.cut();
    return new Promise<void>((res) => server.close(() => res()));
  });
  return r;
}

const msg = (i: number): ChannelMessage => ({ type: 'heartbeat', epoch: 1, r: i, lastIndex: i });
const frameId = (f: Uint8Array) => {
  const d = decodeChannel(f);
  if (!d.ok || d.message.type !== 'heartbeat') throw new Error('not a test frame');
  return d.message.r;
};

describe('LogChannel', () => {
  it('carries frames in order both ways, small and as large as a channel frame gets', async () => {
    const server = await listen();
    const client = dial(server.endpoint);
    await client.whenConnected(2000);
    await until(() => server.connected, 2000, 'the listener to see the connection');
    const atServer: number[] = [];
    const atClient: number[] = [];
    server.onFrame((f) => atServer.push(frameId(f)));
    client.onFrame((f) => atClient.push(f.length));
    for (let i = 1; i <= 5000; i++) expect(client.send(encodeChannel(msg(i)))).toBe(true);
    const big = encodeChannel({ type: 'snapshot', epoch: 1, index: 1, total: 64_000, offset: 0, chunk: new Uint8Array(64_000 - 36).fill(3) });
    for (let i = 0; i < 50; i++) server.send(big);
    await until(() => atServer.length === 5000 && atClient.length === 50, 5000, 'all frames');
    expect(atServer).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    expect(atClient.every((n) => n === big.length)).toBe(true);
    expect(client.stats).toMatchObject({ framesSent: 5000, framesReceived: 50, malformedFrames: 0, connects: 1 });
  });

  it('counts a malformed frame and closes the connection; the dialer comes back', async () => {
    const server = await listen();
    const client = dial(server.endpoint, { reconnectDelayMs: 10 });
    await client.whenConnected(2000);
    await until(() => server.connected, 2000, 'connection');
    const bad = encodeChannel(msg(1));
    bad[bad.length - 1]! ^= 1; // CRC
    // Bypass send()'s checks: write straight to the dialer's socket as a broken peer would.
    const statuses: LogChannelStatus[] = [];
    const serverStatuses: LogChannelStatus[] = [];
    client.onStatus((s) => statuses.push(s));
    server.onStatus((s) => serverStatuses.push(s));
    (server as unknown as { socket: net.Socket }).socket.write(bad);
    await until(() => client.stats.malformedFrames === 1 && client.stats.connects === 2, 3000, 'the reconnection');
    expect(statuses.map((s) => s.type)).toEqual(['down', 'up']);
    // The side that dropped the connection says so (not a loss of its peer); the other side lost it.
    expect(statuses[0]).toMatchObject({ type: 'down', reason: 'bad frame' });
    await until(() => serverStatuses.length >= 2, 3000, 'the listener to see the drop and the new connection');
    expect(serverStatuses[0]).toMatchObject({ type: 'down', reason: 'connection lost' });
    // A frame whose length field is absurd.
    (client as unknown as { socket: net.Socket }).socket.write(Uint8Array.of(1, 1, 0, 0, 0xff, 0xff, 0xff, 0xff));
    await until(() => server.stats.malformedFrames === 1 && client.stats.connects === 3, 3000, 'the second reconnection');
    expect(serverStatuses.filter((s) => s.type === 'down').map((s) => s.type === 'down' && s.reason)).toEqual(['connection lost', 'bad frame']);
    expect(statuses.filter((s) => s.type === 'down').map((s) => s.type === 'down' && s.reason)).toEqual(['bad frame', 'connection lost']);
    // Closing our own end reports no loss here; the other end has lost the connection.
    const before = statuses.length;
    await client.close();
    await until(() => serverStatuses.filter((s) => s.type === 'down').length === 3, 3000, 'the listener to see the close');
    expect(serverStatuses.at(-1)).toMatchObject({ type: 'down', reason: 'connection lost' });
    expect(statuses.slice(before).filter((s) => s.type === 'down' && s.reason !== 'closed')).toEqual([]);
  });

  it('refuses frames beyond maxBufferedBytes instead of buffering without bound', async () => {
    const server = await listen({ maxBufferedBytes: 1_000_000 });
    // A backup that connects and never reads.
    const stuck = net.connect(server.endpoint.port, '127.0.0.1');
    stuck.pause();
    closers.push(() => stuck.destroy());
    await until(() => server.connected, 2000, 'connection');
    const frame = encodeChannel({ type: 'snapshot', epoch: 1, index: 1, total: 60_000, offset: 0, chunk: new Uint8Array(60_000) });
    let accepted = 0;
    for (let i = 0; i < 2000 && server.send(frame); i++) {
      accepted++;
      if (i % 20 === 19) await sleep(1); // let the kernel take what it will
    }
    expect(server.stats.dropped.backpressure).toBe(1);
    expect(server.bufferedBytes).toBeLessThanOrEqual(1_000_000);
    expect(server.stats.maxBufferedBytes).toBeLessThanOrEqual(1_000_000);
    expect(accepted).toBeLessThan(2000);
  });

  it('a dialer with nobody to dial says so in one line and keeps trying', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const client = dial({ host: '127.0.0.1', port }, { reconnectDelayMs: 5, reconnectMaxMs: 20 });
    const failures: LogChannelStatus[] = [];
    client.onStatus((s) => failures.push(s));
    await expect(client.whenConnected(200)).rejects.toThrow(/^nothing is listening at 127\.0\.0\.1:\d+; start the primary's log channel first, or point --channel at it$/);
    expect(failures.length).toBeGreaterThan(2);
    expect(client.send(encodeChannel(msg(1)))).toBe(false);
    expect(client.stats.dropped['not-connected']).toBe(1);
    // The primary comes up on that port: the dialer gets there by itself.
    const server = await LogChannel.listen({ host: '127.0.0.1', port });
    closers.push(() => server.close());
    await client.whenConnected(2000);
  });

  it('a listener takes the newest connection and drops the older one', async () => {
    const server = await listen();
    const first = dial(server.endpoint);
    await first.whenConnected(2000);
    await until(() => server.stats.connects === 1, 2000, 'first');
    const second = dial(server.endpoint, { reconnectDelayMs: 1000 });
    await second.whenConnected(2000);
    await until(() => server.stats.replaced === 1, 2000, 'replacement');
    const got: number[] = [];
    second.onFrame((f) => got.push(frameId(f)));
    first.onFrame(() => got.push(-1));
    server.send(encodeChannel(msg(42)));
    await until(() => got.length >= 1, 2000, 'frame');
    expect(got).toEqual([42]);
  });
});

// ---- a real primary/backup pair over the channel -----------------------------------------

const SERVICE = parseIpv4Addr('192.0.2.10');
const CLIENT = parseIpv4Addr('192.0.2.1');
const rsm: RsmConfig = { stack: { addresses: [SERVICE], seed: 1234 }, servicePort: 7, app: 'echo', digestEvery: 16 };
const opts = (name: string): ReplicaOptions => ({ name, rsm, factory: stackFactory, heartbeatMs: 5, failureTimeoutMs: 600_000 });
const nowUs = () => Math.round(performance.now() * 1000);

describe('LogChannel under a primary and a backup (src/replica)', () => {
  it('loses no entry and applies none twice when the connection breaks mid-stream, twice', async () => {
    const primaryCh = await listen();
    const cutter = await relay(primaryCh.endpoint);
    const backupCh = dial({ host: '127.0.0.1', port: cutter.port }, { reconnectDelayMs: 5, reconnectMaxMs: 20 });
    const p = Replica.primary(opts('a'), 'b', nowUs());
    const b = Replica.backup(opts('b'), 'a', nowUs());
    const released: ServicePacket[] = [];
    const shadowed: Array<{ index: number; packet: Uint8Array }> = [];
    const faults: ReplicaEvent[] = [];
    const pump = () => {
      for (let f = p.pollChannel(); f !== undefined; f = p.pollChannel()) primaryCh.send(f);
      for (let f = b.pollChannel(); f !== undefined; f = b.pollChannel()) backupCh.send(f);
      for (let t = p.pollTransmit(); t !== undefined; t = p.pollTransmit()) released.push(t);
      for (let e = p.pollEvent(); e !== undefined; e = p.pollEvent()) if (e.type === 'fault' || e.type === 'suspect') faults.push(e);
      for (let e = b.pollEvent(); e !== undefined; e = b.pollEvent()) {
        if (e.type === 'shadow') shadowed.push({ index: e.index, packet: e.packet });
        else if (e.type === 'fault' || e.type === 'suspect') faults.push(e);
      }
    };
    primaryCh.onFrame((f) => {
      p.handleChannel(nowUs(), f);
      pump();
    });
    backupCh.onFrame((f) => {
      b.handleChannel(nowUs(), f);
      pump();
    });
    const timers = setInterval(() => {
      const now = nowUs();
      for (const r of [p, b]) {
        const t = r.pollTimeout();
        if (t !== undefined && t <= now) r.handleTimeout(now);
      }
      pump();
    }, 1);
    closers.push(() => clearInterval(timers));
    await backupCh.whenConnected(2000);

    // Client packets for the service, fed in bursts: each is one log entry; many make the
    // stack answer (RST for an unknown connection), so outputs wait on the output rule.
    const total = 3000;
    for (let i = 0; i < total; i++) {
      p.handleServicePacket(nowUs(), tcpPacket(CLIENT, SERVICE, i % 50, i + 1));
      if (i % 25 === 24) {
        pump();
        await sleep(1);
      }
      if (i === 1000 || i === 2000) cutter.cut(); // mid-stream: frames in flight both ways
    }
    pump();
    await until(() => b.rsm!.index === p.rsm!.index && (p.current as { acked: number }).acked === p.rsm!.index, 20_000, 'the backup to catch up');

    const last = p.rsm!.index;
    expect(last).toBeGreaterThanOrEqual(total);
    // Every entry applied once, in order, with the primary's state (a mismatch is a fault).
    expect(faults).toEqual([]);
    expect(b.roleName).toBe('backup');
    const bc = (b.current as { counters: { applied: number; duplicates: number; badFrames: number } }).counters;
    expect(bc.applied).toBe(last);
    expect(bc.badFrames).toBe(0);
    // The cuts hit mid-stream and the channel recovered on its own.
    expect(cutter.cuts).toBe(2);
    expect(backupCh.stats.connects).toBe(3);
    expect(backupCh.stats.resendsOnReconnect).toBe(2); // one per reconnection (none on the first: nothing acked yet)
    expect(primaryCh.stats.dropped['not-connected'] + primaryCh.stats.disconnects).toBeGreaterThan(0);
    // Outputs released in index order, byte-identical to what the backup shadowed.
    expect(released.every((r, i) => i === 0 || r.index >= released[i - 1]!.index)).toBe(true);
    expect(released.length).toBeGreaterThan(0);
    expect(released.length).toBe(shadowed.length);
    released.forEach((r, i) => {
      if (r.index !== shadowed[i]!.index || !Buffer.from(r.packet).equals(Buffer.from(shadowed[i]!.packet))) throw new Error(`output ${i} differs`);
    });
    console.log(
      `log channel: ${last} entries, ${released.length} outputs; cuts ${cutter.cuts}, primary dropped ${primaryCh.stats.dropped['not-connected']} frames while down, ` +
        `backup saw ${bc.duplicates} duplicate entries (dropped by index)`,
    );
  });
});
