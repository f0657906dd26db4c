import { describe, expect, it } from 'vitest';
import {
  ARP_REPLY,
  ARP_REQUEST,
  arpAnnouncementFrame,
  arpReplyFrame,
  arpRequestFrame,
  emitArp,
  MAC_BROADCAST,
  parseArp,
  parseEthernet,
  parseIpv4Addr,
  parseMac,
  type ArpPacket,
} from '../../src/wire/index.js';
import { spawnSync } from 'node:child_process';
import { itWithTshark, tsharkFields, tsharkPath } from '../helpers/tshark.js';
import { withEthernetCapture } from '../helpers/ethernet-pcap.js';

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const SERVICE_IP = parseIpv4Addr('192.0.2.10');
const SERVICE_MAC = parseMac('02:66:c0:00:02:0a');
const CLIENT_IP = parseIpv4Addr('192.0.2.1');
const CLIENT_MAC = parseMac('02:00:00:00:00:01');

// Written by hand from RFC 826 "Packet format": hrd 0001, pro 0800, hln 06, pln 04, op,
// sha, spa, tha, tpa; after the Ethernet header (dst, src, 0806).
const REQUEST = hex('ffffffffffff 020000000001 0806  0001 0800 06 04 0001  020000000001 c0000201  000000000000 c000020a');
const REPLY = hex('020000000001 0266c000020a 0806  0001 0800 06 04 0002  0266c000020a c000020a  020000000001 c0000201');
// RFC 5227 §3: a request, broadcast, sender and target IP both the address, target MAC zero.
const ANNOUNCEMENT = hex('ffffffffffff 0266c000020a 0806  0001 0800 06 04 0001  0266c000020a c000020a  000000000000 c000020a');

describe('ARP (RFC 826)', () => {
  it('emits a request for the service address', () => {
    expect(toHex(arpRequestFrame(CLIENT_MAC, CLIENT_IP, SERVICE_IP))).toBe(toHex(REQUEST));
  });
  it('answers it with the swapped reply, unicast to the requester', () => {
    const req = parseArp(parseEthernet(REQUEST).ok ? REQUEST.subarray(14) : new Uint8Array(0));
    expect(req.ok).toBe(true);
    if (!req.ok) return;
    expect(req.arp).toEqual({ op: ARP_REQUEST, senderMac: CLIENT_MAC, senderIp: CLIENT_IP, targetMac: 0, targetIp: SERVICE_IP });
    expect(toHex(arpReplyFrame(SERVICE_MAC, SERVICE_IP, req.arp))).toBe(toHex(REPLY));
  });
  it('emits the RFC 5227 §3 announcement', () => {
    expect(toHex(arpAnnouncementFrame(SERVICE_MAC, SERVICE_IP))).toBe(toHex(ANNOUNCEMENT));
  });
  it('sends a unicast poll to a known MAC when asked', () => {
    expect(toHex(arpRequestFrame(SERVICE_MAC, SERVICE_IP, CLIENT_IP, CLIENT_MAC).subarray(0, 6))).toBe('020000000001');
  });
  it('round-trips any opcode and ignores trailing padding', () => {
    const arp: ArpPacket = { op: 9, senderMac: 0xfedcba987654, senderIp: 0xffffffff, targetMac: MAC_BROADCAST, targetIp: 1 };
    const padded = new Uint8Array(46);
    padded.set(emitArp(arp));
    expect(parseArp(padded)).toEqual({ ok: true, arp });
  });
  it('returns reasons for short, foreign and odd-length packets, never throws', () => {
    const good = REPLY.subarray(14);
    expect(parseArp(good.subarray(0, 27))).toEqual({ ok: false, reason: 'arp-truncated' });
    expect(parseArp(new Uint8Array(0))).toEqual({ ok: false, reason: 'arp-truncated' });
    const mutate = (at: number, v: number) => {
      const b = good.slice();
      b[at] = v;
      return parseArp(b);
    };
    expect(mutate(1, 6)).toEqual({ ok: false, reason: 'arp-unsupported' }); // IEEE 802 hardware type
    expect(mutate(2, 0x86)).toEqual({ ok: false, reason: 'arp-unsupported' }); // protocol 0x8600
    expect(mutate(4, 8)).toEqual({ ok: false, reason: 'arp-bad-length' });
    expect(mutate(5, 16)).toEqual({ ok: false, reason: 'arp-bad-length' });
    expect(mutate(7, ARP_REPLY).ok).toBe(true);
  });
  it('refuses an opcode that does not fit 16 bits (API misuse)', () => {
    expect(() => emitArp({ op: 0x10000, senderMac: 0, senderIp: 0, targetMac: 0, targetIp: 0 })).toThrow(RangeError);
  });
  itWithTshark('tshark dissects request, reply and announcement with no malformed packet or expert error', () => {
    withEthernetCapture([REQUEST, REPLY, ANNOUNCEMENT], (path) => {
      const fields = ['arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.hw_mac', 'arp.dst.proto_ipv4', 'arp.isgratuitous', 'arp.isannouncement', '_ws.malformed', '_ws.expert.severity'];
      const run = tsharkFields(path, fields);
      expect(run.exitCode).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.rows).toEqual([
        [['1'], ['02:00:00:00:00:01'], ['192.0.2.1'], ['00:00:00:00:00:00'], ['192.0.2.10'], [], [], [], []],
        [['2'], ['02:66:c0:00:02:0a'], ['192.0.2.10'], ['02:00:00:00:00:01'], ['192.0.2.1'], [], [], [], []],
        [['1'], ['02:66:c0:00:02:0a'], ['192.0.2.10'], ['00:00:00:00:00:00'], ['192.0.2.10'], ['1'], ['1'], [], []],
      ]);
      // The verbose tree names the three as tshark's ARP dissector sees them.
      const verbose = spawnSync(tsharkPath(), ['-n', '-V', '-r', path], { encoding: 'utf8' }).stdout;
      expect(verbose.match(/^Address Resolution Protocol \((.*)\)$/gm)).toEqual([
        'Address Resolution Protocol (request)',
        'Address Resolution Protocol (reply)',
        'Address Resolution Protocol (ARP Announcement)',
      ]);
      expect(verbose).not.toMatch(/Malformed|Expert Info/);
    });
  });
});
