// The RSM as an Ethernet host: packet entries carry frames, outputs are frames, the
// neighbour table is replicated, and an epoch entry announces the service address. A
// follower that applies the same entries (from the start, or from a snapshot) emits the
// same frames byte for byte, Ethernet header included.
import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../src/replica/log.js';
import { EtherStack } from '../../src/replica/ether-stack.js';
import { Rsm, type ApplyResult, type RsmConfig } from '../../src/replica/rsm.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import { Stack } from '../../src/tcp/stack.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { ARP_REQUEST, parseArp } from '../../src/wire/arp.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, MAC_BROADCAST, parseEthernet, serviceMacFor } from '../../src/wire/ethernet.js';

const SERVICE = parseIpv4Addr('192.0.2.10');
const CLIENT = parseIpv4Addr('192.0.2.21');
const PORT = 7070;

function config(): RsmConfig {
  return { stack: { addresses: [SERVICE], seed: 77 }, servicePort: PORT, app: 'echo', digestEvery: 4, ethernet: { prefixLength: 24 } };
}

type Partial = { kind: 'packet'; packet: Uint8Array } | { kind: 'tick' } | { kind: 'epoch'; newEpoch: number; members: string[] };

/** A client Ethernet host and a replicated service on one wire (1 ms each way), in virtual time. */
class EtherLoop {
  readonly client = EtherStack.create(new Stack({ addresses: [CLIENT], seed: 5 }), CLIENT, { prefixLength: 24 });
  readonly primary = Rsm.create(config(), stackFactory);
  readonly followers: Rsm[] = [Rsm.create(config(), stackFactory)];
  readonly entries: LogEntry[] = [];
  readonly results: ApplyResult[] = [];
  readonly outputDiffs: string[] = [];
  readonly mismatches: string[] = [];
  nowUs = 0;
  private toClient: Array<{ atUs: number; bytes: Uint8Array }> = [];
  private toServer: Array<{ atUs: number; bytes: Uint8Array }> = [];

  apply(partial: Partial): ApplyResult {
    const entry = { ...partial, index: this.primary.index + 1, epoch: this.primary.epoch, timeUs: this.nowUs, checks: [] } as LogEntry;
    const r = this.primary.apply(entry);
    entry.checks = r.checks;
    if (r.digest !== undefined) entry.digest = r.digest;
    this.entries.push(entry);
    this.results.push(r);
    for (const p of r.packets) this.toClient.push({ atUs: this.nowUs + 1000, bytes: p });
    for (const f of this.followers) this.follow(f, entry, r);
    return r;
  }

  follow(f: Rsm, entry: LogEntry, r: ApplyResult): void {
    const mine = f.apply(entry);
    const m = f.verify(entry, mine);
    if (m !== undefined) this.mismatches.push(`entry ${entry.index}: ${JSON.stringify(m)}`);
    const same = mine.packets.length === r.packets.length && mine.packets.every((p, j) => Buffer.from(p).equals(Buffer.from(r.packets[j]!)));
    if (!same) this.outputDiffs.push(`entry ${entry.index}`);
  }

  run(us: number, each?: () => void): void {
    const end = this.nowUs + us;
    while (this.nowUs < end) {
      this.nowUs += 100;
      const due = (q: Array<{ atUs: number; bytes: Uint8Array }>) => {
        const out = q.filter((x) => x.atUs <= this.nowUs);
        q.splice(0, q.length, ...q.filter((x) => x.atUs > this.nowUs));
        return out;
      };
      for (const p of due(this.toServer)) this.apply({ kind: 'packet', packet: p.bytes });
      const d = this.primary.pollTimeout();
      if (d !== undefined && d <= this.nowUs) this.apply({ kind: 'tick' });
      for (const p of due(this.toClient)) this.client.handlePacket(this.nowUs, p.bytes);
      const cd = this.client.pollTimeout();
      if (cd !== undefined && cd <= this.nowUs) this.client.handleTimeout(this.nowUs);
      each?.();
      for (let p = this.client.pollTransmit(); p !== undefined; p = this.client.pollTransmit()) this.toServer.push({ atUs: this.nowUs + 1000, bytes: p });
    }
  }
}

/** Connects, sends `message` and collects the echo. */
function echoSession(loop: EtherLoop, message: Uint8Array): { received: () => Uint8Array; step: () => void } {
  const socket = loop.client.connect(loop.nowUs, { remoteAddress: SERVICE, remotePort: PORT });
  let sent = false;
  const got: number[] = [];
  return {
    received: () => Uint8Array.from(got),
    step: () => {
      for (let e = loop.client.pollEvent(); e !== undefined; e = loop.client.pollEvent()) {
        if (e.type === 'connected' && !sent) {
          loop.client.write(loop.nowUs, socket, message);
          sent = true;
        }
        if (e.type === 'readable') got.push(...loop.client.read(loop.nowUs, socket));
      }
    },
  };
}

describe('the RSM as an Ethernet host', () => {
  it('answers ARP, echoes over TCP in frames, and a follower emits the same frames byte for byte', () => {
    const loop = new EtherLoop();
    const message = new TextEncoder().encode('hello over a replicated Ethernet host');
    const session = echoSession(loop, message);
    loop.run(200_000, session.step);
    expect(Buffer.from(session.received()).toString()).toBe(Buffer.from(message).toString());
    // The first entry is the client's ARP request; its output is the RSM's ARP reply.
    const first = loop.results[0]!.packets;
    expect(first).toHaveLength(1);
    const eth = parseEthernet(first[0]!);
    expect(eth.ok && eth.header.etherType).toBe(ETHERTYPE_ARP);
    expect(eth.ok && eth.header.src).toBe(serviceMacFor(SERVICE));
    // Every later output is an IPv4 frame from the service MAC.
    const ipFrames = loop.results.slice(1).flatMap((r) => r.packets);
    expect(ipFrames.length).toBeGreaterThanOrEqual(2); // SYN-ACK and the echoed data at least
    for (const f of ipFrames) {
      const e = parseEthernet(f);
      expect(e.ok && e.header.etherType).toBe(ETHERTYPE_IPV4);
    }
    expect(loop.mismatches).toEqual([]);
    expect(loop.outputDiffs).toEqual([]);
  });

  it('announces the service address with gratuitous ARP when it applies an epoch entry', () => {
    const loop = new EtherLoop();
    const r = loop.apply({ kind: 'epoch', newEpoch: 2, members: ['b'] });
    expect(r.packets).toHaveLength(1);
    const e = parseEthernet(r.packets[0]!);
    expect(e.ok).toBe(true);
    if (!e.ok) return;
    expect(e.header.dst).toBe(MAC_BROADCAST);
    const arp = parseArp(e.payload);
    expect(arp.ok && arp.arp).toMatchObject({ op: ARP_REQUEST, senderIp: SERVICE, targetIp: SERVICE, senderMac: serviceMacFor(SERVICE) });
    // RFC 5227 §3: the second announcement two seconds later, as a deadline of the RSM.
    expect(loop.primary.pollTimeout()).toBe(loop.nowUs + 2_000_000);
    loop.nowUs += 2_000_000;
    expect(loop.apply({ kind: 'tick' }).packets).toHaveLength(1);
    expect(loop.outputDiffs).toEqual([]);
  });

  it('a follower restored from a snapshot mid-connection continues byte-identically', () => {
    const loop = new EtherLoop();
    const session = echoSession(loop, new Uint8Array(5000).fill(7));
    loop.run(30_000, session.step);
    const restored = Rsm.restore(loop.primary.snapshot(), stackFactory);
    expect(restored.digest()).toBe(loop.primary.digest());
    loop.followers.push(restored);
    loop.run(200_000, session.step);
    expect(session.received()).toHaveLength(5000);
    expect(loop.mismatches).toEqual([]);
    expect(loop.outputDiffs).toEqual([]);
    expect(restored.digest()).toBe(loop.primary.digest());
  });

  it('counts and drops frames that are not for the service, without an exception', () => {
    const loop = new EtherLoop();
    const ipv6 = new Uint8Array(60);
    ipv6.set([0x33, 0x33, 0, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0x86, 0xdd]);
    const other = new Uint8Array(60);
    other.set([2, 0, 0, 0, 0, 9, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    expect(loop.apply({ kind: 'packet', packet: ipv6 }).packets).toEqual([]);
    expect(loop.apply({ kind: 'packet', packet: other }).packets).toEqual([]);
    expect(loop.apply({ kind: 'packet', packet: new Uint8Array(3) }).packets).toEqual([]);
    expect(loop.mismatches).toEqual([]);
  });
});
