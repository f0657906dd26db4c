/**
 * A two-way bulk transfer over the in-memory Pair (harness.ts) with a hook that injects
 * hostile packets on every step, and an end-to-end check of both byte streams by SHA-256
 * and byte-by-byte (as src/sim/transfer.ts): the tests of blind attacks (RFC 5961) and of
 * the packet fuzzer run their attackers through it.
 */
import { createHash, type Hash } from 'node:crypto';
import { PatternStream } from '../../src/sim/pattern.js';
import type { Prng } from '../../src/tcp/prng.js';
import type { SocketId } from '../../src/tcp/types.js';
import type { TcpOption } from '../../src/wire/tcp.js';
import { established } from './fixtures.js';
import { bytes, type Pair, type PairOptions, type Side } from './harness.js';

export interface StreamCheck {
  sent: number;
  received: number;
  sha256Sent: string;
  sha256Received: string;
  /** Received bytes that differ from the stream sent at the same offset. */
  mismatchedBytes: number;
}

export interface HostileRun {
  p: Pair;
  /** Client socket (side a) and server socket (side b). */
  ca: SocketId;
  sb: SocketId;
  aToB: StreamCheck;
  bToA: StreamCheck;
  /** Both sides read EOF and saw every byte; no 'closed' event with an error. */
  completed: boolean;
  errors: string[];
  /** Ticks run. */
  steps: number;
}

class Direction {
  readonly source: PatternStream;
  readonly expected: PatternStream;
  pending: Uint8Array | undefined;
  shutdown = false;
  eof = false;
  received = 0;
  mismatchedBytes = 0;
  readonly sentHash: Hash = createHash('sha256');
  readonly receivedHash: Hash = createHash('sha256');
  constructor(seed: number, length: number) {
    this.source = new PatternStream(seed, length);
    this.expected = new PatternStream(seed, length);
  }
  write(p: Pair, side: Side, s: SocketId): void {
    const stack = p.stack(side);
    for (;;) {
      if (this.pending === undefined) {
        if (this.source.remaining === 0) break;
        this.pending = this.source.next(65_536);
        this.sentHash.update(this.pending);
      }
      const n = stack.write(p.now, s, this.pending);
      if (n === this.pending.length) this.pending = undefined;
      else {
        this.pending = this.pending.subarray(n);
        return;
      }
    }
    if (!this.shutdown) {
      this.shutdown = true;
      stack.shutdown(p.now, s);
    }
  }
  read(p: Pair, side: Side, s: SocketId): void {
    const stack = p.stack(side);
    for (let d = stack.read(p.now, s); d.length > 0; d = stack.read(p.now, s)) {
      this.receivedHash.update(d);
      const want = this.expected.next(d.length);
      for (let i = 0; i < d.length; i++) if (d[i] !== want[i]) this.mismatchedBytes++;
      this.mismatchedBytes += d.length - want.length; // bytes beyond the end of the stream
      this.received += d.length;
    }
  }
  check(): StreamCheck {
    return {
      sent: this.source.length,
      received: this.received,
      sha256Sent: this.sentHash.digest('hex'),
      sha256Received: this.receivedHash.digest('hex'),
      mismatchedBytes: this.mismatchedBytes,
    };
  }
}

/**
 * Establish a connection (a connects to b), then send `bytes` each way at once. The clock
 * advances in ticks of `tickUs` (everything due in a tick happens), and after each tick
 * `attack(p)` may deliver packets (at p.now, with p.stack(side).handlePacket, then
 * p.flush()); p.wire holds the packets the stacks sent during the tick. Runs until both
 * streams are complete or `maxTicks`.
 */
export function hostileTransfer(opts: {
  bytes: number;
  seed: number;
  pair?: PairOptions;
  tickUs?: number;
  maxTicks?: number;
  attack: (p: Pair, conn: { ca: SocketId; sb: SocketId }) => void;
}): HostileRun {
  const { p, ca, sb } = established(opts.pair);
  const ab = new Direction(opts.seed, opts.bytes);
  const ba = new Direction(opts.seed ^ 0x5bd1e995, opts.bytes);
  const errors: string[] = [];
  p.onEvent = (side, ev) => {
    const mine = side === 'a' ? ca : sb;
    if (ev.socket !== mine) return;
    const out = side === 'a' ? ab : ba;
    const inn = side === 'a' ? ba : ab;
    if (ev.type === 'writable') out.write(p, side, mine);
    else if (ev.type === 'readable') inn.read(p, side, mine);
    else if (ev.type === 'eof') {
      inn.read(p, side, mine);
      inn.eof = true;
    } else if (ev.type === 'closed' && ev.error !== undefined) errors.push(`${side}: ${ev.error}`);
  };
  ab.write(p, 'a', ca);
  ba.write(p, 'b', sb);
  const maxTicks = opts.maxTicks ?? 200_000;
  const tickUs = opts.tickUs ?? 50;
  let steps = 0;
  for (; steps < maxTicks && !(ab.eof && ba.eof) && errors.length === 0; steps++) {
    p.runTo(p.now + tickUs);
    opts.attack(p, { ca, sb }); // p.wire holds the packets of this tick
    p.wire.length = 0; // keep memory flat: the tests look at counters, not at the wire
  }
  return {
    p,
    ca,
    sb,
    aToB: ab.check(),
    bToA: ba.check(),
    completed: ab.eof && ba.eof && ab.received === opts.bytes && ba.received === opts.bytes && errors.length === 0,
    errors,
    steps,
  };
}

/** Up to four random options, well-formed or not in their values (the fuzzers' share). */
export function randomOptions(r: Prng): TcpOption[] {
  const out: TcpOption[] = [];
  const n = r.below(5);
  for (let i = 0; i < n; i++) {
    switch (r.below(7)) {
      case 0:
        out.push({ kind: 'mss', mss: r.below(65536) });
        break;
      case 1:
        out.push({ kind: 'wscale', shift: r.below(256) });
        break;
      case 2:
        out.push({ kind: 'sackOk' });
        break;
      case 3:
        out.push({ kind: 'ts', val: r.nextU32(), ecr: r.nextU32() });
        break;
      case 4:
        out.push({ kind: 'nop' });
        break;
      case 5:
        out.push({ kind: 'sack', blocks: [{ left: r.nextU32(), right: r.nextU32() }] });
        break;
      default:
        out.push({ kind: 'unknown', type: 30 + r.below(200), data: bytes(r.below(6), r.nextU32()) });
    }
  }
  return out;
}
