/**
 * The packet fuzzer of `ftcp fuzz` ("Hostile and malformed input"): random and
 * mutated segments for a live replica pair, as UDP datagrams for the switch, from a host
 * of its own (FUZZ_ADDRESS, registered with the switch like any client).
 *
 * To have real segments to mutate and a real connection to aim at, it keeps a few
 * connections of its own with the service: it sends a SYN, answers the SYN-ACK with an
 * ACK (handshake segments, counted apart from the fuzz), and from the segments the
 * service sends it learns each connection's RCV.NXT (their ACK field) and SND.NXT (their
 * sequence number); a connection is given up after a while with an exact RST. What it
 * sent that was well-formed is kept (a ring) and mutated: bits flipped, cut short, IP
 * header fields broken, checksums broken, options replaced with random bytes; or sent again
 * unchanged (replay). Beside those: segments with random flag combinations (SYN, RST, FIN
 * together), in and out of the window; random bytes; stray packets (another protocol, an
 * unrouted destination, a closed port, port 0); segments whose source is the load client's
 * address (the switch must refuse them); corrupt switch control datagrams; well-formed
 * registrations of the service address with a high epoch, without a MAC or with a forged
 * one (the keyed switch must refuse them as bad-auth and never move the address).
 *
 * Every choice comes from one seeded PRNG (src/tcp/prng.ts), so a seed gives the same
 * sequence of choices; what the service answers (and so the exact bytes of the segments
 * aimed at its connections) depends on timing.
 */
import { Prng } from '../tcp/prng.js';
import { parseIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { foldChecksum, internetChecksum, pseudoHeaderSum, sum16 } from '../wire/checksum.js';
import { buildTcpPacket, parseTcpPacket } from '../wire/packet.js';
import { seqAdd, seqGt } from '../wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption } from '../wire/tcp.js';
import { AUTH_CONTROL_BYTES, AUTH_CONTROL_VERSION } from '../net/switch-auth.js';
import { encodeControl } from '../net/switch-control.js';

/** The fuzzer's own virtual address, and an unrouted one for stray packets. */
export const FUZZ_ADDRESS = '192.0.2.66';
const UNROUTED = parseIpv4Addr('192.0.2.99');

export const FUZZ_KINDS = [
  'random-bytes',
  'random-tcp',
  'bit-flip',
  'truncated',
  'bad-checksum',
  'bad-ip-header',
  'wild-options',
  'in-window',
  'out-of-window',
  'flag-combo',
  'replay',
  'stray',
  'spoofed-source',
  'bad-control',
  'spoofed-register',
] as const;
export type FuzzKind = (typeof FUZZ_KINDS)[number];

export interface FuzzDatagram {
  kind: FuzzKind | 'handshake';
  bytes: Uint8Array;
}

interface Session {
  port: number;
  iss: number;
  /** The service's ISN + 1 once its SYN-ACK came: the connection exists at the replicas. */
  established: boolean;
  /** What the service acknowledges of ours (its RCV.NXT), and the next byte it will send. */
  peerAck: number;
  peerNxt: number;
  sent: number;
}

/** Segments per connection of its own before the fuzzer ends it with an exact RST. */
const SESSION_SEGMENTS = 300;
const MAX_SESSIONS = 4;
const RING = 256;

const FLAG_COMBOS = [TCP_SYN, TCP_SYN | TCP_ACK, TCP_SYN | TCP_RST, TCP_SYN | TCP_FIN, TCP_RST, TCP_RST | TCP_ACK, TCP_FIN, TCP_FIN | TCP_ACK, TCP_SYN | TCP_FIN | TCP_RST, 0, 0xff, TCP_FIN | TCP_PSH | 0x20, TCP_RST | TCP_FIN];

export class PacketFuzzer {
  readonly self: Ipv4Addr;
  private readonly rng: Prng;
  private readonly sessions = new Map<number, Session>();
  /** Well-formed segments it sent, to mutate and replay. */
  private readonly ring: Uint8Array[] = [];
  private ipId = 0;
  private nextPort = 40000;
  readonly replies = { segments: 0, rst: 0, synAck: 0, data: 0, malformed: 0 };

  constructor(
    seed: number,
    private readonly o: { service: Ipv4Addr; servicePort: number; spoof: Ipv4Addr },
  ) {
    this.rng = new Prng(seed);
    this.self = parseIpv4Addr(FUZZ_ADDRESS);
  }

  /** The switch registration datagram for FUZZ_ADDRESS (epoch 0, like a client). */
  registration(): Uint8Array {
    return encodeControl({ type: 'register', address: this.self, epoch: 0 });
  }

  /** A packet the service sent us: the sessions learn from it; a SYN-ACK is answered. */
  receive(bytes: Uint8Array): FuzzDatagram[] {
    const p = parseTcpPacket(bytes);
    if (!p.ok) {
      this.replies.malformed++;
      return [];
    }
    const seg = p.segment;
    this.replies.segments++;
    if (seg.payload.length > 0) this.replies.data++;
    const s = this.sessions.get(seg.dstPort);
    if ((seg.flags & TCP_RST) !== 0) {
      this.replies.rst++;
      if (s !== undefined && seg.srcPort === this.o.servicePort) this.sessions.delete(s.port);
      return [];
    }
    if (s === undefined || seg.srcPort !== this.o.servicePort) return [];
    if ((seg.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) {
      this.replies.synAck++;
      if (s.established || seg.ack !== seqAdd(s.iss, 1)) return [];
      s.established = true;
      s.peerAck = seg.ack;
      s.peerNxt = seqAdd(seg.seq, 1);
      return [{ kind: 'handshake', bytes: this.keep(this.segment(s, { seq: s.peerAck, ack: s.peerNxt, flags: TCP_ACK })) }];
    }
    if ((seg.flags & TCP_ACK) !== 0 && seqGt(seg.ack, s.peerAck)) s.peerAck = seg.ack;
    const end = seqAdd(seg.seq, seg.payload.length + ((seg.flags & TCP_FIN) !== 0 ? 1 : 0));
    if (seqGt(end, s.peerNxt)) s.peerNxt = end;
    return [];
  }

  /** The next datagram: handshake upkeep when a connection of its own is due, else one fuzz datagram. */
  next(): FuzzDatagram {
    const r = this.rng;
    const open = [...this.sessions.values()];
    if (open.length < MAX_SESSIONS && r.below(50) === 0) return { kind: 'handshake', bytes: this.openSession() };
    const done = open.find((s) => s.established && s.sent >= SESSION_SEGMENTS);
    if (done !== undefined) {
      this.sessions.delete(done.port);
      return { kind: 'handshake', bytes: this.segment(done, { seq: done.peerAck, ack: done.peerNxt, flags: TCP_RST | TCP_ACK }) };
    }
    const kind = FUZZ_KINDS[r.below(FUZZ_KINDS.length)]!;
    return { kind, bytes: this.make(kind) };
  }

  private make(kind: FuzzKind): Uint8Array {
    const r = this.rng;
    const s = this.pickSession();
    switch (kind) {
      case 'random-bytes': {
        const b = this.bytes(r.below(1500));
        if (b.length >= 20 && r.below(2) === 0) b[0] = 0x45;
        return b;
      }
      case 'random-tcp': {
        // A correct IPv4 header around random "TCP" bytes.
        const tcp = this.bytes(r.below(100));
        const p = new Uint8Array(20 + tcp.length);
        p.set(tcp, 20);
        return this.ipHeader(p, this.o.service, 6);
      }
      case 'bit-flip': {
        const p = this.captured();
        for (let i = 1 + r.below(3); i > 0; i--) {
          const bit = r.below(p.length * 8);
          p[bit >>> 3]! ^= 0x80 >>> (bit & 7);
        }
        return p;
      }
      case 'truncated': {
        const p = this.captured();
        const cut = p.subarray(0, r.below(p.length));
        // Half of them with the IP total length and checksum made to fit, so they pass the switch.
        if (cut.length >= 20 && r.below(2) === 0) return this.fixIp(cut.slice(), cut.length);
        return cut.slice();
      }
      case 'bad-checksum': {
        const p = this.inWindow(s);
        const ihl = (p[0]! & 0x0f) * 4;
        p[ihl + 16]! ^= 1 + r.below(255);
        return p;
      }
      case 'bad-ip-header': {
        const p = this.inWindow(s);
        const v = r.below(5);
        if (v === 0) p[0] = 0x40 | [0, 1, 2, 3, 4, 6, 7, 8, 15][r.below(9)]!; // IHL other than 5
        else if (v === 1) p[0] = ([0, 1, 2, 3, 5, 6, 7, 15][r.below(8)]! << 4) | 5; // version other than 4
        else if (v === 2) {
          // A total length other than the real one.
          const total = (p.length + 1 + r.below(65535)) & 0xffff;
          p.set([total >>> 8, total & 0xff], 2);
        }
        else if (v === 3) p.set([0x20 | r.below(32), r.below(256)], 6); // more fragments, an offset
        else return this.corruptIpChecksum(p);
        return this.fixIp(p, undefined);
      }
      case 'wild-options':
        return this.wildOptions(s);
      case 'in-window':
        return this.keep(this.inWindow(s));
      case 'out-of-window':
        return this.segment(s, { seq: r.nextU32(), ack: r.nextU32(), flags: r.below(256) & ~(TCP_SYN | TCP_RST), payload: this.bytes(r.below(3) === 0 ? r.below(1400) : 0) });
      case 'flag-combo': {
        const flags = FLAG_COMBOS[r.below(FLAG_COMBOS.length)]!;
        const exact = r.below(3) === 0;
        const seq = exact ? s.peerAck : r.below(2) === 0 ? seqAdd(s.peerAck, 1 + r.below(60000)) : r.nextU32();
        return this.segment(s, { seq, ack: r.below(2) === 0 ? s.peerNxt : r.nextU32(), flags, payload: this.bytes(r.below(4) === 0 ? r.below(200) : 0) });
      }
      case 'replay':
        return this.captured();
      case 'stray': {
        const v = r.below(4);
        if (v === 0) return this.segment(s, { seq: r.nextU32(), ack: 0, flags: TCP_SYN }, UNROUTED);
        if (v === 1) {
          const p = this.segment(s, { seq: r.nextU32(), ack: 0, flags: TCP_ACK });
          p[9] = [1, 17, 47, 132][r.below(4)]!; // ICMP, UDP, GRE, SCTP
          return this.fixIp(p, undefined);
        }
        const p = buildTcpPacket({ src: this.self, dst: this.o.service, id: this.id() }, { srcPort: v === 2 ? 1 + r.below(65535) : 0, dstPort: v === 2 ? 1 + r.below(65535) : this.o.servicePort, seq: r.nextU32(), ack: r.nextU32(), flags: r.below(2) === 0 ? TCP_SYN : TCP_ACK, window: 65535 });
        return p;
      }
      case 'spoofed-source':
        return buildTcpPacket({ src: this.o.spoof, dst: this.o.service, id: this.id() }, { srcPort: 1024 + r.below(60000), dstPort: this.o.servicePort, seq: r.nextU32(), ack: r.nextU32(), flags: FLAG_COMBOS[r.below(FLAG_COMBOS.length)]!, window: r.below(65536) });
      case 'bad-control': {
        const c = this.registration();
        const v = r.below(3);
        if (v === 0) c[4 + r.below(12)]! ^= 1 + r.below(255); // CRC no longer matches
        else if (v === 1) return c.subarray(0, r.below(16)).slice(); // short
        else c[1] = 3 + r.below(253); // unknown version (2 is the authenticated format)
        return c;
      }
      case 'spoofed-register': {
        // A claim on the service address above any real epoch: bare, or with random bytes for its nonce and MAC.
        const epoch = 1000 + r.below(1_000_000);
        if (r.below(2) === 0) return encodeControl({ type: 'register', address: this.o.service, epoch });
        const d = this.bytes(AUTH_CONTROL_BYTES);
        d.set([0, AUTH_CONTROL_VERSION, 1, 0], 0);
        const view = new DataView(d.buffer);
        view.setUint32(4, this.o.service);
        view.setUint32(8, epoch);
        return d;
      }
    }
  }

  private pickSession(): Session {
    const open = [...this.sessions.values()];
    const est = open.filter((s) => s.established);
    const s = est.length > 0 ? est[this.rng.below(est.length)]! : open.length > 0 ? open[this.rng.below(open.length)]! : undefined;
    if (s !== undefined) {
      s.sent++;
      return s;
    }
    // No connection yet: aim at a made-up one (the port of the next to open).
    return { port: this.nextPort, iss: this.rng.nextU32(), established: false, peerAck: this.rng.nextU32(), peerNxt: this.rng.nextU32(), sent: 0 };
  }

  private openSession(): Uint8Array {
    const port = this.nextPort;
    this.nextPort = this.nextPort >= 60000 ? 40000 : this.nextPort + 1;
    const iss = this.rng.nextU32();
    const s: Session = { port, iss, established: false, peerAck: seqAdd(iss, 1), peerNxt: 0, sent: 0 };
    this.sessions.set(port, s);
    const options: TcpOption[] = [{ kind: 'mss', mss: 1400 }, { kind: 'sackOk' }, { kind: 'ts', val: this.rng.nextU32(), ecr: 0 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }];
    return this.keep(this.segment(s, { seq: iss, ack: 0, flags: TCP_SYN, options }));
  }

  /** A segment near the connection's window: seq and ack within a few KB, random flags without SYN/RST, maybe data. */
  private inWindow(s: Session): Uint8Array {
    const r = this.rng;
    const seq = seqAdd(s.peerAck, r.below(4) === 0 ? 0 : r.below(70000) - 2000);
    const ack = seqAdd(s.peerNxt, r.below(4000) - 2000);
    const flags = (r.below(256) & ~(TCP_SYN | TCP_RST)) | TCP_ACK;
    return this.segment(s, { seq, ack, flags, payload: this.bytes(r.below(2) === 0 ? r.below(1400) : 0), options: r.below(3) === 0 ? [{ kind: 'ts', val: r.nextU32(), ecr: r.nextU32() }] : [] });
  }

  /** A segment whose option bytes are random (lengths that overrun, zero, one), TCP checksum right. */
  private wildOptions(s: Session): Uint8Array {
    const r = this.rng;
    if (r.below(3) === 0) {
      // Well-formed but wild values.
      const options: TcpOption[] = [{ kind: 'mss', mss: r.below(2) === 0 ? 0 : r.below(65536) }, { kind: 'wscale', shift: r.below(256) }, { kind: 'sack', blocks: [{ left: r.nextU32(), right: r.nextU32() }] }, { kind: 'ts', val: r.nextU32(), ecr: r.nextU32() }];
      return this.segment(s, { seq: s.peerAck, ack: s.peerNxt, flags: TCP_ACK | (r.below(2) === 0 ? TCP_SYN : 0), options: options.filter(() => r.below(2) === 0) });
    }
    const optionBytes = 4 * (1 + r.below(10));
    const p = this.segment(s, { seq: s.peerAck, ack: s.peerNxt, flags: TCP_ACK, options: [{ kind: 'unknown', type: 253, data: new Uint8Array(optionBytes - 2) }], payload: this.bytes(r.below(100)) });
    const at = 40;
    for (let i = 0; i < optionBytes; i++) p[at + i] = r.below(4) === 0 ? [0, 1, 2, 3, 4, 5, 8, 30][r.below(8)]! : r.below(256);
    return this.fixTcpChecksum(p);
  }

  private segment(s: Session, f: { seq: number; ack: number; flags: number; payload?: Uint8Array; options?: TcpOption[] }, dst = this.o.service): Uint8Array {
    return buildTcpPacket({ src: this.self, dst, id: this.id() }, { srcPort: s.port, dstPort: this.o.servicePort, seq: f.seq >>> 0, ack: f.ack >>> 0, flags: f.flags & 0xff, window: 65535, ...(f.options !== undefined ? { options: f.options } : {}), ...(f.payload !== undefined ? { payload: f.payload } : {}) });
  }

  private keep(p: Uint8Array): Uint8Array {
    this.ring.push(p);
    if (this.ring.length > RING) this.ring.shift();
    return p;
  }

  /** A copy of a well-formed segment it sent (or a fresh one when none yet). */
  private captured(): Uint8Array {
    if (this.ring.length === 0) return this.inWindow(this.pickSession());
    return this.ring[this.rng.below(this.ring.length)]!.slice();
  }

  private bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const w = this.rng.nextU32();
      for (let k = 0; k < 4 && i + k < n; k++) b[i + k] = (w >>> (8 * k)) & 0xff;
    }
    return b;
  }

  private id(): number {
    this.ipId = (this.ipId + 1) & 0xffff;
    return this.ipId;
  }

  /** Fills in a 20-byte IPv4 header (src = ours) in front of p[20..]. */
  private ipHeader(p: Uint8Array, dst: Ipv4Addr, protocol: number): Uint8Array {
    p[0] = 0x45;
    p[8] = 64;
    p[9] = protocol;
    p.set([this.self >>> 24, (this.self >>> 16) & 0xff, (this.self >>> 8) & 0xff, this.self & 0xff, dst >>> 24, (dst >>> 16) & 0xff, (dst >>> 8) & 0xff, dst & 0xff], 12);
    return this.fixIp(p, p.length);
  }

  /** Sets the total length (when given) and recomputes the IPv4 header checksum over the header its IHL claims (at most what is there). */
  private fixIp(p: Uint8Array, totalLength: number | undefined): Uint8Array {
    if (totalLength !== undefined) p.set([totalLength >>> 8, totalLength & 0xff], 2);
    const ihl = Math.min(p.length, Math.max(20, (p[0]! & 0x0f) * 4));
    p[10] = 0;
    p[11] = 0;
    const sum = internetChecksum(p, 0, ihl);
    p[10] = sum >>> 8;
    p[11] = sum & 0xff;
    return p;
  }

  private corruptIpChecksum(p: Uint8Array): Uint8Array {
    p[10]! ^= 1 + this.rng.below(255);
    return p;
  }

  /** Recomputes the TCP checksum of a 20-byte-IP-header packet (RFC 9293 §3.1). */
  private fixTcpChecksum(p: Uint8Array): Uint8Array {
    p[36] = 0;
    p[37] = 0;
    const src = ((p[12]! << 24) | (p[13]! << 16) | (p[14]! << 8) | p[15]!) >>> 0;
    const dst = ((p[16]! << 24) | (p[17]! << 16) | (p[18]! << 8) | p[19]!) >>> 0;
    const c = foldChecksum(sum16(p, 20, p.length, pseudoHeaderSum(src, dst, 6, p.length - 20)));
    p[36] = c >>> 8;
    p[37] = c & 0xff;
    return p;
  }
}
