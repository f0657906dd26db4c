// EtherHost against a scripted peer: frames crafted by hand in, frames checked byte by byte out.
import { describe, expect, it } from 'vitest';
import { ANNOUNCE_INTERVAL_US, EtherHost, type EtherHostConfig } from '../../src/tcp/ether-host.js';
import { ETHER_SNAPSHOT_VERSION } from '../../src/tcp/ether-snapshot.js';
import { prngBelow, prngSeed } from '../../src/tcp/prng.js';
import { frameSnapshot } from '../../src/tcp/snapshot-frame.js';
import { Stack } from '../../src/tcp/stack.js';
import { StackError } from '../../src/tcp/types.js';
import {
  ARP_REPLY,
  ARP_REQUEST,
  arpAnnouncementFrame,
  arpReplyFrame,
  arpRequestFrame,
  emitArpFrame,
  emitEthernet,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  MAC_BROADCAST,
  parseEthernet,
  parseIpv4Addr,
  parseMac,
  parseTcpPacket,
  serviceMacFor,
  type ArpPacket,
} from '../../src/wire/index.js';

const SERVICE = parseIpv4Addr('192.0.2.10');
const SERVICE_MAC = serviceMacFor(SERVICE);
const PEER = parseIpv4Addr('192.0.2.1');
const PEER_MAC = parseMac('02:00:00:00:00:01');
const OTHER = parseIpv4Addr('192.0.2.3');
const OTHER_MAC = parseMac('02:00:00:00:00:03');
const GATEWAY = parseIpv4Addr('192.0.2.254');
const GATEWAY_MAC = parseMac('02:00:00:00:00:fe');
const FAR = parseIpv4Addr('198.51.100.7');
const MS = 1000;
const T0 = 1_000_000;

const hex = (b: Uint8Array | undefined) => (b === undefined ? 'none' : Buffer.from(b).toString('hex'));

function make(cfg: Partial<EtherHostConfig> = {}): { stack: Stack; host: EtherHost } {
  const stack = new Stack({ addresses: [SERVICE], seed: 7 });
  return { stack, host: new EtherHost(stack, { address: SERVICE, prefixLength: 24, ...cfg }) };
}

function drain(host: EtherHost, now: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let f = host.pollTransmit(now); f !== undefined; f = host.pollTransmit(now)) out.push(f);
  return out;
}

/** A request from PEER for `target`, broadcast. */
const requestFrom = (target: number, sender = PEER, senderMac = PEER_MAC) => arpRequestFrame(senderMac, sender, target);
const replyFrom = (ip: number, mac: number): Uint8Array => emitArpFrame(SERVICE_MAC, { op: ARP_REPLY, senderMac: mac, senderIp: ip, targetMac: SERVICE_MAC, targetIp: SERVICE });

describe('EtherHost: ARP (RFC 826)', () => {
  it('answers a request for the service address with the swapped reply and learns the requester', () => {
    const { host } = make();
    host.handleFrame(T0, requestFrom(SERVICE));
    const req: ArpPacket = { op: ARP_REQUEST, senderMac: PEER_MAC, senderIp: PEER, targetMac: 0, targetIp: SERVICE };
    expect(drain(host, T0).map(hex)).toEqual([hex(arpReplyFrame(SERVICE_MAC, SERVICE, req))]);
    expect(host.neighbours()).toEqual([{ ip: PEER, mac: PEER_MAC, state: 'reachable', pending: 0 }]);
    expect(host.stats()).toMatchObject({ framesIn: 1, framesOut: 1, arpIn: 1, arpRepliesOut: 1, drops: {} });
  });

  it('neither answers nor learns from a request for another address, but merges a sender it knows', () => {
    const { host } = make();
    host.handleFrame(T0, requestFrom(OTHER));
    expect(drain(host, T0)).toEqual([]);
    expect(host.neighbours()).toEqual([]);
    host.handleFrame(T0, requestFrom(SERVICE)); // learnt now
    drain(host, T0);
    const newMac = parseMac('02:00:00:00:00:11');
    host.handleFrame(T0 + 1, requestFrom(OTHER, PEER, newMac)); // RFC 826: merge, whoever the target
    expect(host.neighbours()).toEqual([{ ip: PEER, mac: newMac, state: 'reachable', pending: 0 }]);
    expect(drain(host, T0)).toEqual([]);
  });

  it('answers a probe (sender 0.0.0.0, RFC 5227 §2.1.1) without learning from it', () => {
    const { host } = make();
    host.handleFrame(T0, requestFrom(SERVICE, 0));
    const out = drain(host, T0);
    expect(out.length).toBe(1);
    expect(hex(out[0]!.subarray(0, 6))).toBe(hex(emitEthernet({ dst: PEER_MAC, src: 0, etherType: ETHERTYPE_ARP }, new Uint8Array(0)).subarray(0, 6)));
    expect(host.neighbours()).toEqual([]);
  });

  it('counts a conflict when another MAC claims the service address, and never lets it in (RFC 5227 §2.4)', () => {
    const { host } = make();
    host.handleFrame(T0, arpAnnouncementFrame(OTHER_MAC, SERVICE));
    host.handleFrame(T0, emitArpFrame(SERVICE_MAC, { op: ARP_REQUEST, senderMac: OTHER_MAC, senderIp: SERVICE, targetMac: 0, targetIp: SERVICE }));
    expect(drain(host, T0)).toEqual([]);
    expect(host.neighbours()).toEqual([]);
    expect(host.stats().drops).toEqual({ 'arp-conflict': 2 });
  });

  it('refuses a group or zero sender MAC inside ARP', () => {
    const { host } = make();
    host.handleFrame(T0, emitArpFrame(MAC_BROADCAST, { op: ARP_REQUEST, senderMac: 0, senderIp: PEER, targetMac: 0, targetIp: SERVICE }));
    expect(host.stats().drops).toEqual({ 'arp-bad-sender': 1 });
  });
});

describe('EtherHost: sending IPv4 (RFC 1122 2.3.2)', () => {
  it('holds the packet while it asks, then sends it to the MAC in the reply, IP bytes untouched', () => {
    const { stack, host } = make({ arpRetryMs: 300 });
    stack.connect(T0, { remoteAddress: PEER, remotePort: 80 });
    expect(drain(host, T0).map(hex)).toEqual([hex(arpRequestFrame(SERVICE_MAC, SERVICE, PEER))]);
    expect(host.neighbours()).toEqual([{ ip: PEER, mac: undefined, state: 'incomplete', pending: 1 }]);
    expect(host.pollTimeout()).toBe(T0 + 300 * MS);
    host.handleFrame(T0 + 100, replyFrom(PEER, PEER_MAC));
    const [syn] = drain(host, T0 + 100);
    const eth = parseEthernet(syn!);
    expect(eth.ok && eth.header).toEqual({ dst: PEER_MAC, src: SERVICE_MAC, etherType: ETHERTYPE_IPV4 });
    const tcp = eth.ok ? parseTcpPacket(eth.payload) : undefined;
    expect(tcp?.ok && tcp.segment.dstPort).toBe(80);
    expect(host.pollTimeout()).toBe(stack.pollTimeout()); // no ARP deadline left
  });

  it('retries every arpRetryMs, gives up after arpRequests and counts the packets that waited', () => {
    const { stack, host } = make({ arpRetryMs: 300, arpRequests: 3 });
    stack.connect(T0, { remoteAddress: PEER, remotePort: 80 });
    const requests: number[] = [];
    let now = T0;
    if (drain(host, now).length === 1) requests.push(now);
    for (let k = 0; k < 3; k++) {
      now = host.pollTimeout()!;
      expect(now).toBe(T0 + (k + 1) * 300 * MS);
      host.handleTimeout(now);
      for (const f of drain(host, now)) if (parseEthernet(f).ok && f[12] === 0x08 && f[13] === 0x06) requests.push(now);
    }
    expect(requests).toEqual([T0, T0 + 300 * MS, T0 + 600 * MS]);
    expect(host.stats().drops).toEqual({ unresolved: 1 });
    expect(host.neighbours()).toEqual([]);
    // The SYN's retransmission (RFC 6298: 1 s) starts a new resolution.
    host.handleTimeout(T0 + 1000 * MS);
    expect(drain(host, T0 + 1000 * MS).map(hex)).toEqual([hex(arpRequestFrame(SERVICE_MAC, SERVICE, PEER))]);
  });

  it('bounds the waiting queue and keeps the latest packets (RFC 1122 2.3.2.2)', () => {
    const { stack, host } = make({ pendingPerNeighbour: 2 });
    for (const port of [81, 82, 83]) stack.connect(T0, { remoteAddress: PEER, remotePort: port });
    expect(drain(host, T0).length).toBe(1); // one request
    expect(host.stats().drops).toEqual({ 'queue-full': 1 });
    host.handleFrame(T0 + 1, replyFrom(PEER, PEER_MAC));
    const ports = drain(host, T0 + 1).map((f) => {
      const p = parseTcpPacket(f.subarray(14));
      return p.ok ? p.segment.dstPort : -1;
    });
    expect(ports).toEqual([82, 83]);
  });

  it('routes off-link packets to the gateway (static MAC: no ARP; otherwise resolved), and drops them without one', () => {
    const none = make();
    none.stack.connect(T0, { remoteAddress: FAR, remotePort: 80 });
    expect(drain(none.host, T0)).toEqual([]);
    expect(none.host.stats().drops).toEqual({ 'no-route': 1 });

    const stat = make({ gateway: { address: GATEWAY, mac: GATEWAY_MAC } });
    stat.stack.connect(T0, { remoteAddress: FAR, remotePort: 80 });
    const [f] = drain(stat.host, T0);
    expect(hex(f!.subarray(0, 12))).toBe(hex(emitEthernet({ dst: GATEWAY_MAC, src: SERVICE_MAC, etherType: ETHERTYPE_IPV4 }, new Uint8Array(0)).subarray(0, 12)));
    stat.host.handleFrame(T0, replyFrom(GATEWAY, OTHER_MAC)); // a static entry ignores ARP
    expect(stat.host.neighbours()).toEqual([{ ip: GATEWAY, mac: GATEWAY_MAC, state: 'static', pending: 0 }]);

    const dyn = make({ gateway: { address: GATEWAY } });
    dyn.stack.connect(T0, { remoteAddress: FAR, remotePort: 80 });
    expect(drain(dyn.host, T0).map(hex)).toEqual([hex(arpRequestFrame(SERVICE_MAC, SERVICE, GATEWAY))]);
  });

  it('polls an old entry by unicast while still using it, and forgets it when the poll goes unanswered', () => {
    const { stack, host } = make({ reachableMs: 1000, arpRetryMs: 100, arpRequests: 2 });
    host.handleFrame(T0, requestFrom(SERVICE));
    drain(host, T0);
    const t = T0 + 2000 * MS;
    stack.connect(t, { remoteAddress: PEER, remotePort: 80 });
    const out = drain(host, t);
    expect(out.length).toBe(2);
    expect(hex(out[0]!.subarray(0, 6))).toBe(hex(out[1]!.subarray(0, 6))); // both to PEER_MAC
    expect(hex(out[1])).toBe(hex(arpRequestFrame(SERVICE_MAC, SERVICE, PEER, PEER_MAC)));
    expect(host.neighbours()[0]!.state).toBe('probe');
    host.handleTimeout(t + 100 * MS);
    expect(drain(host, t + 100 * MS).length).toBe(1); // second poll
    host.handleTimeout(t + 200 * MS);
    expect(host.neighbours()).toEqual([]);
  });

  it('sends broadcasts to the broadcast MAC and drops multicast as unrouted', () => {
    const { host } = make();
    const fake = { handlePacket() {}, handleTimeout() {}, pollTimeout: () => undefined, pollTransmit: () => packets.shift() };
    const packets: Uint8Array[] = [];
    const h = new EtherHost(fake, { address: SERVICE, prefixLength: 24 });
    const ip = (dst: string) => {
      const p = new Uint8Array(20);
      p[0] = 0x45;
      p.set(Uint8Array.of(...dst.split('.').map(Number)), 16);
      return p;
    };
    packets.push(ip('255.255.255.255'), ip('192.0.2.255'), ip('224.0.0.1'), new Uint8Array(3));
    const out = drain(h, T0);
    expect(out.map((f) => hex(f.subarray(0, 6)))).toEqual(['ffffffffffff', 'ffffffffffff']);
    expect(h.stats().drops).toEqual({ 'no-route': 1, 'not-ipv4': 1 });
    expect(host.stats().framesOut).toBe(0);
  });
});

describe('EtherHost: announcements (RFC 5227 §3)', () => {
  it('sends ANNOUNCE_NUM = 2 announcements ANNOUNCE_INTERVAL = 2 s apart, as deadlines', () => {
    const { host } = make();
    expect(host.pollTimeout()).toBeUndefined();
    host.announce(T0);
    const garp = hex(arpAnnouncementFrame(SERVICE_MAC, SERVICE));
    expect(drain(host, T0).map(hex)).toEqual([garp]);
    expect(host.pollTimeout()).toBe(T0 + ANNOUNCE_INTERVAL_US);
    host.handleTimeout(T0 + ANNOUNCE_INTERVAL_US - 1);
    expect(drain(host, T0 + ANNOUNCE_INTERVAL_US - 1)).toEqual([]);
    host.handleTimeout(T0 + ANNOUNCE_INTERVAL_US);
    expect(drain(host, T0 + ANNOUNCE_INTERVAL_US).map(hex)).toEqual([garp]);
    expect(host.pollTimeout()).toBeUndefined();
    expect(host.stats().announcementsOut).toBe(2);
  });
});

describe('EtherHost: bad input is counted, misuse throws', () => {
  it.each([
    ['eth-truncated', new Uint8Array(13)],
    ['eth-not-ethernet-ii', emitEthernet({ dst: MAC_BROADCAST, src: PEER_MAC, etherType: 0x0600 }, new Uint8Array(0)).fill(0, 12)],
    ['own-source', arpRequestFrame(SERVICE_MAC, OTHER, PEER)],
    ['bad-source', emitEthernet({ dst: SERVICE_MAC, src: MAC_BROADCAST, etherType: ETHERTYPE_IPV4 }, new Uint8Array(40))],
    ['arp-truncated', emitEthernet({ dst: MAC_BROADCAST, src: PEER_MAC, etherType: ETHERTYPE_ARP }, new Uint8Array(27))],
    ['arp-unsupported', emitEthernet({ dst: MAC_BROADCAST, src: PEER_MAC, etherType: ETHERTYPE_ARP }, new Uint8Array(28))],
  ] as const)('%s', (reason, frame) => {
    const { stack, host } = make();
    host.handleFrame(T0, frame);
    expect(host.stats().drops).toEqual({ [reason]: 1 });
    expect(stack.stats().packetsIn).toBe(0);
    expect(drain(host, T0)).toEqual([]);
  });

  it('never throws on random frames (seeded), and accounts for each one', () => {
    const { stack, host } = make();
    const prng = prngSeed(20261205);
    const n = 3000;
    for (let i = 0; i < n; i++) {
      const len = prngBelow(prng, 120);
      const f = Uint8Array.from({ length: len }, () => prngBelow(prng, 256));
      // Aim a third at us with a plausible type, so the deeper parsers get exercised too.
      if (len >= 14 && i % 3 === 0) f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 5, 0x08, i % 2 === 0 ? 0x06 : 0x00]);
      expect(() => host.handleFrame(T0 + i, f)).not.toThrow();
      drain(host, T0 + i);
    }
    const st = host.stats();
    const dropped = Object.values(st.drops).reduce((a, b) => a + b, 0);
    expect(st.framesIn).toBe(n);
    expect(st.arpIn + st.ipv4In + dropped).toBeGreaterThanOrEqual(n);
    expect(st.ipv4In).toBe(stack.stats().packetsIn);
  });

  it('throws StackError EINVAL on a bad config or a non-byte frame', () => {
    const stack = new Stack({ addresses: [SERVICE], seed: 1 });
    const bad = (c: Partial<EtherHostConfig>) => () => new EtherHost(stack, { address: SERVICE, prefixLength: 24, ...c });
    for (const c of [{ prefixLength: 33 }, { mac: MAC_BROADCAST }, { mac: parseMac('01:00:5e:00:00:01') }, { arpRetryMs: 0 }, { address: -1 }, { gateway: { address: GATEWAY, mac: 0 } }]) {
      expect(bad(c)).toThrow(StackError);
    }
    const { host } = make();
    expect(() => host.handleFrame(T0, [1, 2, 3] as unknown as Uint8Array)).toThrow(/EINVAL/);
  });
});

describe('EtherHost: determinism and snapshots', () => {
  /** One scripted run: frames in, connects, timeouts; every frame out, in order. */
  function script(steps: number, seed: number, onStep?: (i: number, stack: Stack, host: EtherHost) => { stack: Stack; host: EtherHost } | void): string[] {
    let { stack, host } = make({ arpRetryMs: 200, reachableMs: 3000, pendingPerNeighbour: 3 });
    const prng = prngSeed(seed);
    const out: string[] = [];
    let now = T0;
    for (let i = 0; i < steps; i++) {
      const swapped = onStep?.(i, stack, host);
      if (swapped) ({ stack, host } = swapped);
      now += prngBelow(prng, 100) * MS;
      const ip = parseIpv4Addr(`192.0.2.${1 + prngBelow(prng, 6)}`);
      const mac = parseMac(`02:00:00:00:00:0${1 + prngBelow(prng, 6)}`);
      switch (prngBelow(prng, 5)) {
        case 0:
          stack.connect(now, { remoteAddress: ip, remotePort: 1 + prngBelow(prng, 1000) });
          break;
        case 1:
          host.handleFrame(now, requestFrom(prngBelow(prng, 2) === 0 ? SERVICE : OTHER, ip, mac));
          break;
        case 2:
          host.handleFrame(now, replyFrom(ip, mac));
          break;
        case 3:
          host.announce(now);
          break;
        default:
          host.handleTimeout(host.pollTimeout() ?? now);
          now = Math.max(now, host.pollTimeout() ?? now);
      }
      for (const f of drain(host, now)) out.push(`${i} ${hex(f)}`);
      for (let ev = stack.pollEvent(); ev !== undefined; ev = stack.pollEvent());
    }
    return out;
  }

  it('two hosts given the same inputs emit the same frames, byte for byte', () => {
    const a = script(400, 99);
    const b = script(400, 99);
    expect(a.length).toBeGreaterThan(100);
    expect(b).toEqual(a);
    expect(script(400, 98)).not.toEqual(a); // the script does drive the output
  });

  it('a host restored from a snapshot mid-run carries on with the same frames', () => {
    const whole = script(400, 5);
    const restored = script(400, 5, (i, stack, host) => {
      if (i !== 200) return;
      const bytes = host.snapshot();
      const s2 = Stack.restore(stack.snapshot());
      const h2 = EtherHost.restore(s2, bytes);
      expect(h2.snapshot()).toEqual(bytes);
      return { stack: s2, host: h2 };
    });
    expect(restored).toEqual(whole);
  });

  it('restores waiting packets and queued frames, and refuses corrupt bytes with EINVAL', () => {
    const { stack, host } = make();
    stack.connect(T0, { remoteAddress: PEER, remotePort: 80 });
    host.handleFrame(T0, requestFrom(SERVICE, OTHER, OTHER_MAC)); // a reply waits in the out queue
    const bytes = host.snapshot();
    const s2 = Stack.restore(stack.snapshot());
    const h2 = EtherHost.restore(s2, bytes);
    expect(h2.neighbours()).toEqual(host.neighbours());
    expect(drain(h2, T0).map(hex)).toEqual(drain(host, T0).map(hex));
    h2.handleFrame(T0 + 1, replyFrom(PEER, PEER_MAC));
    host.handleFrame(T0 + 1, replyFrom(PEER, PEER_MAC));
    expect(drain(h2, T0 + 1).map(hex)).toEqual(drain(host, T0 + 1).map(hex));
    for (const corrupt of [bytes.subarray(0, 10), Uint8Array.from(bytes, (b, i) => (i === bytes.length - 1 ? b ^ 1 : b)), new Uint8Array(bytes.length)]) {
      expect(() => EtherHost.restore(s2, corrupt)).toThrow(/EINVAL/);
    }
    // A well-framed payload that ends early, or has an extra byte, is corrupt too.
    const framed = (payload: Uint8Array) => frameSnapshot({ magic: 'FTCPETHR', version: ETHER_SNAPSHOT_VERSION, what: 'x' }, payload);
    const payload = bytes.subarray(20);
    expect(() => EtherHost.restore(s2, framed(payload))).not.toThrow();
    expect(() => EtherHost.restore(s2, framed(payload.subarray(0, payload.length - 1)))).toThrow(/EINVAL.*ends early/);
    expect(() => EtherHost.restore(s2, framed(Uint8Array.of(...payload, 0)))).toThrow(/EINVAL.*left over/);
  });
});
