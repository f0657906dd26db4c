// The unsafe output modes in the roles themselves, driven by hand: what each one lets out
// that the output rule would hold (src/replica/output-mode.ts).
import { describe, expect, it } from 'vitest';
import { decodeChannel } from '../../src/replica/channel.js';
import type { ReplicaOptions } from '../../src/replica/outbox.js';
import { isPureAck } from '../../src/replica/output-mode.js';
import { Replica } from '../../src/replica/replica.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import { Stack } from '../../src/tcp/stack.js';
import { CLIENT, PORT, rsmConfig, SERVICE } from './rsm-harness.js';

const opts = (name: string, extra: Partial<ReplicaOptions> = {}): ReplicaOptions => ({ name, rsm: rsmConfig('counter'), factory: stackFactory, ...extra });

function drainAll<T>(poll: () => T | undefined): T[] {
  const out: T[] = [];
  for (let x = poll(); x !== undefined; x = poll()) out.push(x);
  return out;
}

const ackIndex = (frame: Uint8Array) => {
  const d = decodeChannel(frame);
  return d.ok && d.message.type === 'ack' ? d.message.index : undefined;
};

describe('acks-at-once', () => {
  it('a pure ACK goes before its entry is acknowledged; data and SYN-ACK wait', () => {
    const p = Replica.primary(opts('a', { outputMode: 'acks-at-once' }), 'b', 0);
    const b = Replica.backup(opts('b', { outputMode: 'acks-at-once' }), 'a', 0);
    const client = new Stack({ addresses: [CLIENT], seed: 5 });
    const sock = client.connect(0, { remoteAddress: SERVICE, remotePort: PORT });
    p.handleServicePacket(100, client.pollTransmit()!);
    expect(p.pollTransmit()).toBeUndefined(); // the SYN-ACK occupies sequence space: held
    for (const f of drainAll(() => p.pollChannel())) b.handleChannel(200, f);
    for (const f of drainAll(() => b.pollChannel())) p.handleChannel(300, f);
    const synAck = drainAll(() => p.pollTransmit());
    expect(synAck).toHaveLength(1);
    client.handlePacket(400, synAck[0]!.packet);
    client.write(400, sock, new TextEncoder().encode('INCR\n'));
    const fromClient = drainAll(() => client.pollTransmit());
    for (const pkt of fromClient) p.handleServicePacket(500, pkt);
    p.handleTimeout(500 + 200_000); // any delayed ACK falls due
    const out = drainAll(() => p.pollTransmit()).map((x) => x.packet);
    // Nothing acknowledged since the SYN: whatever went out is a pure ACK, and at least one did.
    expect(out.length).toBeGreaterThan(0);
    expect(out.every((x) => isPureAck(x, false))).toBe(true);
    // The answer waited for the backup: it comes out with the backup's ack.
    for (const f of drainAll(() => p.pollChannel())) b.handleChannel(200_600, f);
    for (const f of drainAll(() => b.pollChannel())) p.handleChannel(200_700, f);
    const answer = drainAll(() => p.pollTransmit()).map((x) => x.packet);
    expect(answer.some((x) => !isPureAck(x, false))).toBe(true);
  });
});

describe('ack-on-receipt', () => {
  it('the backup acknowledges an index beyond a gap, one it has not applied (the output rule acknowledges none)', () => {
    const run = (mode: 'output-rule' | 'ack-on-receipt') => {
      const p = Replica.primary(opts('a', { outputMode: mode }), 'b', 0);
      const b = Replica.backup(opts('b', { outputMode: mode }), 'a', 0);
      const c1 = new Stack({ addresses: [CLIENT], seed: 5 });
      c1.connect(0, { remoteAddress: SERVICE, remotePort: PORT });
      p.handleServicePacket(100, c1.pollTransmit()!);
      const lost = drainAll(() => p.pollChannel()); // entry 1 (its SYN-ACK held) never reaches the backup
      expect(lost).toHaveLength(1);
      const c2 = new Stack({ addresses: [CLIENT], seed: 6 });
      c2.connect(0, { remoteAddress: SERVICE, remotePort: PORT + 1 });
      p.handleServicePacket(200, c2.pollTransmit()!); // entry 2: another client's SYN
      for (const f of drainAll(() => p.pollChannel())) b.handleChannel(300, f);
      const acks = drainAll(() => b.pollChannel()).map(ackIndex).filter((i) => i !== undefined);
      for (const f of acks) expect(f).toBeLessThanOrEqual(2);
      return { acked: Math.max(...acks), b };
    };
    expect(run('output-rule').acked).toBe(0);
    const r = run('ack-on-receipt');
    expect(r.acked).toBe(2);
    expect(r.b.rsm?.index).toBe(0); // it has applied nothing: entry 1 is missing
  });
});
