// The failure detector as the roles use it: own stalls reported by the driver are not the
// peer's silence (only when Dmax > D), and every frame is liveness (not
// only heartbeats), so a heartbeat queued behind log traffic is never missed.
import { describe, expect, it } from 'vitest';
import type { ReplicaOptions } from '../../src/replica/outbox.js';
import { Replica } from '../../src/replica/replica.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import { Stack } from '../../src/tcp/stack.js';
import { CLIENT, PORT, rsmConfig, SERVICE } from './rsm-harness.js';

const MS = 1000;
const opts = (name: string, extra: Partial<ReplicaOptions> = {}): ReplicaOptions => ({ name, rsm: rsmConfig('counter'), factory: stackFactory, ...extra });

function drainAll<T>(poll: () => T | undefined): T[] {
  const out: T[] = [];
  for (let x = poll(); x !== undefined; x = poll()) out.push(x);
  return out;
}

/** Runs a and b from `from` to `to` (µs): every deadline met, every frame delivered at once. */
function run(a: Replica, b: Replica, from: number, to: number, each?: (now: number) => void, toClient?: (now: number, packet: Uint8Array) => void, stepUs = 1000): void {
  for (let now = from; now <= to; now += stepUs) {
    each?.(now);
    for (const r of [a, b]) {
      const d = r.pollTimeout();
      if (d !== undefined && d <= now) r.handleTimeout(now);
    }
    for (let moved = true; moved; ) {
      moved = false;
      for (const [from, to] of [[a, b], [b, a]] as const) {
        for (const f of drainAll(() => from.pollChannel())) {
          moved = true;
          to.handleChannel(now, f);
        }
      }
    }
    for (const p of drainAll(() => a.pollTransmit())) toClient?.(now, p.packet);
  }
}

describe('failure detector wiring in the roles', () => {
  it("a backup's own stall, reported by the driver, is not counted against its primary (Dmax > D)", () => {
    const o = { heartbeatMs: 10, failureTimeoutMs: 50, failureTimeoutMaxMs: 500 };
    const a = Replica.primary(opts('a', o), 'b', 0);
    const b = Replica.backup(opts('b', o), 'a', 0);
    run(a, b, 0, 1000 * MS); // 100 heartbeats: the timeout has settled at D
    // b's own event loop stalls for 200 ms; a heartbeat or two of a's were waiting meanwhile,
    // but a itself dies at 1000 ms, so nothing more comes.
    b.handleStall(1005 * MS, 1205 * MS);
    b.handleTimeout(1205 * MS);
    expect(b.pollArbiter(), 'silence that was our own stall').toBeUndefined();
    b.handleTimeout(1249 * MS);
    expect(b.pollArbiter()).toBeUndefined();
    b.handleTimeout(1250 * MS + 1);
    expect(b.pollArbiter(), 'D of silence outside the stall').toMatchObject({ type: 'request', epoch: 1, replica: 'b' });
  });

  it('with Dmax = D (the default) a stall gives no credit: the fixed timeout D', () => {
    const o = { heartbeatMs: 10, failureTimeoutMs: 50 };
    const a = Replica.primary(opts('a', o), 'b', 0);
    const b = Replica.backup(opts('b', o), 'a', 0);
    run(a, b, 0, 1000 * MS);
    b.handleStall(1005 * MS, 1205 * MS);
    b.handleTimeout(1205 * MS);
    expect(b.pollArbiter()).toMatchObject({ type: 'request' });
  });

  it('every frame is liveness: log entries without a single heartbeat keep both sides from suspecting', () => {
    // H 45 ms: entries every 30 ms mean the primary never has a reason to send a heartbeat.
    const o = { heartbeatMs: 45, failureTimeoutMs: 50 };
    const a = Replica.primary(opts('a', o), 'b', 0);
    const b = Replica.backup(opts('b', o), 'a', 0);
    const client = new Stack({ addresses: [CLIENT], seed: 5 });
    const s = client.connect(0, { remoteAddress: SERVICE, remotePort: PORT });
    let n = 0;
    run(a, b, 0, 3000 * MS, (now) => {
      if (now % (30 * MS) !== 0) return;
      if (n++ > 0) client.write(now, s, new TextEncoder().encode('INCR\n'));
      for (const p of drainAll(() => client.pollTransmit())) a.handleServicePacket(now, p);
    }, (now, p) => {
      client.handlePacket(now, p);
      client.read(now, s);
    });
    const role = a.current as { counters: { heartbeats: number; entries: number } };
    expect(role.counters.entries).toBeGreaterThan(90);
    expect(role.counters.heartbeats).toBe(0);
    expect(a.pollArbiter()).toBeUndefined();
    expect(b.pollArbiter()).toBeUndefined();
    expect(a.roleName).toBe('primary');
    expect(b.roleName).toBe('backup');
  });
});
