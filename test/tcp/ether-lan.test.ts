// EtherHosts on an in-memory Ethernet segment: ARP resolution, a TCP exchange through the
// stacks, a failover whose backup's frames match the primary's byte for byte and whose
// gratuitous ARP moves the service, and the frames every host must count and drop.
import { describe, expect, it } from 'vitest';
import { Stack } from '../../src/tcp/stack.js';
import { EtherHost } from '../../src/tcp/ether-host.js';
import {
  ARP_REPLY,
  ARP_REQUEST,
  arpAnnouncementFrame,
  emitEthernet,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_LLDP,
  ETHERTYPE_VLAN,
  parseArp,
  parseEthernet,
  parseIpv4Addr,
  parseMac,
  parseTcpPacket,
  serviceMacFor,
  TCP_SYN,
} from '../../src/wire/index.js';
import { echoApp, Lan, makeNode, MS, type Node } from './ether-lan.js';
import { withEthernetCapture } from '../helpers/ethernet-pcap.js';
import { checkCaptureWithTshark, itWithTshark, tsharkFields } from '../helpers/tshark.js';

const SERVICE = parseIpv4Addr('192.0.2.10');
const CLIENT = parseIpv4Addr('192.0.2.1');
const BYSTANDER = parseIpv4Addr('192.0.2.2');
const SERVICE_MAC = serviceMacFor(SERVICE);
const CLIENT_MAC = parseMac('02:00:00:00:00:01');
const BYSTANDER_MAC = parseMac('02:00:00:00:00:02');

function setup(mode: 'hub' | 'bridge' = 'hub'): { lan: Lan; server: Node; client: Node; bystander: Node } {
  const lan = new Lan(mode);
  const server = lan.add(makeNode('server', { addresses: [SERVICE], seed: 2 }, { address: SERVICE, prefixLength: 24 }));
  const client = lan.add(makeNode('client', { addresses: [CLIENT], seed: 1 }, { address: CLIENT, prefixLength: 24, mac: CLIENT_MAC }));
  const bystander = lan.add(makeNode('bystander', { addresses: [BYSTANDER], seed: 3 }, { address: BYSTANDER, prefixLength: 24, mac: BYSTANDER_MAC }));
  server.onEvent = (stack, ev) => echoApp(stack, ev, () => lan.now);
  server.stack.listen(lan.now, { port: 7 });
  return { lan, server, client, bystander };
}

const enc = new TextEncoder();

/** Client connects to the echo service, writes `text`, and reads until it has it all back. */
function echoOnce(lan: Lan, client: Node, text: string, socket?: number): { socket: number; echoed: string } {
  const s = socket ?? client.stack.connect(lan.now, { remoteAddress: SERVICE, remotePort: 7 });
  if (socket === undefined) lan.runUntil(() => client.events.some((e) => e.type === 'connected' && e.socket === s));
  client.stack.write(lan.now, s, enc.encode(text));
  let echoed = '';
  lan.runUntil(() => {
    for (let d = client.stack.read(lan.now, s); d.length > 0; d = client.stack.read(lan.now, s)) echoed += new TextDecoder().decode(d);
    return echoed.length >= text.length;
  });
  return { socket: s, echoed };
}

describe('EtherHosts on one segment', () => {
  it('resolve each other with ARP, then carry a TCP exchange; the bystander counts their unicast and passes nothing up', () => {
    const { lan, server, client, bystander } = setup();
    const { echoed } = echoOnce(lan, client, 'hello over ethernet');
    expect(echoed).toBe('hello over ethernet');
    lan.runFor(100 * MS); // frames still on their way to the bystander

    // The first two frames: the client's broadcast request and the server's reply, then the SYN.
    const [req, rep, syn] = lan.log.map((l) => parseEthernet(l.bytes));
    expect(req!.ok && rep!.ok && syn!.ok).toBe(true);
    if (!req!.ok || !rep!.ok || !syn!.ok) return;
    expect(parseArp(req!.payload)).toMatchObject({ ok: true, arp: { op: ARP_REQUEST, senderIp: CLIENT, targetIp: SERVICE } });
    expect(parseArp(rep!.payload)).toMatchObject({ ok: true, arp: { op: ARP_REPLY, senderMac: SERVICE_MAC, senderIp: SERVICE, targetMac: CLIENT_MAC } });
    expect(syn!.header).toEqual({ dst: SERVICE_MAC, src: CLIENT_MAC, etherType: ETHERTYPE_IPV4 });
    const seg = parseTcpPacket(syn!.payload);
    expect(seg.ok && seg.segment.flags === TCP_SYN).toBe(true);

    // RFC 826: the server learnt the client from the request, so it never had to ask.
    expect(server.host.stats().arpRequestsOut).toBe(0);
    expect(server.host.neighbours()).toEqual([{ ip: CLIENT, mac: CLIENT_MAC, state: 'reachable', pending: 0 }]);
    expect(client.host.neighbours()).toEqual([{ ip: SERVICE, mac: SERVICE_MAC, state: 'reachable', pending: 0 }]);
    // The bystander was not the target: it merged nothing, learnt nothing (RFC 826).
    expect(bystander.host.neighbours()).toEqual([]);
    const b = bystander.host.stats();
    expect(b.drops['other-host']).toBe(lan.log.length - 1); // all but the broadcast request
    expect(b.ipv4In).toBe(0);
    expect(bystander.stack.stats().packetsIn).toBe(0);
    // Every frame the two talkers sent is accounted for.
    for (const n of [server, client]) {
      const st = n.host.stats();
      expect(st.framesOut).toBe(lan.log.filter((l) => l.from === n.name).length);
      expect(st.drops).toEqual({});
    }
  });

  /** Primary `server` with a backup that joined by state transfer and replayed every input since. */
  function replicatedPair(): { lan: Lan; server: Node; client: Node; socket: number } {
    const { lan, server, client } = setup('bridge');
    const first = echoOnce(lan, client, 'before the crash');
    expect(first.echoed).toBe('before the crash');
    // The backup joins by state transfer: the stack's and the host's snapshots, same point.
    const backupStack = Stack.restore(server.stack.snapshot());
    server.mirror = { stack: backupStack, host: EtherHost.restore(backupStack, server.host.snapshot()), shadow: [], events: [] };
    const bulk = 'while replicated '.repeat(1000);
    const second = echoOnce(lan, client, bulk, first.socket);
    expect(second.echoed).toBe(bulk);
    lan.runFor(500 * MS); // delayed ACKs and the like
    return { lan, server, client, socket: first.socket };
  }

  /** The primary dies; its backup takes the port next to it on the bridge. */
  function failOver(lan: Lan, server: Node): Node {
    server.alive = false;
    const m = server.mirror!;
    return lan.add({ name: 'backup', stack: m.stack, host: m.host, events: [], sent: [], alive: true, onEvent: server.onEvent });
  }

  it('a backup fed the same inputs emits the same frames, Ethernet header included', () => {
    const { server } = replicatedPair();
    expect(server.sent.length).toBeGreaterThan(10);
    expect(server.mirror!.shadow.map((f) => Buffer.from(f).toString('hex'))).toEqual(server.sent.map((f) => Buffer.from(f).toString('hex')));
    expect(server.mirror!.events).toEqual(server.events.slice(server.events.length - server.mirror!.events.length));
    expect(server.mirror!.host.snapshot()).toEqual(server.host.snapshot());
  });

  it('fails over: the announcement moves the bridge to the backup and the connection carries on', () => {
    const { lan, server, client, socket } = replicatedPair();
    const backup = failOver(lan, server);
    const before = lan.log.length;
    backup.host.announce(lan.now);
    lan.flush();
    const third = echoOnce(lan, client, 'after the crash', socket);
    expect(third.echoed).toBe('after the crash');
    expect(Buffer.from(lan.log[before]!.bytes).toString('hex')).toBe(Buffer.from(arpAnnouncementFrame(SERVICE_MAC, SERVICE)).toString('hex'));
    expect(lan.log[before]!.from).toBe('backup');
    lan.runFor(3000 * MS);
    expect(backup.host.stats().announcementsOut).toBe(2); // RFC 5227 §3: ANNOUNCE_NUM
    expect(client.events.some((e) => e.type === 'closed')).toBe(false);
    expect(client.stack.stats().resetsReceived).toBe(0);
  });

  itWithTshark('the segment of a failover run reads in tshark with no malformed frame, bad checksum or expert error', () => {
    const { lan, server, client, socket } = replicatedPair();
    failOver(lan, server).host.announce(lan.now);
    echoOnce(lan, client, 'after the crash', socket);
    lan.runFor(3000 * MS);
    withEthernetCapture(
      lan.log.map((l) => l.bytes),
      (path) => {
        const check = checkCaptureWithTshark(path);
        expect(check.packets).toBe(lan.log.length);
        expect([check.malformed, check.badChecksums, check.expert.error, check.exitCode, check.cutShort]).toEqual([0, 0, 0, 0, false]);
        expect(check.problems).toEqual([]);
        const arp = tsharkFields(path, ['arp.opcode', 'arp.isannouncement'], 'arp');
        expect(arp.rows.filter((r) => r[1]!.includes('1')).length).toBe(2); // the two announcements
      },
    );
  });

  it('without the announcement the bridge keeps sending to the dead port (the control case)', () => {
    const { lan, server, client, socket } = replicatedPair();
    failOver(lan, server);
    client.stack.write(lan.now, socket, enc.encode('lost'));
    lan.runFor(5000 * MS);
    expect(client.stack.read(lan.now, socket).length).toBe(0);
    expect(client.stack.stats().retransmits).toBeGreaterThan(0);
  });

  it('a gratuitous ARP from a new MAC for a known address moves the neighbour entry (RFC 826 merge)', () => {
    const { lan, client } = setup();
    echoOnce(lan, client, 'x');
    const tap = lan.tap('tap');
    const newMac = parseMac('02:00:00:00:00:99');
    lan.send('tap', arpAnnouncementFrame(newMac, SERVICE));
    lan.runFor(10 * MS);
    expect(client.host.neighbours()).toEqual([{ ip: SERVICE, mac: newMac, state: 'reachable', pending: 0 }]);
    expect(tap.received.length).toBe(0); // nobody answers an announcement
  });

  it('counts and drops IPv6, LLDP, VLAN, other unicast, group-addressed IPv4 and malformed frames without throwing', () => {
    const { lan, server, client } = setup();
    echoOnce(lan, client, 'x');
    lan.runFor(500 * MS); // the last ACKs
    const before = server.host.stats();
    const stackBefore = server.stack.stats().packetsIn;
    lan.tap('tap');
    const TAP_MAC = parseMac('02:00:00:00:00:77');
    const ipv4 = emitEthernet({ dst: SERVICE_MAC, src: TAP_MAC, etherType: ETHERTYPE_IPV4 }, new Uint8Array(40)).subarray(14);
    const frames = [
      emitEthernet({ dst: parseMac('33:33:00:00:00:16'), src: TAP_MAC, etherType: ETHERTYPE_IPV6 }, new Uint8Array(60)), // MLD report
      emitEthernet({ dst: SERVICE_MAC, src: TAP_MAC, etherType: ETHERTYPE_IPV6 }, new Uint8Array(60)),
      emitEthernet({ dst: parseMac('01:80:c2:00:00:0e'), src: TAP_MAC, etherType: ETHERTYPE_LLDP }, new Uint8Array(46)),
      emitEthernet({ dst: SERVICE_MAC, src: TAP_MAC, etherType: ETHERTYPE_VLAN }, new Uint8Array(46)),
      emitEthernet({ dst: parseMac('02:00:00:00:00:55'), src: TAP_MAC, etherType: ETHERTYPE_IPV4 }, ipv4),
      emitEthernet({ dst: parseMac('01:00:5e:00:00:01'), src: TAP_MAC, etherType: ETHERTYPE_IPV4 }, ipv4),
      emitEthernet({ dst: SERVICE_MAC, src: TAP_MAC, etherType: 0x88b5 }, new Uint8Array(46)),
    ];
    for (const f of frames) lan.send('tap', f);
    server.host.handleFrame(lan.now, new Uint8Array(9)); // shorter than a header: only a direct call can deliver it
    lan.runFor(10 * MS);
    const after = server.host.stats();
    const delta = (k: string) => (after.drops[k as keyof typeof after.drops] ?? 0) - (before.drops[k as keyof typeof before.drops] ?? 0);
    expect(['ipv6', 'lldp', 'vlan', 'other-host', 'multicast', 'ethertype-other', 'eth-truncated'].map(delta)).toEqual([2, 1, 1, 1, 1, 1, 1]);
    expect(server.stack.stats().packetsIn).toBe(stackBefore);
    expect(after.framesOut).toBe(before.framesOut); // nothing answered
  });
});
