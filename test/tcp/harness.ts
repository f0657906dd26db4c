/**
 * A tiny in-memory harness for the stack: two stacks joined by a link with a fixed
 * one-way latency, a virtual clock, and step(), which delivers the next packet or fires
 * the next timeout, whichever comes first. Hooks drop or rewrite packets; inject() puts
 * crafted packets on the wire. Also: helpers to craft and parse segments.
 */
import { Stack } from '../../src/tcp/stack.js';
import type { SocketId, SocketInfo, StackConfig, StackEvent } from '../../src/tcp/types.js';
import { parseIpv4Addr, type Ipv4Addr } from '../../src/wire/addr.js';
import { buildTcpPacket, parseTcpPacket } from '../../src/wire/packet.js';
import { formatFlags, type TcpOption, type TcpSegment } from '../../src/wire/tcp.js';

export const A_ADDR = parseIpv4Addr('192.0.2.1');
export const B_ADDR = parseIpv4Addr('192.0.2.10');
export const MS = 1000;
export const SEC = 1_000_000;

export type Side = 'a' | 'b';

export interface Wire {
  time: number;
  from: Side;
  bytes: Uint8Array;
  seg: TcpSegment;
}

interface InFlight {
  at: number;
  order: number;
  to: Side;
  bytes: Uint8Array;
}

export interface PairOptions {
  a?: Partial<StackConfig>;
  b?: Partial<StackConfig>;
  latencyUs?: number;
  startUs?: number;
}

export class Pair {
  a: Stack;
  b: Stack;
  now: number;
  latencyUs: number;
  /** Every packet either side sent, in order (before any drop). */
  readonly wire: Wire[] = [];
  readonly events: Record<Side, StackEvent[]> = { a: [], b: [] };
  /** Return true to drop a packet on its way. */
  dropHook: ((w: Wire) => boolean) | undefined;
  /** Called for each event as it is polled; may make socket calls (drained afterwards). */
  onEvent: ((side: Side, ev: StackEvent) => void) | undefined;
  private inflight: InFlight[] = [];
  private head = 0;
  private order = 0;

  constructor(opts: PairOptions = {}) {
    this.a = new Stack({ addresses: [A_ADDR], seed: 1, ...opts.a });
    this.b = new Stack({ addresses: [B_ADDR], seed: 2, ...opts.b });
    this.now = opts.startUs ?? 1_000_000;
    this.latencyUs = opts.latencyUs ?? 10 * MS;
  }

  stack(side: Side): Stack {
    return side === 'a' ? this.a : this.b;
  }

  /** Drain both stacks' outputs: packets onto the link, events into `events`. */
  flush(): void {
    for (let again = true; again; ) {
      again = false;
      for (const side of ['a', 'b'] as const) {
        const s = this.stack(side);
        for (let p = s.pollTransmit(); p !== undefined; p = s.pollTransmit()) {
          again = true;
          const parsed = parseTcpPacket(p);
          if (!parsed.ok) throw new Error(`stack ${side} emitted a bad packet: ${parsed.reason}`);
          const w: Wire = { time: this.now, from: side, bytes: p, seg: parsed.segment };
          this.wire.push(w);
          if (this.dropHook?.(w)) continue;
          this.enqueue({ at: this.now + this.latencyUs, order: this.order++, to: side === 'a' ? 'b' : 'a', bytes: p });
        }
        for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) {
          again = true;
          this.events[side].push(e);
          this.onEvent?.(side, e);
        }
      }
    }
  }

  /** Put a crafted packet on the link towards `to`, arriving after the latency (or `delayUs`). */
  inject(to: Side, bytes: Uint8Array, delayUs = this.latencyUs): void {
    this.enqueue({ at: this.now + delayUs, order: this.order++, to, bytes });
  }

  /** Keep `inflight` sorted by (at, order): append, then move back past later arrivals. */
  private enqueue(f: InFlight): void {
    const q = this.inflight;
    let i = q.length;
    q.push(f);
    while (i > this.head && q[i - 1]!.at > f.at) {
      q[i] = q[i - 1]!;
      i--;
    }
    q[i] = f;
  }

  /** Deliver a crafted packet right now. */
  deliver(to: Side, bytes: Uint8Array): void {
    this.stack(to).handlePacket(this.now, bytes);
    this.flush();
  }

  /** The time of the next thing that would happen, or undefined if nothing will. */
  nextTime(): number | undefined {
    let t: number | undefined = this.inflight[this.head]?.at;
    for (const s of [this.a, this.b]) {
      const d = s.pollTimeout();
      if (d !== undefined && (t === undefined || d < t)) t = Math.max(d, this.now);
    }
    return t;
  }

  /** Advance to the next packet delivery or timeout; false when nothing is left to happen. */
  step(limitUs = Infinity): boolean {
    this.flush();
    const t = this.nextTime();
    if (t === undefined || t > limitUs) return false;
    this.now = Math.max(this.now, t);
    // Deliver what is due now (new packets always arrive later: latency > 0).
    while (this.head < this.inflight.length && this.inflight[this.head]!.at <= this.now) {
      const f = this.inflight[this.head++]!;
      this.stack(f.to).handlePacket(this.now, f.bytes);
      this.flush();
    }
    if (this.head > 1024 && this.head * 2 > this.inflight.length) {
      this.inflight = this.inflight.slice(this.head);
      this.head = 0;
    }
    for (const s of [this.a, this.b]) {
      const d = s.pollTimeout();
      if (d !== undefined && d <= this.now) s.handleTimeout(this.now);
    }
    this.flush();
    return true;
  }

  /** Step until `pred` holds (checked before each step); throws after maxSteps. */
  runUntil(pred: () => boolean, maxSteps = 100_000): void {
    for (let i = 0; i < maxSteps; i++) {
      this.flush();
      if (pred()) return;
      if (!this.step()) {
        if (pred()) return;
        throw new Error(`runUntil: nothing left to happen at t=${this.now}`);
      }
    }
    throw new Error(`runUntil: condition not met after ${maxSteps} steps (t=${this.now})`);
  }

  /** Step through everything that happens until the clock would pass `untilUs`, then set the clock to it. */
  runTo(untilUs: number): void {
    while (this.step(untilUs)) {
      /* keep going */
    }
    this.now = Math.max(this.now, untilUs);
  }

  runFor(us: number): void {
    this.runTo(this.now + us);
  }

  /** Step until both stacks are quiet (no packets in flight, no timers) or maxSteps. */
  settle(maxSteps = 100_000): void {
    for (let i = 0; i < maxSteps && this.step(); i++) {
      /* keep going */
    }
  }

  /** Packets sent by `from` since index `since` of `wire`. */
  sentBy(from: Side, since = 0): Wire[] {
    return this.wire.slice(since).filter((w) => w.from === from);
  }

  /** A segment from `from`'s peer to `to`, crafted for an existing connection's 4-tuple. */
  craftFor(to: Side, socket: SocketId, f: CraftFields): Uint8Array {
    const info = this.stack(to).info(socket);
    return craft({
      src: info.remoteAddress,
      dst: info.localAddress,
      srcPort: info.remotePort,
      dstPort: info.localPort,
      ...f,
    });
  }

  /** Drop all events recorded so far. */
  clearEvents(): void {
    this.events.a = [];
    this.events.b = [];
  }
}

export interface CraftFields {
  seq?: number;
  ack?: number;
  flags: number;
  window?: number;
  options?: TcpOption[];
  payload?: Uint8Array;
  id?: number;
}

export function craft(f: CraftFields & { src: Ipv4Addr; dst: Ipv4Addr; srcPort: number; dstPort: number }): Uint8Array {
  return buildTcpPacket(
    { src: f.src, dst: f.dst, id: f.id ?? 0, ttl: 64 },
    {
      srcPort: f.srcPort,
      dstPort: f.dstPort,
      seq: (f.seq ?? 0) >>> 0,
      ack: (f.ack ?? 0) >>> 0,
      flags: f.flags,
      window: f.window ?? 65535,
      ...(f.options !== undefined ? { options: f.options } : {}),
      ...(f.payload !== undefined ? { payload: f.payload } : {}),
    },
  );
}

/** Drain a single stack's transmit queue into parsed segments. */
export function drainSegments(s: Stack): TcpSegment[] {
  const out: TcpSegment[] = [];
  for (let p = s.pollTransmit(); p !== undefined; p = s.pollTransmit()) {
    const parsed = parseTcpPacket(p);
    if (!parsed.ok) throw new Error(`bad packet from stack: ${parsed.reason}`);
    out.push(parsed.segment);
  }
  return out;
}

export function drainEvents(s: Stack): StackEvent[] {
  const out: StackEvent[] = [];
  for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) out.push(e);
  return out;
}

/** tcpdump-like one-liner of a segment, for failure messages. */
export function describe(seg: TcpSegment): string {
  return `${seg.srcPort}>${seg.dstPort} [${formatFlags(seg.flags)}] seq ${seg.seq} ack ${seg.ack} win ${seg.window} len ${seg.payload.length}`;
}

export function bytes(n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n);
  let x = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Read everything buffered on a socket. */
export function readAll(s: Stack, now: number, id: SocketId): Uint8Array {
  const parts: Uint8Array[] = [];
  for (;;) {
    const d = s.read(now, id);
    if (d.length === 0) break;
    parts.push(d);
  }
  return concat(parts);
}

export type { SocketInfo };

/** Byte equality that stays fast on megabytes (vitest's toEqual walks element by element). */
export function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}
