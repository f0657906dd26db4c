// A primary and a backup driven by hand, wired to each other by the test: shared by the
// tests of the planned switchover and of the lost peer.
import type { ReplicaOptions } from '../../src/replica/outbox.js';
import { Replica } from '../../src/replica/replica.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import { Stack } from '../../src/tcp/stack.js';
import { CLIENT, PORT, rsmConfig, SERVICE } from './rsm-harness.js';

export const counterOpts = (name: string): ReplicaOptions => ({ name, rsm: rsmConfig('counter'), factory: stackFactory });

export function drainAll<T>(poll: () => T | undefined): T[] {
  const out: T[] = [];
  for (let x = poll(); x !== undefined; x = poll()) out.push(x);
  return out;
}

/** Hands every frame of one replica to the other until both are quiet. */
export function exchange(from: Replica, to: Replica, nowUs: number): void {
  for (let rounds = 0; rounds < 20; rounds++) {
    const a = drainAll(() => from.pollChannel());
    const b = drainAll(() => to.pollChannel());
    if (a.length === 0 && b.length === 0) return;
    for (const f of a) to.handleChannel(nowUs, f);
    for (const f of b) from.handleChannel(nowUs, f);
  }
}

/** Primary a and backup b of the counter app, one client connected: its SYN-ACK logged, acknowledged and released. */
export function pairWithClient(): { a: Replica; b: Replica; client: Stack } {
  const a = Replica.primary(counterOpts('a'), 'b', 0);
  const b = Replica.backup(counterOpts('b'), 'a', 0);
  const client = new Stack({ addresses: [CLIENT], seed: 5 });
  client.connect(0, { remoteAddress: SERVICE, remotePort: PORT });
  a.handleServicePacket(100, client.pollTransmit()!);
  exchange(a, b, 200);
  for (const p of drainAll(() => a.pollTransmit())) client.handlePacket(300, p.packet);
  return { a, b, client };
}
