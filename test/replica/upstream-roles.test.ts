// The roles with an upstream app, driven by hand: what the primary's app writes
// becomes `app` entries; the backup compares its own app's answers with them; a backup
// cannot join without a state adapter.
import { describe, expect, it } from 'vitest';
import { decodeAppendEntries, decodeChannel, encodeChannel } from '../../src/replica/channel.js';
import type { ReplicaEvent, ReplicaOptions } from '../../src/replica/outbox.js';
import { UPSTREAM_JOIN_REFUSED } from '../../src/replica/primary.js';
import { Replica, UpstreamJoinError } from '../../src/replica/replica.js';
import type { RsmConfig } from '../../src/replica/rsm.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import type { UpstreamEvent } from '../../src/proxy/upstream.js';
import { Stack } from '../../src/tcp/stack.js';
import { CLIENT, PORT, SERVICE } from './rsm-harness.js';

const config: RsmConfig = { stack: { addresses: [SERVICE], seed: 77 }, servicePort: PORT, app: 'upstream' };
const opts = (name: string, extra: Partial<ReplicaOptions> = {}): ReplicaOptions => ({ name, rsm: config, factory: stackFactory, ...extra });
const enc = new TextEncoder();

function drainAll<T>(poll: () => T | undefined): T[] {
  const out: T[] = [];
  for (let x = poll(); x !== undefined; x = poll()) out.push(x);
  return out;
}

/** Primary a and backup b with a log channel that delivers at once; a client talking to a. */
function pair() {
  const a = Replica.primary(opts('a'), 'b', 0);
  const b = Replica.backup(opts('b'), 'a', 0);
  const client = new Stack({ addresses: [CLIENT], seed: 5 });
  let now = 0;
  const pump = () => {
    for (let i = 0; i < 20; i++) {
      now += 100;
      let moved = false;
      for (const f of drainAll(() => a.pollChannel())) {
        b.handleChannel(now, f);
        moved = true;
      }
      for (const f of drainAll(() => b.pollChannel())) {
        a.handleChannel(now, f);
        moved = true;
      }
      for (const p of drainAll(() => a.pollTransmit())) {
        client.handlePacket(now, p.packet);
        moved = true;
      }
      for (let p = client.pollTransmit(); p !== undefined; p = client.pollTransmit()) {
        a.handleServicePacket(now, p);
        moved = true;
      }
      if (!moved) return;
    }
  };
  return { a, b, client, pump, now: () => now };
}

describe('replica roles with an upstream app', () => {
  it("the primary logs its app's bytes; the backup sees the same client bytes and flags its own app's different answer", () => {
    const { a, b, client, pump, now } = pair();
    const s = client.connect(0, { remoteAddress: SERVICE, remotePort: PORT });
    pump();
    client.write(now(), s, enc.encode('GET\n'));
    pump();
    const ua: UpstreamEvent[] = drainAll(() => a.pollUpstream());
    const ub: UpstreamEvent[] = drainAll(() => b.pollUpstream());
    expect(ua.map((e) => e.type)).toEqual(['open', 'data']);
    expect(ub).toEqual(ua);
    const conn = ua[0]!.conn;
    // a's app answers; the entry reaches b; b's own app answers something else.
    const appAtUs = now() + 37;
    a.handleUpstream(appAtUs, conn, { type: 'data', data: enc.encode('a says 1\n') });
    // The `app` entry carries the bytes and the primary's clock, and goes to the backup at once.
    const frames = drainAll(() => a.pollChannel()).map((f) => decodeChannel(f));
    const entries = frames.flatMap((d) => (d.ok && d.message.type === 'append' ? decodeAppendEntries(d.message.entries).entries : []));
    expect(entries.map((e) => e.kind)).toEqual(['app']);
    expect(entries[0]).toMatchObject({ kind: 'app', socket: conn, op: 'write', timeUs: appAtUs, data: enc.encode('a says 1\n') });
    for (const d of frames) if (d.ok) b.handleChannel(appAtUs, encodeChannel(d.message));
    pump();
    b.handleUpstream(now(), conn, { type: 'data', data: enc.encode('b says 1\n') });
    const events = drainAll(() => b.pollEvent()).filter((e): e is Extract<ReplicaEvent, { type: 'divergence' }> => e.type === 'divergence');
    expect(events).toEqual([{ type: 'divergence', conn, offset: 0, what: 'byte 0x61 logged, 0x62 own' }]);
    expect(b.divergence?.count).toBe(1);
    // The client got the primary's bytes, untouched; b sent nothing to clients.
    expect(new TextDecoder().decode(client.read(now(), s))).toBe('a says 1\n');
    expect(b.pollTransmit()).toBeUndefined();
    // A report for a connection the RSM does not have is ignored, on either role.
    a.handleUpstream(now(), 999, { type: 'data', data: enc.encode('x') });
    expect(a.counters.upstreamIgnored).toBe(1);
  });

  it('a joining backup without a state adapter is refused, by itself and by the primary', () => {
    expect(() => Replica.joiner(opts('c'), 'a', 0)).toThrow(UpstreamJoinError);
    expect(() => Replica.joiner(opts('c'), 'a', 0)).toThrow(UPSTREAM_JOIN_REFUSED);
    // A joiner that does claim an adapter, facing a primary that has none: the primary refuses.
    const a = Replica.primary(opts('a'), undefined, 0);
    const c = Replica.joiner(opts('c', { upstreamAdapter: 'test' }), 'a', 0);
    c.handleTimeout(c.pollTimeout() ?? 0);
    const joins = drainAll(() => c.pollChannel());
    expect(joins.map((f) => decodeChannel(f)).some((d) => d.ok && d.message.type === 'join')).toBe(true);
    drainAll(() => a.pollEvent());
    for (const f of joins) a.handleChannel(1000, f);
    const events = drainAll(() => a.pollEvent());
    expect(events.some((e) => e.type === 'backup-joined')).toBe(false);
    expect(events.find((e) => e.type === 'rejected')).toMatchObject({ reason: expect.stringContaining(UPSTREAM_JOIN_REFUSED) });
    expect(a.peer).toBeUndefined();
    expect(a.epoch).toBe(1);
    // With an adapter on the primary too, the join goes ahead in two steps: the driver is
    // asked to make its app quiescent and export its state (join-prepare), and the snapshot
    // is taken when it hands that state in (completeUpstreamJoin).
    const a2 = Replica.primary(opts('a', { upstreamAdapter: 'test' }), undefined, 0);
    drainAll(() => a2.pollEvent());
    for (const f of joins) a2.handleChannel(1000, f);
    const prepared = drainAll(() => a2.pollEvent());
    expect(prepared.filter((e) => e.type === 'join-prepare')).toEqual([{ type: 'join-prepare', peer: 'c' }]);
    expect(prepared.some((e) => e.type === 'backup-joined')).toBe(false);
    expect(a2.epoch).toBe(1);
    for (const f of joins) a2.handleChannel(1100, f); // asked again meanwhile: still one preparation
    expect(drainAll(() => a2.pollEvent()).some((e) => e.type === 'join-prepare')).toBe(false);
    expect(a2.completeUpstreamJoin(1200, 'x', enc.encode('nope'))).toBe(false);
    expect(a2.completeUpstreamJoin(1200, 'c', enc.encode('app state at k'))).toBe(true);
    expect(drainAll(() => a2.pollEvent()).some((e) => e.type === 'backup-joined')).toBe(true);
    expect(a2.epoch).toBe(2);
    // The joiner restores the snapshot; the app state it carried is handed out once, outside the replicated state.
    for (const f of drainAll(() => a2.pollChannel())) c.handleChannel(1300, f);
    c.handleTimeout(c.pollTimeout()!); // a joiner restores at its next timeout, after saying it is alive
    expect(drainAll(() => c.pollEvent()).some((e) => e.type === 'joined')).toBe(true);
    const imported = c.rsm!.takeUpstreamImport();
    expect(new TextDecoder().decode(imported.appState)).toBe('app state at k');
    expect(c.rsm!.takeUpstreamImport().appState).toBeUndefined();
    expect(c.rsm!.digest()).toBe(a2.rsm!.digest());
  });
});
