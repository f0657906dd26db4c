import { describe, expect, it } from 'vitest';
import {
  emitEthernet,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  formatMac,
  isBroadcastMac,
  isLocallyAdministeredMac,
  isMulticastMac,
  MAC_BROADCAST,
  parseEthernet,
  parseIpv4Addr,
  parseMac,
  serviceMacFor,
} from '../../src/wire/index.js';
import { itWithTshark, tsharkFields } from '../helpers/tshark.js';
import { withEthernetCapture } from '../helpers/ethernet-pcap.js';

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('MAC addresses', () => {
  it('parses and formats colon and dash notation', () => {
    expect(parseMac('02:66:c0:00:02:0a')).toBe(0x0266c000020a);
    expect(parseMac('FF-FF-FF-FF-FF-FF')).toBe(MAC_BROADCAST);
    expect(formatMac(0x0266c000020a)).toBe('02:66:c0:00:02:0a');
    expect(formatMac(0)).toBe('00:00:00:00:00:00');
    expect(formatMac(0xfedcba987654)).toBe('fe:dc:ba:98:76:54');
  });
  it.each(['', '02:66:c0:00:02', '02:66:c0:00:02:0a:01', '02:66-c0:00:02:0a', 'g2:66:c0:00:02:0a', '2:66:c0:00:02:0a'])('rejects %j', (s) => {
    expect(() => parseMac(s)).toThrow(RangeError);
  });
  it('tells group, broadcast and locally administered addresses by the first octet (IEEE 802 I/G, U/L bits)', () => {
    expect(isMulticastMac(parseMac('01:00:5e:00:00:01'))).toBe(true);
    expect(isMulticastMac(parseMac('33:33:00:00:00:01'))).toBe(true);
    expect(isMulticastMac(MAC_BROADCAST)).toBe(true);
    expect(isBroadcastMac(MAC_BROADCAST)).toBe(true);
    expect(isBroadcastMac(parseMac('01:00:5e:00:00:01'))).toBe(false);
    expect(isMulticastMac(parseMac('02:00:00:00:00:01'))).toBe(false);
    expect(isLocallyAdministeredMac(parseMac('02:00:00:00:00:01'))).toBe(true);
    expect(isLocallyAdministeredMac(parseMac('00:1b:21:00:00:01'))).toBe(false);
    // Only the first octet counts: 0x01 / 0x02 bits further down mean nothing.
    expect(isMulticastMac(parseMac('00:01:01:01:01:01'))).toBe(false);
    expect(isLocallyAdministeredMac(parseMac('00:02:02:02:02:02'))).toBe(false);
  });
  it('derives the service MAC 02:66:<IPv4 octets>: unicast, locally administered, one per address', () => {
    const mac = serviceMacFor(parseIpv4Addr('192.0.2.10'));
    expect(formatMac(mac)).toBe('02:66:c0:00:02:0a');
    expect(isMulticastMac(mac)).toBe(false);
    expect(isLocallyAdministeredMac(mac)).toBe(true);
    expect(formatMac(serviceMacFor(parseIpv4Addr('255.255.255.255')))).toBe('02:66:ff:ff:ff:ff');
    expect(serviceMacFor(parseIpv4Addr('192.0.2.11'))).not.toBe(mac);
  });
});

describe('Ethernet II frames', () => {
  // Written by hand: dst, src, EtherType 0x0800, then the payload; no FCS.
  const golden = hex('ffffffffffff 0266c000020a 0800 deadbeef');
  it('emits destination, source, EtherType, payload', () => {
    const f = emitEthernet({ dst: MAC_BROADCAST, src: 0x0266c000020a, etherType: ETHERTYPE_IPV4 }, hex('deadbeef'));
    expect(toHex(f)).toBe(toHex(golden));
  });
  it('parses it back, the payload a view with any padding kept', () => {
    const padded = new Uint8Array(60);
    padded.set(golden);
    const r = parseEthernet(padded);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.header).toEqual({ dst: MAC_BROADCAST, src: 0x0266c000020a, etherType: ETHERTYPE_IPV4 });
    expect(r.payload.length).toBe(46);
    expect(r.payload.buffer).toBe(padded.buffer);
  });
  it('returns reasons for short and 802.3-length frames, never throws', () => {
    expect(parseEthernet(new Uint8Array(13))).toEqual({ ok: false, reason: 'eth-truncated' });
    expect(parseEthernet(new Uint8Array(0))).toEqual({ ok: false, reason: 'eth-truncated' });
    // STP BPDU: 802.3 length 0x0027 then LLC 42 42 03.
    expect(parseEthernet(hex('0180c2000000 020000000001 0027 424203'))).toEqual({ ok: false, reason: 'eth-not-ethernet-ii' });
    expect(parseEthernet(hex('0180c2000000 020000000001 05ff'))).toEqual({ ok: false, reason: 'eth-not-ethernet-ii' });
    expect(parseEthernet(hex('0180c2000000 020000000001 0600')).ok).toBe(true);
  });
  it('refuses bad fields on emit (API misuse)', () => {
    expect(() => emitEthernet({ dst: 2 ** 48, src: 0, etherType: ETHERTYPE_ARP }, new Uint8Array(0))).toThrow(RangeError);
    expect(() => emitEthernet({ dst: 0, src: -1, etherType: ETHERTYPE_ARP }, new Uint8Array(0))).toThrow(RangeError);
    expect(() => emitEthernet({ dst: 0, src: 0, etherType: 0x05dc }, new Uint8Array(0))).toThrow(RangeError);
  });
  itWithTshark('tshark reads the frame as Ethernet II with our addresses and type', () => {
    const frame = emitEthernet({ dst: parseMac('02:00:00:00:00:01'), src: 0x0266c000020a, etherType: 0x88b5 }, new Uint8Array(46));
    withEthernetCapture([frame], (path) => {
      const run = tsharkFields(path, ['eth.dst', 'eth.src', 'eth.type', '_ws.malformed', '_ws.expert.severity']);
      expect(run.exitCode).toBe(0);
      expect(run.rows).toEqual([[['02:00:00:00:00:01'], ['02:66:c0:00:02:0a'], ['0x88b5'], [], []]]);
    });
  });
});
