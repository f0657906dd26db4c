/**
 * An in-memory Ethernet segment for EtherHost tests, after a fixed latency, padding short
 * frames to the 60-byte minimum as a NIC does: a hub that delivers every frame to every
 * other port, or a learning bridge (IEEE 802.1D) that sends unicast only to the port where
 * its destination was last seen as a source, as the Linux bridge of a real LAN does. Ports are EtherHosts (each with an echo-or-script app on its stack) or taps
 * that only record and inject. A port may carry a mirror: a second host given exactly the
 * same inputs (the backup of a replicated pair), whose frames are recorded, not sent, and
 * compared with the primary's byte for byte.
 */
import { EtherHost, type EtherHostConfig } from '../../src/tcp/ether-host.js';
import { Stack } from '../../src/tcp/stack.js';
import type { StackConfig, StackEvent } from '../../src/tcp/types.js';
import { ETHERNET_MIN_FRAME_BYTES, isMulticastMac, parseEthernet } from '../../src/wire/ethernet.js';

export const MS = 1000;

export interface Node {
  name: string;
  host: EtherHost;
  stack: Stack;
  /** Every event its stack gave, in order. */
  events: StackEvent[];
  /** Handler for events (socket calls allowed); called for the host and its mirror alike. */
  onEvent?: (stack: Stack, ev: StackEvent) => void;
  /** The backup: same inputs, frames kept in `shadow`, never sent. */
  mirror?: { host: EtherHost; stack: Stack; shadow: Uint8Array[]; events: StackEvent[] };
  /** Frames the primary sent since the mirror was attached, for comparison with `shadow`. */
  sent: Uint8Array[];
  alive: boolean;
}

export interface Tap {
  name: string;
  received: Uint8Array[];
}

interface InFlight {
  at: number;
  order: number;
  to: string;
  bytes: Uint8Array;
}

export function makeNode(name: string, stackConfig: StackConfig, hostConfig: EtherHostConfig): Node {
  const stack = new Stack(stackConfig);
  return { name, stack, host: new EtherHost(stack, hostConfig), events: [], sent: [], alive: true };
}

export class Lan {
  now = 1_000_000;
  /** Every frame put on the segment: time, sender, bytes (as sent, before padding). */
  readonly log: { time: number; from: string; bytes: Uint8Array }[] = [];
  private readonly nodes = new Map<string, Node>();
  private readonly taps = new Map<string, Tap>();
  private inflight: InFlight[] = [];
  private order = 0;

  /** Learning bridge: MAC -> port where it was last a source. */
  private readonly fdb = new Map<number, string>();

  constructor(
    readonly mode: 'hub' | 'bridge' = 'hub',
    readonly latencyUs = 100,
  ) {}

  add(node: Node): Node {
    this.nodes.set(node.name, node);
    return node;
  }

  tap(name: string): Tap {
    const t = { name, received: [] };
    this.taps.set(name, t);
    return t;
  }

  node(name: string): Node {
    return this.nodes.get(name)!;
  }

  /** Puts a frame on the segment from port `from`. */
  send(from: string, bytes: Uint8Array): void {
    this.log.push({ time: this.now, from, bytes });
    const padded = bytes.length < ETHERNET_MIN_FRAME_BYTES ? Uint8Array.from({ length: ETHERNET_MIN_FRAME_BYTES }, (_, i) => bytes[i] ?? 0) : bytes;
    const eth = parseEthernet(bytes);
    let ports = [...this.nodes.keys(), ...this.taps.keys()];
    if (this.mode === 'bridge' && eth.ok) {
      if (!isMulticastMac(eth.header.src)) this.fdb.set(eth.header.src, from);
      const port = this.fdb.get(eth.header.dst);
      if (port !== undefined) ports = [port];
    }
    for (const to of ports) {
      if (to !== from) this.inflight.push({ at: this.now + this.latencyUs, order: this.order++, to, bytes: padded });
    }
  }

  /** Drains every live node's outputs (and its mirror's, compared as they come). */
  flush(): void {
    for (let again = true; again; ) {
      again = false;
      for (const n of this.nodes.values()) {
        if (!n.alive) continue;
        for (let f = n.host.pollTransmit(this.now); f !== undefined; f = n.host.pollTransmit(this.now)) {
          again = true;
          if (n.mirror) n.sent.push(f);
          this.send(n.name, f);
        }
        const m = n.mirror;
        if (m) for (let f = m.host.pollTransmit(this.now); f !== undefined; f = m.host.pollTransmit(this.now)) m.shadow.push(f);
        for (let ev = n.stack.pollEvent(); ev !== undefined; ev = n.stack.pollEvent()) {
          again = true;
          n.events.push(ev);
          n.onEvent?.(n.stack, ev);
        }
        if (m) {
          for (let ev = m.stack.pollEvent(); ev !== undefined; ev = m.stack.pollEvent()) {
            m.events.push(ev);
            n.onEvent?.(m.stack, ev);
          }
        }
      }
    }
  }

  private nextTimeout(): number | undefined {
    let t: number | undefined;
    for (const n of this.nodes.values()) {
      const d = n.alive ? n.host.pollTimeout() : undefined;
      if (d !== undefined && (t === undefined || d < t)) t = d;
    }
    return t;
  }

  /** Advances to the next delivery or deadline and handles it. False when nothing is left. */
  step(limitUs = Infinity): boolean {
    this.flush();
    let next: InFlight | undefined;
    for (const f of this.inflight) if (next === undefined || f.at < next.at || (f.at === next.at && f.order < next.order)) next = f;
    const t = this.nextTimeout();
    const at = Math.min(next?.at ?? Infinity, t ?? Infinity);
    if (at === Infinity || at > limitUs) return false;
    this.now = Math.max(this.now, at);
    if (next !== undefined && next.at === at) {
      this.inflight = this.inflight.filter((f) => f !== next);
      const tap = this.taps.get(next.to);
      if (tap) tap.received.push(next.bytes);
      const n = this.nodes.get(next.to);
      if (n?.alive) {
        n.host.handleFrame(this.now, next.bytes);
        n.mirror?.host.handleFrame(this.now, next.bytes);
      }
    } else {
      for (const n of this.nodes.values()) {
        if (!n.alive) continue;
        const d = n.host.pollTimeout();
        if (n.mirror) expectSame(d, n.mirror.host.pollTimeout(), `${n.name}: mirror deadline`);
        if (d !== undefined && d <= this.now) {
          n.host.handleTimeout(this.now);
          n.mirror?.host.handleTimeout(this.now);
        }
      }
    }
    this.flush();
    return true;
  }

  /** Steps until `done()` or the clock passes `limitUs`. */
  runUntil(done: () => boolean, limitUs = this.now + 60_000 * MS): void {
    while (!done()) if (!this.step(limitUs)) break;
  }

  /** Steps until the clock reaches `untilUs` (or nothing is left to do). */
  runFor(us: number): void {
    const until = this.now + us;
    while (this.step(until));
    this.now = Math.max(this.now, until);
  }
}

function expectSame<T>(a: T, b: T, what: string): void {
  if (a !== b) throw new Error(`${what}: ${String(a)} !== ${String(b)}`);
}

/** An echo app: accepts every connection and writes back whatever it reads. */
export function echoApp(stack: Stack, ev: StackEvent, now: () => number): void {
  if (ev.type === 'incoming') {
    for (let s = stack.accept(ev.socket); s !== undefined; s = stack.accept(ev.socket));
  } else if (ev.type === 'readable') {
    for (let data = stack.read(now(), ev.socket); data.length > 0; data = stack.read(now(), ev.socket)) stack.write(now(), ev.socket, data);
  }
}
