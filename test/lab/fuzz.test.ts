// The packet generator of `ftcp fuzz`, offline: a seed gives the same datagrams;
// each kind is the malformation it says it is (checked with the project's own parsers, which
// the switch and the replicas use); its own connections follow the service's answers.
import { describe, expect, it } from 'vitest';
import { FUZZ_KINDS, PacketFuzzer, type FuzzDatagram } from '../../src/lab/fuzz.js';
import { ClusterKey } from '../../src/net/cluster-key.js';
import { controlMacKey, decodeAuthControl, isAuthControl } from '../../src/net/switch-auth.js';
import { decodeControl, isControl } from '../../src/net/switch-control.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { parseIpv4 } from '../../src/wire/ipv4.js';
import { buildTcpPacket, parseTcpPacket } from '../../src/wire/packet.js';
import { TCP_ACK, TCP_RST, TCP_SYN } from '../../src/wire/tcp.js';

const service = parseIpv4Addr('192.0.2.10');
const make = (seed: number) => new PacketFuzzer(seed, { service, servicePort: 7070, spoof: parseIpv4Addr('192.0.2.1') });
const anyKey = ClusterKey.fromText(ClusterKey.generateText(), 'test');
const hex = (d: FuzzDatagram) => `${d.kind}:${Buffer.from(d.bytes).toString('hex')}`;

describe('PacketFuzzer', () => {
  it('a seed gives the same datagrams; another seed others', () => {
    const a = make(5);
    const b = make(5);
    const c = make(6);
    const xs = Array.from({ length: 2000 }, () => hex(a.next()));
    expect(Array.from({ length: 2000 }, () => hex(b.next()))).toEqual(xs);
    expect(Array.from({ length: 2000 }, () => hex(c.next()))).not.toEqual(xs);
  });

  it('every kind comes out, and each is what it says', () => {
    const f = make(1);
    const seen = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const d = f.next();
      seen.set(d.kind, (seen.get(d.kind) ?? 0) + 1);
      const p = parseTcpPacket(d.bytes);
      switch (d.kind) {
        case 'bad-checksum':
          expect(p.ok ? 'ok' : p.reason).toBe('tcp-bad-checksum');
          break;
        case 'bad-control':
          expect(isControl(d.bytes) || d.bytes.length === 0).toBe(true);
          expect(decodeControl(d.bytes)).toBeUndefined();
          expect(isAuthControl(d.bytes)).toBe(false);
          break;
        case 'spoofed-register': {
          // well-formed claims on the service address, bare or with a MAC no key made.
          const bare = decodeControl(d.bytes);
          if (bare !== undefined) expect(bare).toMatchObject({ type: 'register', address: service, epoch: expect.any(Number) });
          else expect(d.bytes.length === 64 && decodeAuthControl(d.bytes, controlMacKey(anyKey))).toBe('bad-mac');
          if (bare !== undefined) expect(bare.epoch).toBeGreaterThanOrEqual(1000);
          break;
        }
        case 'spoofed-source': {
          const ip = parseIpv4(d.bytes);
          expect(ip.ok && ip.header.src).toBe(parseIpv4Addr('192.0.2.1'));
          break;
        }
        case 'in-window':
        case 'out-of-window':
        case 'handshake':
          expect(p.ok).toBe(true);
          break;
        case 'bad-ip-header':
          expect(parseIpv4(d.bytes).ok && p.ok).toBe(false);
          break;
        default:
          break;
      }
    }
    for (const k of FUZZ_KINDS) expect(seen.get(k) ?? 0, k).toBeGreaterThan(100);
    // Offline nobody answers its SYNs: it opens its few connections and waits.
    expect(seen.get('handshake')).toBe(4);
  });

  it('answers a SYN-ACK to its SYN with an ACK, then aims at that connection', () => {
    const f = make(2);
    let syn: Uint8Array | undefined;
    for (let i = 0; i < 1000 && syn === undefined; i++) {
      const d = f.next();
      const p = parseTcpPacket(d.bytes);
      if (d.kind === 'handshake' && p.ok && p.segment.flags === TCP_SYN) syn = d.bytes;
    }
    const s = parseTcpPacket(syn!);
    if (!s.ok) throw new Error('no SYN');
    const synAck = buildTcpPacket({ src: service, dst: s.ip.src, id: 1 }, { srcPort: 7070, dstPort: s.segment.srcPort, seq: 1000, ack: (s.segment.seq + 1) >>> 0, flags: TCP_SYN | TCP_ACK, window: 65535 });
    const [ack] = f.receive(synAck);
    const a = parseTcpPacket(ack!.bytes);
    expect(a.ok && { flags: a.segment.flags, seq: a.segment.seq, ack: a.segment.ack }).toEqual({ flags: TCP_ACK, seq: (s.segment.seq + 1) >>> 0, ack: 1001 });
    // In-window segments now go to that connection's port, near its sequence numbers.
    let aimed = 0;
    for (let i = 0; i < 500; i++) {
      const d = f.next();
      const p = parseTcpPacket(d.bytes);
      if (d.kind === 'in-window' && p.ok && p.segment.srcPort === s.segment.srcPort) aimed++;
    }
    expect(aimed).toBeGreaterThan(0);
    // A RST from the service ends it.
    f.receive(buildTcpPacket({ src: service, dst: s.ip.src, id: 2 }, { srcPort: 7070, dstPort: s.segment.srcPort, seq: 1001, ack: 0, flags: TCP_RST, window: 0 }));
    expect(f.replies.rst).toBe(1);
  });
});
