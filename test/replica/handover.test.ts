// Planned switchover driven by hand: the primary hands over, the backup takes over at once
// (no silence, no failure timeout), the old primary emits nothing after its last release.
import { describe, expect, it } from 'vitest';
import { encodeArbiter, TestAndSetArbiter, type ArbiterRequest } from '../../src/replica/arbiter.js';
import { CHANNEL_TYPE_FORWARD, CHANNEL_TYPE_HANDOVER, decodeChannel, encodeChannel, type ChannelMessage } from '../../src/replica/channel.js';
import type { ReplicaEvent } from '../../src/replica/outbox.js';
import { Replica } from '../../src/replica/replica.js';
import { Stack } from '../../src/tcp/stack.js';
import { crc32 } from '../../src/wire/crc32.js';
import { channelFor } from '../../src/net/channel-route.js';
import { counterOpts, drainAll, pairWithClient } from './pair-harness.js';
import { CLIENT, PORT, SERVICE } from './rsm-harness.js';

const opts = counterOpts;

const decoded = (frames: Uint8Array[]): ChannelMessage[] => frames.map((f) => {
  const d = decodeChannel(f);
  if (!d.ok) throw new Error(d.reason);
  return d.message;
});

describe('channel frames of the handover', () => {
  it('handover and forward round-trip, with their type bytes', () => {
    const h: ChannelMessage = { type: 'handover', epoch: 3, r: 2 ** 40 + 7, lastIndex: 2 ** 40 + 9 };
    const hb = encodeChannel(h);
    expect(hb[1]).toBe(CHANNEL_TYPE_HANDOVER);
    expect(hb.length).toBe(12 + 16 + 4);
    expect(decodeChannel(hb)).toEqual({ ok: true, message: h });
    const f: ChannelMessage = { type: 'forward', epoch: 3, packet: new Uint8Array([0x45, 1, 2, 3, 4]) };
    const fb = encodeChannel(f);
    expect(fb[1]).toBe(CHANNEL_TYPE_FORWARD);
    expect(decodeChannel(fb)).toEqual({ ok: true, message: f });
  });

  it('refuses a handover with a short body, an empty forward and a flipped bit', () => {
    // An ack's frame (8-byte body) retyped as a handover, its CRC made good: the body is short.
    const short = encodeChannel({ type: 'ack', epoch: 1, index: 5 });
    short[1] = CHANNEL_TYPE_HANDOVER;
    new DataView(short.buffer).setUint32(short.length - 4, crc32(short, 0, short.length - 4));
    expect(decodeChannel(short)).toEqual({ ok: false, reason: 'channel-bad-body' });
    const empty = encodeChannel({ type: 'forward', epoch: 1, packet: new Uint8Array(0) });
    expect(decodeChannel(empty)).toEqual({ ok: false, reason: 'channel-bad-body' });
    const flipped = encodeChannel({ type: 'handover', epoch: 1, r: 1, lastIndex: 2 });
    flipped[20]! ^= 1;
    expect(decodeChannel(flipped)).toEqual({ ok: false, reason: 'channel-bad-crc' });
    expect(() => encodeChannel({ type: 'forward', epoch: 1, packet: new Uint8Array(70_000) })).toThrow(RangeError);
  });
});

describe('planned switchover of a pair', () => {
  function pairWithTraffic() {
    const { a, b, client } = pairWithClient();
    // The ACK and a request: entries the backup gets but whose outputs stay held.
    for (let p = client.pollTransmit(); p !== undefined; p = client.pollTransmit()) a.handleServicePacket(400, p);
    drainAll(() => a.pollEvent());
    drainAll(() => b.pollEvent());
    return { a, b, client };
  }

  it('the backup takes over at once, in the next epoch, and the old primary goes silent', () => {
    const { a, b } = pairWithTraffic();
    const arbiter = new TestAndSetArbiter();
    drainAll(() => a.pollTransmit());
    expect(a.handOver(500)).toBeUndefined();
    const hoEvents = drainAll(() => a.pollEvent());
    expect(hoEvents[0]).toMatchObject({ type: 'handover', epoch: 1, peer: 'b' });
    const frames = drainAll(() => a.pollChannel());
    const last = decoded(frames).at(-1)!;
    expect(last).toMatchObject({ type: 'handover', epoch: 1 });
    // A client packet reaching the old primary now is forwarded, not logged.
    const idx = a.rsm!.index;
    a.handleServicePacket(510, new Uint8Array([0x45, 0, 0, 20]));
    expect(a.rsm!.index).toBe(idx);
    frames.push(...drainAll(() => a.pollChannel()));
    expect(decoded(frames).at(-1)).toMatchObject({ type: 'forward' });
    // The process sends a handing-over primary's frames to its backup, on the channel it listens on.
    expect(channelFor(a, frames.at(-1)!)).toBe('listen');
    // Ticks do not move it either: its RSM stands still.
    a.handleTimeout(5_000_000);
    expect(a.rsm!.index).toBe(idx);

    for (const f of frames) b.handleChannel(600, f);
    const bEvents = drainAll(() => b.pollEvent());
    expect(bEvents.find((e) => e.type === 'taking-over')).toMatchObject({ epoch: 1, lastIndex: idx });
    expect(bEvents.some((e) => e.type === 'suspect')).toBe(false); // not the failure detector
    const req = b.pollArbiter() as ArbiterRequest;
    expect(req).toMatchObject({ type: 'request', epoch: 1, replica: 'b' });
    // Acks still flow to the old primary (on the channel the backup dialled); it releases nothing more.
    const acks = drainAll(() => b.pollChannel());
    expect(acks.map((f) => channelFor(b, f))).toEqual(acks.map(() => 'dial'));
    for (const f of acks) a.handleChannel(700, f);
    expect(drainAll(() => a.pollTransmit())).toEqual([]);

    b.handleArbiter(800, encodeArbiter(arbiter.handle(req)));
    const live = drainAll(() => b.pollEvent()).find((e): e is Extract<ReplicaEvent, { type: 'live' }> => e.type === 'live');
    expect(live).toMatchObject({ epoch: 2, reason: 'switchover' });
    expect(b.live).toBe(true);
    const out = drainAll(() => b.pollTransmit());
    expect(out.every((p) => p.epoch === 2)).toBe(true);
    // The forwarded packet became the new primary's input: logged after the epoch entry and
    // the go-live retransmit entry (go-live.ts).
    expect(b.rsm!.index).toBe(idx + 3);
    const confirmFrames = drainAll(() => b.pollChannel());
    const confirm = decoded(confirmFrames).find((m) => m.type === 'handover');
    expect(confirm).toMatchObject({ epoch: 2 });
    // The new primary's handover goes back to the old primary, on the channel it dialled.
    expect(channelFor(b, confirmFrames.find((f) => f[1] === CHANNEL_TYPE_HANDOVER)!)).toBe('dial');

    drainAll(() => a.pollChannel());
    a.handleChannel(900, encodeChannel(confirm!));
    expect(drainAll(() => a.pollEvent())).toContainEqual({ type: 'handed-over', epoch: 2, peer: 'b' });
    expect(a.roleName).toBe('handed-over');
    expect(a.live).toBe(false);
    a.handleTimeout(10_000_000);
    expect(drainAll(() => a.pollChannel())).toEqual([]);
    expect(a.pollTimeout()).toBeUndefined();
    // A late client packet (still in its socket) is forwarded to the new primary, never answered.
    a.handleServicePacket(10_000_001, new Uint8Array([0x45, 0, 0, 20]));
    expect(drainAll(() => a.pollTransmit())).toEqual([]);
    const late = drainAll(() => a.pollChannel());
    expect(decoded(late).map((m) => m.type)).toEqual(['forward']);
    // Handed over (fenced, not live) it still sends on the channel it listens on, where the new
    // primary is: routed by `live`, this went to a dialled channel it never had, and was dropped.
    expect(channelFor(a, late[0]!)).toBe('listen');
  });

  it('a backup that falls silent during the handover: the primary wins and serves alone again', () => {
    const a = Replica.primary(opts('a'), 'b', 0);
    const client = new Stack({ addresses: [CLIENT], seed: 5 });
    client.connect(0, { remoteAddress: SERVICE, remotePort: PORT });
    a.handleServicePacket(100, client.pollTransmit()!); // its SYN-ACK is held: b never acknowledges
    const arbiter = new TestAndSetArbiter();
    expect(a.handOver(500)).toBeUndefined();
    drainAll(() => a.pollChannel());
    a.handleTimeout(500 + 50_000);
    const req = a.pollArbiter() as ArbiterRequest;
    expect(req).toMatchObject({ epoch: 1, replica: 'a' });
    a.handleArbiter(600_000, encodeArbiter(arbiter.handle(req)));
    const events = drainAll(() => a.pollEvent());
    expect(events).toContainEqual(expect.objectContaining({ type: 'handover-failed', epoch: 1, peer: 'b' }));
    expect(a.live).toBe(true);
    expect(a.epoch).toBe(2);
    // Its held output goes out now, and it takes input again.
    expect(drainAll(() => a.pollTransmit()).length).toBe(1);
    const index = a.rsm!.index;
    a.handleServicePacket(700_000, client.pollTransmit() ?? new Uint8Array([0x45, 0, 0, 20]));
    expect(a.rsm!.index).toBe(index + 1);
  });

  it('a primary that loses the test-and-set while handing over has handed over', () => {
    const { a } = pairWithTraffic();
    const arbiter = new TestAndSetArbiter();
    arbiter.handle({ type: 'request', id: 9, epoch: 1, replica: 'b' }); // b went live
    a.handOver(500);
    a.handleTimeout(500 + 50_000);
    const req = a.pollArbiter() as ArbiterRequest;
    a.handleArbiter(600_000, encodeArbiter(arbiter.handle(req)));
    expect(drainAll(() => a.pollEvent())).toContainEqual({ type: 'handed-over', epoch: 2, peer: 'b' });
    expect(a.roleName).toBe('handed-over');
  });

  it('refuses with a reason: a backup, a lone primary, twice', () => {
    const { a, b } = pairWithTraffic();
    expect(b.handOver(500)).toBe('it is the backup of a, not the primary');
    const alone = Replica.primary(opts('c'), undefined, 0);
    expect(alone.handOver(500)).toBe('it has no backup to hand over to');
    expect(a.handOver(500)).toBeUndefined();
    expect(a.handOver(501)).toBe('it is already handing over');
  });
});
