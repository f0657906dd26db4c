// A join is one long turn on each side: the primary takes the snapshot, the joiner restores
// it, and neither hears the other meanwhile. Neither may take that for a death, and a joiner
// that really dies must still be suspected. Roles driven by hand; D = 50 ms (the default).
import { describe, expect, it } from 'vitest';
import { decodeChannel, encodeChannel, type ChannelMessage } from '../../src/replica/channel.js';
import { JOIN_RESTORE_US_PER_BYTE } from '../../src/replica/primary.js';
import { Replica } from '../../src/replica/replica.js';
import { counterOpts, drainAll } from './pair-harness.js';

const D = 50_000;
const decode = (frames: Uint8Array[]): ChannelMessage[] => frames.map((f) => decodeChannel(f)).flatMap((d) => (d.ok ? [d.message] : []));
const eventTypes = (r: Replica): string[] => drainAll(() => r.pollEvent()).map((e) => e.type);

/** A lone primary `a` that has sent its snapshot to joiner `c` at 1 ms; the snapshot's frames and size. */
function joinAt1ms(): { p: Replica; c: Replica; snapshot: Uint8Array[]; bytes: number } {
  const p = Replica.primary(counterOpts('a'), undefined, 0);
  const c = Replica.joiner(counterOpts('c'), 'a', 0);
  for (const f of drainAll(() => c.pollChannel())) p.handleChannel(1_000, f);
  const joined = drainAll(() => p.pollEvent()).find((e) => e.type === 'backup-joined') as { snapshotBytes: number } | undefined;
  expect(joined).toBeDefined();
  return { p, c, snapshot: drainAll(() => p.pollChannel()), bytes: joined!.snapshotBytes };
}

describe('the primary expects its joiner to be silent while it restores', () => {
  it('waits D plus the snapshot restore allowance, and still suspects a joiner silent for longer', () => {
    const { p, bytes } = joinAt1ms();
    const floor = D + bytes * JOIN_RESTORE_US_PER_BYTE;
    expect(bytes).toBeGreaterThan(1_000);
    expect(p.pollTimeout()).toBeLessThanOrEqual(1_000 + 10_000); // heartbeats still go out every H
    // A silence past D but short of the floor is not enough while the join lasts.
    p.handleTimeout(1_000 + D + (floor - D) / 2);
    expect(eventTypes(p)).not.toContain('suspect');
    p.handleTimeout(1_000 + floor - 1);
    expect(eventTypes(p)).not.toContain('suspect');
    // A joiner that died: suspected once the floor has passed.
    p.handleTimeout(1_000 + floor);
    expect(eventTypes(p)).toContain('suspect');
  });

  it('judges silence against D again once the joiner has acknowledged the snapshot', () => {
    const { p, c, snapshot, bytes } = joinAt1ms();
    for (const f of snapshot) c.handleChannel(2_000, f);
    for (const f of drainAll(() => c.pollChannel())) p.handleChannel(2_000, f);
    c.handleTimeout(c.pollTimeout()!); // the restore
    expect(c.roleName).toBe('backup');
    for (const f of drainAll(() => c.pollChannel())) p.handleChannel(3_000, f); // its ack of k
    expect(D + bytes * JOIN_RESTORE_US_PER_BYTE).toBeGreaterThan(D + 1_000);
    drainAll(() => p.pollEvent());
    p.handleTimeout(3_000 + D);
    expect(eventTypes(p)).toContain('suspect');
  });

  it("does not count its own stall taking the snapshot against the joiner, even with a fixed timeout", () => {
    const { p, bytes } = joinAt1ms();
    const floor = D + bytes * JOIN_RESTORE_US_PER_BYTE;
    // Taking the snapshot kept the primary's event loop busy for 2 s (the stall watch reports it).
    p.handleStall(1_000, 2_001_000);
    p.handleTimeout(2_001_000 + floor - 1);
    expect(eventTypes(p)).not.toContain('suspect');
    p.handleTimeout(2_001_000 + floor);
    expect(eventTypes(p)).toContain('suspect');
  });

  it('does not send the snapshot again for a join request that was queued behind its taking it', () => {
    const { p, c } = joinAt1ms();
    p.handleStall(6_000, 900_000);
    // The joiner asked again (epoch 0) while the primary was busy; the ask arrives just after.
    const again = encodeChannel({ type: 'join', epoch: 0, name: 'c' });
    p.handleChannel(900_100, again);
    expect(decode(drainAll(() => p.pollChannel())).filter((m) => m.type === 'snapshot')).toEqual([]);
    // An ask D after the snapshot left means the joiner lost it: sent again.
    p.handleChannel(900_000 + D, again);
    expect(decode(drainAll(() => p.pollChannel())).filter((m) => m.type === 'snapshot').length).toBeGreaterThan(0);
    expect(c.roleName).toBe('joining');
  });
});

describe('the joiner does not count its own restore against its primary', () => {
  it('starts the silence at its first timeout after the restore, and still suspects a silent primary', () => {
    const { p, c, snapshot } = joinAt1ms();
    for (const f of snapshot) c.handleChannel(2_000, f);
    for (const f of drainAll(() => c.pollChannel())) p.handleChannel(2_000, f);
    c.handleTimeout(c.pollTimeout()!); // restores (in real time this turn is long)
    expect(c.roleName).toBe('backup');
    expect(eventTypes(c)).toContain('joined');
    // The restore ended 400 ms later (8 D): the next timeout is due at once and restarts the silence.
    expect(c.pollTimeout()!).toBeLessThanOrEqual(402_000);
    c.handleTimeout(402_000);
    expect(eventTypes(c)).not.toContain('suspect');
    expect(c.pollTimeout()).toBe(402_000 + D);
    c.handleTimeout(402_000 + D - 1);
    expect(eventTypes(c)).not.toContain('suspect');
    // The primary said nothing since: D after the restore, it is suspected.
    c.handleTimeout(402_000 + D);
    expect(eventTypes(c)).toContain('suspect');
  });

  it('says it is alive with the chunks themselves, every H, without waiting for a timeout', () => {
    const { c, snapshot } = joinAt1ms();
    const whole = decode(snapshot).find((m) => m.type === 'snapshot');
    if (whole?.type !== 'snapshot') throw new Error('no snapshot chunk');
    // The snapshot in six parts, arriving 5 ms apart (H = 10 ms); no timeout in between.
    const part = Math.ceil(whole.chunk.length / 6);
    const sent: ChannelMessage[] = [];
    for (let i = 0; i < 6; i++) {
      c.handleChannel(2_000 + i * 5_000, encodeChannel({ ...whole, offset: i * part, chunk: whole.chunk.subarray(i * part, (i + 1) * part) }));
      sent.push(...decode(drainAll(() => c.pollChannel())));
    }
    // At 12 ms (H after its ask at 0), at 22 ms, and with the last part at 27 ms (before the restore).
    expect(sent).toEqual([0, 1, 2].map(() => ({ type: 'join', epoch: whole.epoch, name: 'c' })));
  });
});
