// The fast path of failure detection driven by hand: the peer's end of the log channel
// closed (handlePeerLost), so the role suspects it at once and asks the arbiter, instead of
// waiting for the failure timeout D. It never acts without the arbiter, never asks twice,
// and ignores the loss where nothing can be taken over.
import { describe, expect, it } from 'vitest';
import { encodeArbiter, TestAndSetArbiter, type ArbiterRequest } from '../../src/replica/arbiter.js';
import type { ReplicaEvent } from '../../src/replica/outbox.js';
import { Replica } from '../../src/replica/replica.js';
import { Stack } from '../../src/tcp/stack.js';
import { counterOpts, drainAll, exchange, pairWithClient } from './pair-harness.js';
import { CLIENT, PORT, SERVICE } from './rsm-harness.js';

const opts = counterOpts;
/** D at the defaults (50 ms): every loss below comes long before it. */
const D_US = 50_000;

function pair() {
  const p = pairWithClient();
  drainAll(() => p.a.pollEvent());
  drainAll(() => p.b.pollEvent());
  return p;
}

const suspects = (events: ReplicaEvent[]) => events.filter((e): e is Extract<ReplicaEvent, { type: 'suspect' }> => e.type === 'suspect');

describe('the peer lost: a backup', () => {
  it('suspects at once, long before D, asks the arbiter once, and goes live when it wins', () => {
    const { b } = pair();
    b.handlePeerLost(1_000);
    const events = drainAll(() => b.pollEvent());
    expect(suspects(events)).toEqual([{ type: 'suspect', epoch: 1, silentUs: 800, reason: 'channel-lost' }]);
    const req = b.pollArbiter() as ArbiterRequest;
    expect(req).toMatchObject({ type: 'request', epoch: 1, replica: 'b' });
    // Not twice: a second loss, and the timer before the retry interval, ask nothing more.
    b.handlePeerLost(1_100);
    b.handleTimeout(2_000);
    expect(drainAll(() => b.pollArbiter())).toEqual([]);
    expect(suspects(drainAll(() => b.pollEvent()))).toEqual([]);
    // It never acts on the suspicion alone: still a backup until the arbiter answers.
    expect(b.live).toBe(false);
    b.handleArbiter(3_000, encodeArbiter(new TestAndSetArbiter().handle(req)));
    const live = drainAll(() => b.pollEvent()).find((e) => e.type === 'live');
    expect(live).toMatchObject({ epoch: 2, reason: 'failover' });
    expect(b.live).toBe(true);
    // Live, a loss of the old channel means nothing.
    b.handlePeerLost(4_000);
    expect(drainAll(() => b.pollArbiter())).toEqual([]);
  });

  it('that loses the test-and-set stops: the primary was alive', () => {
    const { b } = pair();
    const arbiter = new TestAndSetArbiter();
    arbiter.handle({ type: 'request', id: 1, epoch: 1, replica: 'a' });
    b.handlePeerLost(1_000);
    b.handleArbiter(2_000, encodeArbiter(arbiter.handle(b.pollArbiter()!)));
    expect(drainAll(() => b.pollEvent())).toContainEqual({ type: 'lost', epoch: 1, winner: 'a' });
    expect(b.roleName).toBe('stopped');
    b.handlePeerLost(3_000);
    expect(b.pollArbiter()).toBeUndefined();
  });

  it('taking over in a planned switchover: the primary closing the channel asks nothing a second time', () => {
    const { a, b } = pair();
    expect(a.handOver(500)).toBeUndefined();
    exchange(a, b, 600);
    const taking = drainAll(() => b.pollEvent());
    expect(taking.some((e) => e.type === 'taking-over')).toBe(true);
    expect(drainAll(() => b.pollArbiter()).length).toBe(1);
    b.handlePeerLost(700);
    expect(drainAll(() => b.pollArbiter())).toEqual([]);
    expect(suspects(drainAll(() => b.pollEvent()))).toEqual([]);
  });

  it('a joiner waiting for its snapshot ignores the loss (nothing to take over; it asks to join again)', () => {
    const c = Replica.joiner(opts('c'), 'a', 0);
    drainAll(() => c.pollChannel());
    c.handlePeerLost(1_000);
    expect(c.roleName).toBe('joining');
    expect(c.pollArbiter()).toBeUndefined();
    expect(drainAll(() => c.pollEvent())).toEqual([]);
  });
});

describe('the peer lost: a primary', () => {
  it('suspects its backup at once instead of holding output for D; winning releases the hold', () => {
    const { a } = pair();
    const second = new Stack({ addresses: [CLIENT], seed: 6 });
    second.connect(0, { remoteAddress: SERVICE, remotePort: PORT });
    a.handleServicePacket(400, second.pollTransmit()!); // its SYN-ACK waits for b's ack
    drainAll(() => a.pollChannel());
    const held = (a.current as { holding: number }).holding;
    expect(held).toBeGreaterThan(0);
    a.handlePeerLost(1_000);
    expect(suspects(drainAll(() => a.pollEvent()))).toEqual([{ type: 'suspect', epoch: 1, silentUs: 1_000 - 200, reason: 'channel-lost' }]);
    const req = a.pollArbiter() as ArbiterRequest;
    expect(req).toMatchObject({ type: 'request', epoch: 1, replica: 'a' });
    // Before D nothing more: the timer does not ask a second time.
    a.handleTimeout(D_US);
    expect(a.pollArbiter()).toBeUndefined();
    a.handlePeerLost(1_100);
    expect(a.pollArbiter()).toBeUndefined();
    a.handleArbiter(2_000, encodeArbiter(new TestAndSetArbiter().handle(req)));
    expect(drainAll(() => a.pollEvent())).toContainEqual({ type: 'won', epoch: 1 });
    expect(a.epoch).toBe(2);
    expect(drainAll(() => a.pollTransmit()).length).toBe(held);
    // Alone now: a loss means nothing.
    a.handlePeerLost(3_000);
    expect(a.pollArbiter()).toBeUndefined();
  });

  it('that loses fences itself; fenced or alone, a loss asks nothing', () => {
    const { a } = pair();
    const arbiter = new TestAndSetArbiter();
    arbiter.handle({ type: 'request', id: 1, epoch: 1, replica: 'b' });
    a.handlePeerLost(1_000);
    a.handleArbiter(2_000, encodeArbiter(arbiter.handle(a.pollArbiter()!)));
    expect(a.roleName).toBe('fenced');
    a.handlePeerLost(3_000);
    expect(a.pollArbiter()).toBeUndefined();
    const alone = Replica.primary(opts('c'), undefined, 0);
    alone.handlePeerLost(1_000);
    expect(alone.pollArbiter()).toBeUndefined();
    expect(drainAll(() => alone.pollEvent()).map((e) => e.type)).toEqual(['announce']);
  });

  it('handing over, the backup gone: it asks at once and, winning, serves alone again', () => {
    const { a } = pair();
    expect(a.handOver(500)).toBeUndefined();
    drainAll(() => a.pollEvent());
    a.handlePeerLost(600);
    expect(suspects(drainAll(() => a.pollEvent()))).toMatchObject([{ reason: 'channel-lost' }]);
    a.handleArbiter(700, encodeArbiter(new TestAndSetArbiter().handle(a.pollArbiter()!)));
    expect(drainAll(() => a.pollEvent())).toContainEqual(expect.objectContaining({ type: 'handover-failed', epoch: 1, peer: 'b' }));
    expect(a.live).toBe(true);
  });
});
