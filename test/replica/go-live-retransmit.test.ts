// Go-live restarts every flow at once: a backup that goes live retransmits each connection's
// first unacknowledged segment (the `retransmit` entry) instead of leaving a flow with nothing
// above r to re-emit waiting for a timer. Driven by hand, traced packet by packet.
import { describe, expect, it } from 'vitest';
import { encodeArbiter, TestAndSetArbiter } from '../../src/replica/arbiter.js';
import type { LogEntry } from '../../src/replica/log.js';
import type { ReplicaEvent, ReplicaOptions, ServicePacket } from '../../src/replica/outbox.js';
import { Replica } from '../../src/replica/replica.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import { Stack } from '../../src/tcp/stack.js';
import { parseTcpPacket } from '../../src/wire/packet.js';
import { CLIENT, PORT, rsmConfig, SERVICE } from './rsm-harness.js';

const opts = (name: string): ReplicaOptions => ({ name, rsm: rsmConfig('echo'), factory: stackFactory });

function drainAll<T>(poll: () => T | undefined): T[] {
  const out: T[] = [];
  for (let x = poll(); x !== undefined; x = poll()) out.push(x);
  return out;
}

function seg(packet: Uint8Array): { seq: number; ack: number; payload: string } {
  const p = parseTcpPacket(packet, false);
  if (!p.ok) throw new Error('not TCP');
  return { seq: p.segment.seq >>> 0, ack: p.segment.ack >>> 0, payload: Buffer.from(p.segment.payload).toString() };
}

/** A pair a (primary), b (backup) and a client connected to the echo service; every frame between them delivered at once. */
function pair() {
  const a = Replica.primary(opts('a'), 'b', 0);
  const b = Replica.backup(opts('b'), 'a', 0);
  const client = new Stack({ addresses: [CLIENT], seed: 5 });
  let now = 1000;
  /** Log frames both ways until quiet; returns what a released to the clients. */
  const sync = (): ServicePacket[] => {
    for (let moved = true; moved; ) {
      moved = false;
      for (const f of drainAll(() => a.pollChannel())) {
        b.handleChannel(now, f);
        moved = true;
      }
      for (const f of drainAll(() => b.pollChannel())) {
        a.handleChannel(now, f);
        moved = true;
      }
    }
    return drainAll(() => a.pollTransmit());
  };
  const toService = () => {
    for (const p of drainAll(() => client.pollTransmit())) a.handleServicePacket(now, p);
  };
  const s = client.connect(now, { remoteAddress: SERVICE, remotePort: PORT });
  toService();
  for (const p of sync()) client.handlePacket((now += 100), p.packet);
  toService();
  sync();
  const at = (t: number) => (now = t);
  return { a, b, client, socket: s, sync, toService, at, now: () => now };
}

/** b's failure detector fires, the arbiter grants it the test-and-set: b goes live. */
function failOver(b: Replica, fromUs: number): { out: ServicePacket[]; events: ReplicaEvent[] } {
  drainAll(() => b.pollEvent());
  const arb = new TestAndSetArbiter();
  b.handleTimeout(b.pollTimeout()!);
  const req = b.pollArbiter();
  expect(req, 'b suspects the silent primary').toBeDefined();
  b.handleArbiter(fromUs + 60_000, encodeArbiter(arb.handle(req!)));
  expect(b.live).toBe(true);
  return { out: drainAll(() => b.pollTransmit()), events: drainAll(() => b.pollEvent()) };
}

describe('go-live retransmits the first unacknowledged segment of every flow', () => {
  it('a reply lost on the client link with nothing above r to re-emit: the new primary sends it again at go-live, byte for byte what the old primary would have', () => {
    const { a, b, client, socket, sync, toService, at } = pair();
    client.write(at(5000), socket, new TextEncoder().encode('hello'));
    toService();
    const released = sync();
    const reply = released.map((p) => ({ p, s: seg(p.packet) })).find((x) => x.s.payload === 'hello');
    expect(reply, 'the old primary released the echo').toBeDefined();
    // That segment is lost on the way to the client. The next heartbeat tells b r, so b drops
    // its shadow copy: nothing above r is left to re-emit.
    a.handleTimeout(at(20_000));
    sync();
    expect(b.rsm!.index).toBe(a.rsm!.index);
    // a dies here. b goes live.
    const lastTimeUs = b.rsm!.lastTimeUs;
    const index = b.rsm!.index;
    const { out, events } = failOver(b, 20_000);
    expect(events.find((e) => e.type === 'live')).toMatchObject({ reemitted: 0 });
    expect(out.every((p) => !p.reemitted)).toBe(true);
    const again = out.filter((p) => seg(p.packet).seq === reply!.s.seq && seg(p.packet).payload === 'hello');
    expect(again.length, 'the lost reply goes out again at go-live').toBe(1);
    expect(again[0]!.index).toBe(index + 2); // after the epoch entry, the retransmit entry's output
    expect(again[0]!.epoch).toBe(2);
    // What the old primary would have sent: its own RSM, given the same two entries, emits the same bytes.
    const entries: LogEntry[] = [
      { kind: 'epoch', newEpoch: 2, members: ['b'], index: index + 1, epoch: 1, timeUs: lastTimeUs, checks: [] },
      { kind: 'retransmit', skip: [], index: index + 2, epoch: 2, timeUs: lastTimeUs, checks: [] },
    ];
    const fromA = entries.flatMap((e) => a.rsm!.apply(e).packets);
    expect(fromA.map((p) => Buffer.from(p).toString('hex'))).toEqual(out.map((p) => Buffer.from(p.packet).toString('hex')));
    // The client takes it as the reply it never had, without any retransmission of its own.
    client.handlePacket(at(90_000), again[0]!.packet);
    expect(new TextDecoder().decode(client.read(90_000, socket))).toBe('hello');
    expect(client.stats().retransmits).toBe(0);
  });

  it('a flow whose segment at SND.UNA is re-emitted is not sent twice', () => {
    const { a, b, client, socket, toService, at } = pair();
    client.write(at(5000), socket, new TextEncoder().encode('ping'));
    toService();
    // The primary logs the request and dies before the backup's ack comes back: the echo is held, b shadows it.
    for (const f of drainAll(() => a.pollChannel())) b.handleChannel(5000, f);
    drainAll(() => b.pollChannel());
    expect(a.pollTransmit()).toBeUndefined();
    const { out, events } = failOver(b, 5000);
    const live = events.find((e): e is Extract<ReplicaEvent, { type: 'live' }> => e.type === 'live');
    expect(live?.reemitted).toBeGreaterThanOrEqual(1);
    const data = out.filter((p) => seg(p.packet).payload === 'ping');
    expect(data.length).toBe(1);
    expect(data[0]!.reemitted).toBe(true);
    expect(out.filter((p) => !p.reemitted)).toEqual([]);
  });

  it('the retransmit entry survives the log codec and a replay gives the same outputs', async () => {
    const { decodeEntry, encodeEntry } = await import('../../src/replica/log.js');
    const e: LogEntry = { kind: 'retransmit', skip: [3, 9, 70000], index: 42, epoch: 2, timeUs: 123_456, checks: [] };
    const d = decodeEntry(encodeEntry(e));
    expect(d.ok && d.entry).toEqual(e);
    const bytes = encodeEntry({ ...e, skip: [] });
    expect(decodeEntry(bytes).ok).toBe(true);
  });
});
