/**
 * The stack's state and the internals its parts share: the plain-data StackState that
 * snapshot() serialises, the indexes derived from it (4-tuples, listeners, the timer
 * schedule, per-connection hashes), and the Ctx the connection code calls back through
 * (segments out, drops, events, ESTABLISHED and CLOSED). The socket API is stack.ts; the
 * LISTEN and CLOSED segment paths are listener.ts.
 */
import { newChallengeAckState, type ChallengeAckState } from './challenge.js';
import { resolveConfig, type ResolvedConfig } from './config.js';
import { cachedPathMtu, type PathMtuEntry } from './icmp.js';
import { newStats } from './info.js';
import { generateIsn, timestampOffset, type IsnKey } from './isn.js';
import { prngNextU32, prngSeed, type PrngState } from './prng.js';
import { KeyedHashes } from './state-hash.js';
import { applyOptions } from './sockopts.js';
import { createTcb, type Ctx, type Tcb, type UserEvent } from './tcb.js';
import { earliest, TimerSchedule } from './timers.js';
import { TupleTable } from './tuples.js';
import { StackError, type ConnectionErrorCode, type DropReason, type SocketId, type SocketOptions, type StackConfig, type StackEvent, type StackStats } from './types.js';
import type { Ipv4Addr } from '../wire/addr.js';
import { buildTcpPacket } from '../wire/packet.js';
import type { TcpSegmentFields } from '../wire/tcp.js';

/** A passive OPEN (RFC 9293 §3.10.1) with its queues. */
export interface Listener {
  id: SocketId;
  /** 0 = any of the stack's addresses. */
  address: Ipv4Addr;
  port: number;
  backlog: number;
  /** Connections in SYN-RECEIVED, oldest first. */
  synQueue: SocketId[];
  /** ESTABLISHED (or later) connections waiting for accept(), oldest first. */
  acceptQueue: SocketId[];
  /** When this listener last answered a SYN with a cookie (µs), or -1: ACKs are checked for cookies only for a while after (syncookie.ts). */
  lastCookieUs: number;
  /** Per-socket options its connections inherit (sockopts.ts); absent when none was set. */
  options?: SocketOptions;
}

/** Everything that changes, as plain data: what snapshot() serialises. */
export interface StackState {
  cfg: ResolvedConfig;
  prng: PrngState;
  isnKey: IsnKey;
  /** Next IPv4 Identification value (a per-stack counter). */
  ipId: number;
  /** Next SocketId. */
  nextId: number;
  stats: StackStats;
  listeners: Map<SocketId, Listener>;
  conns: Map<SocketId, Tcb>;
  events: StackEvent[];
  transmitQueue: Uint8Array[];
  /** RFC 5961 §7 challenge-ACK rate counter (challenge.ts). */
  challenge: ChallengeAckState;
  /** RFC 1191 §5: path MTUs learnt per destination (icmp.ts); absent until the first. */
  pmtuCache?: Map<Ipv4Addr, PathMtuEntry>;
}

/** The state of a new stack. */
export function newStackState(config: StackConfig): StackState {
  const cfg = resolveConfig(config);
  const prng = prngSeed(cfg.seed);
  // RFC 6528 §3: the secret key is drawn once, when the stack is made.
  const isnKey = { k0: prngNextU32(prng), k1: prngNextU32(prng) };
  const ipId = prngNextU32(prng) & 0xffff;
  return {
    cfg,
    prng,
    isnKey,
    ipId,
    nextId: 1,
    stats: newStats(),
    listeners: new Map(),
    conns: new Map(),
    events: [],
    transmitQueue: [],
    challenge: newChallengeAckState(),
  };
}

/**
 * A decoded snapshot's state, completed: state added within snapshot format 2 (RFC 5961
 * §7 counter, RFC 2018 / 2883 report state, quick ACKs) takes its initial values when a
 * build without it took the snapshot.
 */
export function restoredState(st: StackState): StackState {
  st.challenge ??= newChallengeAckState();
  st.cfg.synCookies ??= true;
  st.cfg.profile ??= 'rfc';
  st.cfg.hystart ??= false;
  for (const l of st.listeners.values()) l.lastCookieUs ??= -1;
  for (const tcb of st.conns.values()) {
    tcb.sackRecent ??= [];
    tcb.dsack ??= [];
    tcb.quickAcks ??= 0;
    tcb.lastDataUs ??= -1;
  }
  return st;
}

/** The state and its derived indexes (rebuilt on restore), shared by stack.ts and listener.ts. */
export class StackCore {
  readonly st: StackState;
  readonly cfg: ResolvedConfig;
  readonly tuples = new TupleTable();
  readonly listenIndex = new Map<string, SocketId>();
  readonly timers = new TimerSchedule();
  /** Head of st.events: items before it were polled. */
  eventHead = 0;
  /** Head of st.transmitQueue: items before it were polled. */
  txHead = 0;
  readonly ctx: StackCtx;
  /** stateDigest(): each connection's hash, recomputed when marked. */
  readonly connHashes = new KeyedHashes();

  constructor(st: StackState) {
    this.st = st;
    this.cfg = st.cfg;
    this.ctx = new StackCtx(this);
    for (const l of st.listeners.values()) this.listenIndex.set(`${l.address}:${l.port}`, l.id);
    for (const tcb of st.conns.values()) {
      if (tcb.state !== 'CLOSED') this.tuples.set(tcb.localAddr, tcb.localPort, tcb.remoteAddr, tcb.remotePort, tcb.id);
      this.schedule(tcb); // also marks it dirty: its hash is computed at the first stateDigest()
    }
  }

  /** Emit a segment: wrap in IPv4 and queue it. */
  emit(src: number, dst: number, seg: TcpSegmentFields, tos = 0, dontFragment = true): void {
    const st = this.st;
    const packet = buildTcpPacket({ src, dst, id: st.ipId, ttl: this.cfg.ttl, tos, dontFragment }, seg);
    st.ipId = (st.ipId + 1) & 0xffff;
    st.transmitQueue.push(packet);
    st.stats.packetsOut++;
    st.stats.segmentsOut++;
    st.stats.bytesOut += seg.payload?.length ?? 0;
  }

  drop(reason: DropReason): void {
    const d = this.st.stats.drops;
    d[reason] = (d[reason] ?? 0) + 1;
  }

  /** The TCB changed: its hash is recomputed at the next stateDigest(). */
  touched(tcb: Tcb): void {
    this.connHashes.mark(tcb.id);
  }

  pushEvent(ev: StackEvent): void {
    this.st.events.push(ev);
  }

  /** A connection reached ESTABLISHED. */
  established(tcb: Tcb): void {
    this.st.stats.connectionsOpened++;
    if (tcb.passive && tcb.listenerId >= 0) {
      const l = this.st.listeners.get(tcb.listenerId);
      if (l !== undefined) {
        const i = l.synQueue.indexOf(tcb.id);
        if (i >= 0) l.synQueue.splice(i, 1);
        l.acceptQueue.push(tcb.id);
        this.pushEvent({ type: 'incoming', socket: l.id });
      }
    } else if (tcb.visible) {
      this.pushEvent({ type: 'connected', socket: tcb.id });
    }
  }

  /** A connection reached CLOSED. */
  closed(tcb: Tcb, error?: ConnectionErrorCode): void {
    this.connHashes.mark(tcb.id);
    if (this.tuples.get(tcb.localAddr, tcb.localPort, tcb.remoteAddr, tcb.remotePort) === tcb.id) this.tuples.delete(tcb.localAddr, tcb.localPort, tcb.remoteAddr, tcb.remotePort);
    if (tcb.listenerId >= 0) {
      const l = this.st.listeners.get(tcb.listenerId);
      if (l !== undefined) {
        let i = l.synQueue.indexOf(tcb.id);
        if (i >= 0) l.synQueue.splice(i, 1);
        i = l.acceptQueue.indexOf(tcb.id);
        if (i >= 0) l.acceptQueue.splice(i, 1);
      }
      tcb.listenerId = -1;
    }
    if (!tcb.visible) {
      this.st.conns.delete(tcb.id);
      this.timers.delete(tcb.id);
      return;
    }
    this.pushEvent(error === undefined ? { type: 'closed', socket: tcb.id } : { type: 'closed', socket: tcb.id, error });
    if (tcb.userClosed) this.release(tcb);
  }

  /** Free a connection's handle. */
  release(tcb: Tcb): void {
    this.connHashes.mark(tcb.id);
    this.st.conns.delete(tcb.id);
    this.timers.delete(tcb.id);
  }

  /** Keep the timer schedule in step with a TCB's earliest deadline. */
  schedule(tcb: Tcb): void {
    const id = tcb.id;
    this.connHashes.mark(id); // every path that changes a TCB ends here (or in touched())
    if (tcb.state === 'CLOSED' || !this.st.conns.has(id)) {
      this.timers.delete(id);
      return;
    }
    this.timers.set(id, earliest(tcb.timers));
  }

  /**
   * A TCB for an OPEN (RFC 9293 §3.10.1) with the next SocketId, its ISN (RFC 6528) and
   * timestamp offset: active (SYN-SENT, the user holds it) when listenerId is -1, passive
   * (SYN-RECEIVED, invisible until accepted) otherwise. Not in the tables yet: link() it.
   */
  newTcb(now: number, state: 'SYN-SENT' | 'SYN-RECEIVED', la: number, lp: number, ra: number, rp: number, listenerId: SocketId | -1): Tcb {
    const passive = listenerId >= 0;
    const tcb = createTcb(this.cfg, {
      id: this.st.nextId++,
      state,
      localAddr: la,
      localPort: lp,
      remoteAddr: ra,
      remotePort: rp,
      passive,
      listenerId,
      visible: !passive,
      iss: generateIsn(now, this.st.isnKey, la, lp, ra, rp),
      nowUs: now,
      tsOffset: timestampOffset(this.st.isnKey, la, ra),
    });
    // A passive open inherits its listener's options before the SYN-ACK (window, MSS).
    if (passive) applyOptions(tcb, this.st.listeners.get(listenerId)?.options);
    // RFC 1191 §5: a destination's learnt path MTU applies to its new connections too.
    const pmtu = cachedPathMtu(this.st.pmtuCache, ra, now);
    if (pmtu !== undefined) tcb.pmtu = pmtu;
    return tcb;
  }

  /** Put a TCB in the connection table and the 4-tuple index. */
  link(tcb: Tcb): void {
    this.st.conns.set(tcb.id, tcb);
    this.tuples.set(tcb.localAddr, tcb.localPort, tcb.remoteAddr, tcb.remotePort, tcb.id);
  }

  findListener(addr: number, port: number): Listener | undefined {
    const id = this.listenIndex.get(`${addr}:${port}`) ?? this.listenIndex.get(`0:${port}`);
    return id === undefined ? undefined : this.st.listeners.get(id);
  }
}

/** The Ctx that connection code sees: the stack's config, counters and outputs, and `now`. */
class StackCtx implements Ctx {
  now = 0;
  readonly cfg: ResolvedConfig;
  readonly stats: StackStats;
  readonly challenge: ChallengeAckState;

  constructor(private readonly core: StackCore) {
    this.cfg = core.st.cfg;
    this.stats = core.st.stats;
    this.challenge = core.st.challenge;
  }

  at(now: number): this {
    if (!Number.isFinite(now)) throw new StackError('EINVAL', `now must be a finite number of µs, got ${String(now)}`);
    this.now = now;
    return this;
  }

  transmit(tcb: Tcb, seg: TcpSegmentFields): void {
    this.core.touched(tcb);
    // A socket's TOS byte (RFC 9293 MUST-48) and DF choice; absent: 0 and DF, as before.
    this.core.emit(tcb.localAddr, tcb.remoteAddr, seg, tcb.tos, tcb.noDf !== true);
  }

  drop(reason: DropReason): void {
    this.core.drop(reason);
  }

  event(tcb: Tcb, type: UserEvent): void {
    this.core.touched(tcb);
    if (!tcb.visible) return; // accept() replays what matters
    if (type === 'readable') {
      if (tcb.readablePending) return;
      tcb.readablePending = true;
    } else if (type === 'writable') {
      if (tcb.writablePending) return;
      tcb.writablePending = true;
    }
    this.core.pushEvent({ type, socket: tcb.id });
  }

  onEstablished(tcb: Tcb): void {
    this.core.established(tcb);
  }

  onClosed(tcb: Tcb, error?: ConnectionErrorCode): void {
    this.core.closed(tcb, error);
  }
}
