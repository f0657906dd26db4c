/**
 * A stack with one ESTABLISHED connection (server side, port 80) to a peer played by the
 * test: it crafts the peer's ACKs, with SACK blocks, in relative sequence numbers.
 */
import { Stack } from '../../src/tcp/stack.js';
import type { SocketId, StackConfig } from '../../src/tcp/types.js';
import { TCP_ACK, TCP_SYN, type TcpOption, type TcpSegment } from '../../src/wire/tcp.js';
import { A_ADDR, B_ADDR, craft, drainSegments } from './harness.js';

const PEER = { src: A_ADDR, dst: B_ADDR, srcPort: 4000, dstPort: 80 };
const MSS = 1000;

/** A server stack with one ESTABLISHED connection to a scripted peer that negotiated SACK (or not). */
export class ScriptedPeer {
  readonly s: Stack;
  readonly id: SocketId;
  readonly iss: number;
  now = 1_000_000;

  constructor(sack: boolean, cfg: Partial<StackConfig> = {}) {
    this.s = new Stack({ addresses: [B_ADDR], seed: 9, timestamps: false, ...cfg });
    const l = this.s.listen(this.now, { port: 80 });
    const opts: TcpOption[] = [{ kind: 'mss', mss: MSS }, ...(sack ? [{ kind: 'sackOk' } as const] : [])];
    this.s.handlePacket(this.now, craft({ ...PEER, seq: 0, flags: TCP_SYN, options: opts }));
    const synAck = drainSegments(this.s)[0]!;
    this.iss = synAck.seq;
    this.now += 100_000;
    this.s.handlePacket(this.now, craft({ ...PEER, seq: 1, ack: this.iss + 1, flags: TCP_ACK }));
    this.id = this.s.accept(l)!;
  }

  /** Relative sequence number -> absolute. */
  rel(n: number): number {
    return (this.iss + n) >>> 0;
  }

  /** The packet of the peer ACKing `ack` (relative) with SACK blocks [l, r) (relative). */
  ackPacket(ack: number, sack: [number, number][] = []): Uint8Array {
    const options: TcpOption[] = sack.length > 0 ? [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: sack.map(([l, r]) => ({ left: this.rel(l), right: this.rel(r) })) }] : [];
    return craft({ ...PEER, seq: 1, ack: this.rel(ack), flags: TCP_ACK, options });
  }

  /** The peer ACKs `ack` (relative) with SACK blocks, `dtMs` later; returns what the stack sent. */
  ack(dtMs: number, ack: number, sack: [number, number][] = []): TcpSegment[] {
    this.now += dtMs * 1000;
    this.s.handlePacket(this.now, this.ackPacket(ack, sack));
    return drainSegments(this.s);
  }

  /** Relative [start, end) of what the stack sent. */
  sent(segs: TcpSegment[]): [number, number][] {
    return segs.map((g) => [(g.seq - this.iss) >>> 0, ((g.seq - this.iss) >>> 0) + g.payload.length]);
  }
}
