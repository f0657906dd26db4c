/**
 * The sans-I/O TCP/IPv4 stack: demultiplexing, listeners, the socket table, ports, ISNs,
 * statistics and events around the per-connection state machine (connection.ts).
 *
 * Driving it (quinn-proto style; DESIGN.md, determinism contract):
 *  - inputs: handlePacket(now, bytes), handleTimeout(now), and the socket calls
 *    (listen, connect, write, read, shutdown, close, abort, ...), each with the current
 *    time `now` in integer µs of a monotonic clock where it may cause output;
 *  - after any input, drain the outputs in this order: pollTransmit() until undefined
 *    (whole IPv4 packets to put on the wire), pollEvent() until undefined (socket events;
 *    the handler may make socket calls, after which drain again), then pollTimeout()
 *    (absolute µs of the earliest deadline) and call handleTimeout(t) once the clock
 *    reaches t (calling it early is harmless: only due timers fire).
 *  - getters (info, sockets, stats) and snapshot() never change the state.
 *
 * Handles: listen(), connect() and accept() return SocketIds, never reused. A connection
 * handle stays valid until the connection is CLOSED *and* the user has called close()
 * or abort() on it, like a file descriptor; after close() the connection carries on by
 * itself (FIN-WAIT, TIME-WAIT) and the handle is released when it ends. Every
 * connection the user has seen gets exactly one 'closed' event, also after close().
 * Connections a listener has not handed out yet (SYN-RECEIVED, the accept queue) are
 * invisible: if they die first, nobody is told.
 *
 * Events are coalesced: at most one 'readable' and one 'writable' per socket waits in
 * the queue at a time; read until read() returns an empty array to be sure of getting
 * the next 'readable'.
 */
import { newChallengeAckState, type ChallengeAckState } from './challenge.js';
import { closeTcb, onTimers, segmentArrives, setKeepAlive, userAbort, userClose, userRead, userShutdown } from './connection.js';
import { resolveConfig, type ResolvedConfig } from './config.js';
import { connectionInfo, heldCounts, listenerInfo, newStats, type StackHeld } from './info.js';
import { generateIsn, timestampOffset, type IsnKey } from './isn.js';
import { negotiate } from './options.js';
import { prngBelow, prngNextU32, prngSeed, type PrngState } from './prng.js';
import { receiveSyn } from './receiver.js';
import { output, queueData } from './sender.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';
import { finish, KeyedHashes, mixValue } from './state-hash.js';
import { COOKIE_CHECK_US, cookieSynAck, cookieTcb } from './syncookie.js';
import { createTcb, type Ctx, type Tcb, type UserEvent } from './tcb.js';
import { DeadlineHeap, earliest } from './timers.js';
import {
  StackError,
  type ConnectOptions,
  type ConnectionErrorCode,
  type DropReason,
  type ListenOptions,
  type SocketId,
  type SocketInfo,
  type StackConfig,
  type StackEvent,
  type StackStats,
} from './types.js';
import type { Ipv4Addr } from '../wire/addr.js';
import { TupleTable } from './tuples.js';
import { buildTcpPacket, parseTcpPacket } from '../wire/packet.js';
import { seqAdd } from '../wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment, type TcpSegmentFields } from '../wire/tcp.js';

export type { StackHeld } from './info.js';

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
}

/** Private constructor argument of restore(). */
const RESTORE = Symbol('restore');

const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_COUNT = 65536 - EPHEMERAL_FIRST;

function isPort(p: unknown): p is number {
  return typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;
}

/** Source addresses a segment must never come from (RFC 1122 4.2.3.10, RFC 9293 §3.10.7.2). */
function badSource(addr: number): boolean {
  return addr === 0 || addr === 0xffffffff || addr >>> 28 === 0xe;
}

export class Stack {
  private readonly st: StackState;
  private readonly cfg: ResolvedConfig;
  // Derived indexes, rebuilt on restore.
  private readonly tuples = new TupleTable();
  private readonly listenIndex = new Map<string, SocketId>();
  private readonly heap = new DeadlineHeap();
  private readonly heapDeadline = new Map<SocketId, number>();
  private eventHead = 0;
  private txHead = 0;
  private readonly ctx: StackCtx;
  /** stateDigest(): each connection's hash, recomputed when marked (derived, rebuilt on restore). */
  private readonly connHashes = new KeyedHashes();

  /** A new stack. (Stack.restore() makes one from a snapshot instead.) */
  constructor(config: StackConfig) {
    const restoring = config !== null && typeof config === 'object' ? (config as unknown as { [RESTORE]?: StackState })[RESTORE] : undefined;
    if (restoring !== undefined) {
      this.st = restoring;
      // State added within snapshot format 2 (RFC 5961 §7 counter, RFC 2018 / 2883 report
      // state, quick ACKs): a snapshot taken by a build without it restores with the
      // initial values.
      this.st.challenge ??= newChallengeAckState();
      this.st.cfg.synCookies ??= true;
      for (const l of this.st.listeners.values()) l.lastCookieUs ??= -1;
      for (const tcb of this.st.conns.values()) {
        tcb.sackRecent ??= [];
        tcb.dsack ??= [];
        tcb.quickAcks ??= 0;
        tcb.lastDataUs ??= -1;
      }
    } else {
      const cfg = resolveConfig(config);
      const prng = prngSeed(cfg.seed);
      // RFC 6528 §3: the secret key is drawn once, when the stack is made.
      const isnKey = { k0: prngNextU32(prng), k1: prngNextU32(prng) };
      const ipId = prngNextU32(prng) & 0xffff;
      this.st = {
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
    this.cfg = this.st.cfg;
    this.ctx = new StackCtx(this);
    for (const l of this.st.listeners.values()) this.listenIndex.set(`${l.address}:${l.port}`, l.id);
    for (const tcb of this.st.conns.values()) {
      if (tcb.state !== 'CLOSED') this.tuples.set(tcb.localAddr, tcb.localPort, tcb.remoteAddr, tcb.remotePort, tcb.id);
      this.schedule(tcb); // also marks it dirty: its hash is computed at the first stateDigest()
    }
  }

  // ---------------------------------------------------------------- driving

  /** An inbound IPv4 packet. Never throws: anything wrong with it is a counted drop. */
  handlePacket(now: number, bytes: Uint8Array): void {
    const ctx = this.ctx.at(now);
    if (!(bytes instanceof Uint8Array)) throw new StackError('EINVAL', 'handlePacket: bytes must be a Uint8Array');
    const stats = this.st.stats;
    stats.packetsIn++;
    const parsed = parseTcpPacket(bytes);
    if (!parsed.ok) {
      this.drop(parsed.reason);
      return;
    }
    const { ip, segment: seg } = parsed;
    if (!this.cfg.addresses.includes(ip.dst)) {
      this.drop('not-for-us');
      return;
    }
    stats.segmentsIn++;
    if (seg.srcPort === 0 || seg.dstPort === 0) {
      this.drop('bad-port');
      return;
    }
    if (badSource(ip.src)) {
      this.drop('other');
      return;
    }
    const id = this.tuples.get(ip.dst, seg.dstPort, ip.src, seg.srcPort);
    if (id !== undefined) {
      const tcb = this.st.conns.get(id)!;
      if (tcb.state === 'TIME-WAIT' && this.reopensTimeWait(tcb, seg)) {
        const listener = this.findListener(ip.dst, seg.dstPort);
        if (listener !== undefined) {
          // RFC 1122 4.2.2.13: a new SYN with a higher sequence number may end TIME-WAIT.
          closeTcb(ctx, tcb);
          this.listenSegment(listener, ip.dst, ip.src, seg);
          return;
        }
      }
      segmentArrives(ctx, tcb, seg);
      this.schedule(tcb);
      return;
    }
    const listener = this.findListener(ip.dst, seg.dstPort);
    if (listener !== undefined) this.listenSegment(listener, ip.dst, ip.src, seg);
    else this.closedSegment(ip.dst, ip.src, seg);
  }

  /** Fire every timer due at `now`, in (deadline, socket id) order. */
  handleTimeout(now: number): void {
    const ctx = this.ctx.at(now);
    for (;;) {
      const d = this.heap.peekDeadline();
      if (d === undefined || d > now) break;
      const id = this.heap.peekId()!;
      this.heap.pop();
      const tcb = this.st.conns.get(id);
      if (tcb === undefined || this.heapDeadline.get(id) !== d) continue; // stale entry
      this.heapDeadline.delete(id);
      onTimers(ctx, tcb);
      this.schedule(tcb);
    }
  }

  /** The next packet to send (a whole IPv4 packet), or undefined. */
  pollTransmit(): Uint8Array | undefined {
    const q = this.st.transmitQueue;
    if (this.txHead >= q.length) return undefined;
    const p = q[this.txHead++]!;
    if (this.txHead > 1024 && this.txHead * 2 > q.length) {
      q.splice(0, this.txHead);
      this.txHead = 0;
    } else if (this.txHead === q.length) {
      q.length = 0;
      this.txHead = 0;
    }
    return p;
  }

  /** The next socket event, or undefined. */
  pollEvent(): StackEvent | undefined {
    const q = this.st.events;
    if (this.eventHead >= q.length) return undefined;
    const ev = q[this.eventHead++]!;
    if (this.eventHead === q.length) {
      q.length = 0;
      this.eventHead = 0;
    } else if (this.eventHead > 1024 && this.eventHead * 2 > q.length) {
      q.splice(0, this.eventHead);
      this.eventHead = 0;
    }
    if (ev.type === 'readable' || ev.type === 'writable') {
      const tcb = this.st.conns.get(ev.socket);
      if (tcb !== undefined) {
        if (ev.type === 'readable') tcb.readablePending = false;
        else tcb.writablePending = false;
        this.connHashes.mark(tcb.id);
      }
    }
    return ev;
  }

  /** Absolute time (µs) of the earliest armed timer, or undefined. */
  pollTimeout(): number | undefined {
    for (;;) {
      const d = this.heap.peekDeadline();
      if (d === undefined) return undefined;
      const id = this.heap.peekId()!;
      if (this.st.conns.has(id) && this.heapDeadline.get(id) === d) return d;
      this.heap.pop();
    }
  }

  // ---------------------------------------------------------------- socket calls

  /** Passive OPEN (RFC 9293 §3.10.1). */
  listen(_now: number, opts: ListenOptions): SocketId {
    if (!isPort(opts.port)) throw new StackError('EINVAL', `listen: bad port ${String(opts.port)}`);
    const address = opts.address ?? 0;
    if (address !== 0 && !this.cfg.addresses.includes(address)) {
      throw new StackError('EADDRNOTAVAIL', `listen: ${address} is not a local address`);
    }
    const backlog = opts.backlog ?? this.cfg.listenBacklog;
    if (!Number.isInteger(backlog) || backlog < 1) throw new StackError('EINVAL', `listen: bad backlog ${String(backlog)}`);
    for (const l of this.st.listeners.values()) {
      if (l.port === opts.port && (l.address === address || l.address === 0 || address === 0)) {
        throw new StackError('EADDRINUSE', `listen: port ${opts.port} already has a listener`);
      }
    }
    const id = this.st.nextId++;
    this.st.listeners.set(id, { id, address, port: opts.port, backlog, synQueue: [], acceptQueue: [], lastCookieUs: -1 });
    this.listenIndex.set(`${address}:${opts.port}`, id);
    return id;
  }

  /** The oldest established connection of a listener, or undefined when there is none. */
  accept(listener: SocketId): SocketId | undefined {
    const l = this.st.listeners.get(listener);
    if (l === undefined) {
      if (this.st.conns.has(listener)) throw new StackError('EINVAL', `accept: socket ${listener} is not a listener`);
      throw new StackError('EBADF', `accept: no socket ${listener}`);
    }
    const id = l.acceptQueue.shift();
    if (id === undefined) return undefined;
    const tcb = this.st.conns.get(id)!;
    tcb.listenerId = -1;
    tcb.visible = true;
    this.connHashes.mark(id);
    this.pushEvent({ type: 'connected', socket: id });
    if (tcb.rcvBuf.length > 0) this.ctx.event(tcb, 'readable');
    if (tcb.finReceived) this.pushEvent({ type: 'eof', socket: id });
    return id;
  }

  /** Active OPEN (RFC 9293 §3.10.1): sends a SYN. */
  connect(now: number, opts: ConnectOptions): SocketId {
    const ra = opts.remoteAddress;
    if (typeof ra !== 'number' || !Number.isInteger(ra) || ra <= 0 || ra > 0xffffffff || badSource(ra)) {
      throw new StackError('EINVAL', `connect: bad remote address ${String(ra)}`);
    }
    if (!isPort(opts.remotePort)) throw new StackError('EINVAL', `connect: bad remote port ${String(opts.remotePort)}`);
    const la = opts.localAddress ?? this.cfg.addresses[0]!;
    if (!this.cfg.addresses.includes(la)) throw new StackError('EADDRNOTAVAIL', `connect: ${la} is not a local address`);
    if (this.tuples.size >= this.cfg.maxConnections) {
      throw new StackError('EMFILE', `connect: maxConnections (${this.cfg.maxConnections}) reached`);
    }
    let lp: number;
    if (opts.localPort !== undefined) {
      if (!isPort(opts.localPort)) throw new StackError('EINVAL', `connect: bad local port ${String(opts.localPort)}`);
      lp = opts.localPort;
      if (this.tuples.has(la, lp, ra, opts.remotePort)) {
        throw new StackError('EADDRINUSE', `connect: connection ${la}:${lp} -> ${ra}:${opts.remotePort} exists`);
      }
    } else {
      lp = this.ephemeralPort(la, ra, opts.remotePort);
    }
    const ctx = this.ctx.at(now);
    const id = this.st.nextId++;
    const iss = generateIsn(now, this.st.isnKey, la, lp, ra, opts.remotePort);
    const tcb = createTcb(this.cfg, {
      id,
      state: 'SYN-SENT',
      localAddr: la,
      localPort: lp,
      remoteAddr: ra,
      remotePort: opts.remotePort,
      passive: false,
      listenerId: -1,
      visible: true,
      iss,
      nowUs: now,
      tsOffset: timestampOffset(this.st.isnKey, la, ra),
    });
    this.st.conns.set(id, tcb);
    this.tuples.set(la, lp, ra, opts.remotePort, id);
    this.st.stats.connectionsActive++;
    output(ctx, tcb);
    this.schedule(tcb);
    return id;
  }

  /** SEND (RFC 9293 §3.10.2): queue bytes; returns how many the send buffer took (maybe 0). */
  write(now: number, s: SocketId, bytes: Uint8Array): number {
    const tcb = this.conn(s, 'write');
    if (tcb.userClosed) throw new StackError('EBADF', `write: socket ${s} was closed`);
    if (tcb.finQueued) throw new StackError('EPIPE', `write: socket ${s} was shut down for writing`);
    switch (tcb.state) {
      case 'SYN-SENT':
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
      case 'CLOSE-WAIT':
        break;
      case 'CLOSED':
        throw new StackError('ENOTCONN', `write: socket ${s} is closed`);
      default:
        throw new StackError('EPIPE', `write: socket ${s} is closing (${tcb.state})`);
    }
    if (!(bytes instanceof Uint8Array)) throw new StackError('EINVAL', 'write: bytes must be a Uint8Array');
    if (bytes.length === 0) return 0;
    const n = queueData(tcb, bytes);
    output(this.ctx.at(now), tcb);
    this.schedule(tcb);
    return n;
  }

  /** RECEIVE (RFC 9293 §3.10.3): up to maxBytes buffered bytes (empty when none). */
  read(now: number, s: SocketId, maxBytes?: number): Uint8Array {
    const tcb = this.conn(s, 'read');
    if (tcb.userClosed) throw new StackError('EBADF', `read: socket ${s} was closed`);
    const max = maxBytes ?? tcb.rcvBuf.length;
    if (!Number.isInteger(max) || max < 0) throw new StackError('EINVAL', `read: bad maxBytes ${String(maxBytes)}`);
    const data = userRead(this.ctx.at(now), tcb, max);
    this.schedule(tcb);
    return data;
  }

  /** Half-close: a FIN goes after the queued data; reading continues. */
  shutdown(now: number, s: SocketId): void {
    const tcb = this.conn(s, 'shutdown');
    if (tcb.userClosed) throw new StackError('EBADF', `shutdown: socket ${s} was closed`);
    if (tcb.state === 'CLOSED') throw new StackError('ENOTCONN', `shutdown: socket ${s} is closed`);
    userShutdown(this.ctx.at(now), tcb);
    this.schedule(tcb);
  }

  /**
   * CLOSE (RFC 9293 §3.10.4). A listener stops and resets its unaccepted connections. A
   * connection sends its FIN after the queued data (or a RST when received data is
   * unread, RFC 1122 4.2.2.13) and the handle is released when it reaches CLOSED.
   */
  close(now: number, s: SocketId): void {
    if (this.st.listeners.has(s)) {
      this.closeListener(now, s);
      return;
    }
    const tcb = this.conn(s, 'close');
    if (tcb.userClosed) throw new StackError('EBADF', `close: socket ${s} was already closed`);
    if (tcb.state === 'CLOSED') {
      tcb.userClosed = true;
      this.release(tcb);
      return;
    }
    userClose(this.ctx.at(now), tcb);
    this.schedule(tcb);
  }

  /** ABORT (RFC 9293 §3.10.5): RST if synchronized, the connection ends at once. */
  abort(now: number, s: SocketId): void {
    if (this.st.listeners.has(s)) {
      this.closeListener(now, s);
      return;
    }
    const tcb = this.conn(s, 'abort');
    if (tcb.state === 'CLOSED') {
      tcb.userClosed = true;
      this.release(tcb);
      return;
    }
    userAbort(this.ctx.at(now), tcb);
    this.schedule(tcb);
  }

  /** Nagle off (on = true) or on (RFC 1122 4.2.3.4); takes effect at the next output. */
  setNoDelay(s: SocketId, on: boolean): void {
    this.conn(s, 'setNoDelay').noDelay = on;
    this.connHashes.mark(s);
  }

  /** Keep-alive probes (RFC 1122 4.2.3.6) on or off; timings from the config. */
  setKeepAlive(s: SocketId, on: boolean): void {
    const tcb = this.conn(s, 'setKeepAlive');
    if (tcb.state === 'CLOSED') return;
    setKeepAlive(this.ctx, tcb, on);
    this.schedule(tcb);
  }

  info(s: SocketId): SocketInfo {
    const l = this.st.listeners.get(s);
    if (l !== undefined) return listenerInfo(s, l.address, l.port);
    return connectionInfo(this.conn(s, 'info'));
  }

  /** Every handle the user may pass: listeners and the connections it holds, ascending. */
  sockets(): SocketId[] {
    const ids: SocketId[] = [...this.st.listeners.keys()];
    for (const t of this.st.conns.values()) if (t.visible) ids.push(t.id);
    return ids.sort((a, b) => a - b);
  }

  stats(): StackStats {
    return { ...this.st.stats, drops: { ...this.st.stats.drops } };
  }

  /** What the stack holds right now, by count (O(connections)); never changes the state. */
  held(): StackHeld {
    return heldCounts(this.st.conns.values(), this.st.listeners.values(), this.st.transmitQueue.length - this.txHead, this.st.events.length - this.eventHead);
  }

  /**
   * A 32-bit digest of the whole state (what snapshot() holds), for the replicas'
   * divergence check: equal states give equal digests, whatever their history, and a
   * stack restored from a snapshot gives the original's. It costs O(connections changed
   * since the last call), not O(connections): each connection's hash is kept and
   * recomputed only when the stack touched it, and the hashes are summed (state-hash.ts),
   * so their order does not matter. Never changes the state.
   */
  stateDigest(): number {
    let h = this.connHashes.value((id) => this.st.conns.get(id));
    for (const [key, value] of Object.entries(this.st)) {
      if (key === 'conns') continue;
      // Queues count from their heads, as in snapshot().
      const v = key === 'events' ? this.st.events.slice(this.eventHead) : key === 'transmitQueue' ? this.st.transmitQueue.slice(this.txHead) : value;
      h = mixValue(mixValue(h, key), v);
    }
    return finish(h);
  }

  /** The whole state as a versioned, checksummed byte value (snapshot.ts). */
  snapshot(): Uint8Array {
    // Queues are saved from their heads, so the restored stack polls the same items.
    const state: StackState = {
      ...this.st,
      events: this.st.events.slice(this.eventHead),
      transmitQueue: this.st.transmitQueue.slice(this.txHead),
    };
    return encodeSnapshot(state);
  }

  /** A stack in the state a snapshot() recorded. Corrupt bytes: StackError EINVAL. */
  static restore(bytes: Uint8Array): Stack {
    return new Stack({ [RESTORE]: decodeSnapshot(bytes) } as unknown as StackConfig);
  }

  // ---------------------------------------------------------------- internals used by StackCtx

  /** @internal */
  state(): StackState {
    return this.st;
  }

  /** @internal Emit a segment: wrap in IPv4 and queue it. */
  emit(src: number, dst: number, seg: TcpSegmentFields): void {
    const st = this.st;
    const packet = buildTcpPacket({ src, dst, id: st.ipId, ttl: this.cfg.ttl, dontFragment: true }, seg);
    st.ipId = (st.ipId + 1) & 0xffff;
    st.transmitQueue.push(packet);
    st.stats.packetsOut++;
    st.stats.segmentsOut++;
    st.stats.bytesOut += seg.payload?.length ?? 0;
  }

  /** @internal */
  drop(reason: DropReason): void {
    const d = this.st.stats.drops;
    d[reason] = (d[reason] ?? 0) + 1;
  }

  /** @internal The TCB changed: its hash is recomputed at the next stateDigest(). */
  touched(tcb: Tcb): void {
    this.connHashes.mark(tcb.id);
  }

  /** @internal */
  pushEvent(ev: StackEvent): void {
    this.st.events.push(ev);
  }

  /** @internal A connection reached ESTABLISHED. */
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

  /** @internal A connection reached CLOSED. */
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
      this.heapDeadline.delete(tcb.id);
      return;
    }
    this.pushEvent(error === undefined ? { type: 'closed', socket: tcb.id } : { type: 'closed', socket: tcb.id, error });
    if (tcb.userClosed) this.release(tcb);
  }

  // ---------------------------------------------------------------- private

  private release(tcb: Tcb): void {
    this.connHashes.mark(tcb.id);
    this.st.conns.delete(tcb.id);
    this.heapDeadline.delete(tcb.id);
  }

  private conn(s: SocketId, call: string): Tcb {
    const tcb = this.st.conns.get(s);
    if (tcb === undefined || !tcb.visible) {
      if (this.st.listeners.has(s)) throw new StackError('EINVAL', `${call}: socket ${s} is a listener`);
      throw new StackError('EBADF', `${call}: no socket ${String(s)}`);
    }
    return tcb;
  }

  /** Keep the timer heap in step with a TCB's earliest deadline (O(log n) per change). */
  private schedule(tcb: Tcb): void {
    const id = tcb.id;
    this.connHashes.mark(id); // every path that changes a TCB ends here (or in touched())
    if (tcb.state === 'CLOSED' || !this.st.conns.has(id)) {
      this.heapDeadline.delete(id);
      return;
    }
    const e = earliest(tcb.timers);
    if (e < 0) {
      this.heapDeadline.delete(id);
      return;
    }
    if (this.heapDeadline.get(id) === e) return;
    this.heapDeadline.set(id, e);
    this.heap.push(e, id);
    if (this.heap.size > 4 * this.heapDeadline.size + 1024) this.rebuildHeap();
  }

  private rebuildHeap(): void {
    this.heap.clear();
    for (const [id, d] of this.heapDeadline) this.heap.push(d, id);
  }

  private findListener(addr: number, port: number): Listener | undefined {
    const id = this.listenIndex.get(`${addr}:${port}`) ?? this.listenIndex.get(`0:${port}`);
    return id === undefined ? undefined : this.st.listeners.get(id);
  }

  private reopensTimeWait(tcb: Tcb, seg: TcpSegment): boolean {
    const f = seg.flags;
    return (f & TCP_SYN) !== 0 && (f & (TCP_ACK | TCP_RST)) === 0 && ((seg.seq - tcb.rcvNxt) | 0) > 0;
  }

  /** Ephemeral port from the PRNG (RFC 6056 style: random start, then the next free one). */
  private ephemeralPort(la: number, ra: number, rp: number): number {
    const start = prngBelow(this.st.prng, EPHEMERAL_COUNT);
    for (let i = 0; i < EPHEMERAL_COUNT; i++) {
      const port = EPHEMERAL_FIRST + ((start + i) % EPHEMERAL_COUNT);
      if (this.tuples.has(la, port, ra, rp)) continue;
      if (this.findListener(la, port) !== undefined) continue;
      return port;
    }
    throw new StackError('EADDRNOTAVAIL', 'connect: no ephemeral port left for this destination');
  }

  private closeListener(now: number, id: SocketId): void {
    const l = this.st.listeners.get(id)!;
    this.st.listeners.delete(id);
    const key = `${l.address}:${l.port}`;
    if (this.listenIndex.get(key) === id) this.listenIndex.delete(key);
    // Connections nobody accepted are reset (as Linux does when a listener closes).
    const ctx = this.ctx.at(now);
    for (const cid of [...l.synQueue, ...l.acceptQueue]) {
      const tcb = this.st.conns.get(cid);
      if (tcb === undefined) continue;
      tcb.listenerId = -1;
      this.connHashes.mark(cid);
      userAbort(ctx, tcb);
    }
  }

  /** RFC 9293 §3.10.7.1: a segment for no connection and no listener. */
  private closedSegment(local: number, remote: number, seg: TcpSegment): void {
    if (seg.flags & TCP_RST) {
      this.drop('rst-ignored'); // "An incoming segment containing a RST is discarded."
      return;
    }
    this.sendReset(local, remote, seg);
  }

  /**
   * The reset for a segment that belongs to nothing (RFC 9293 §3.10.7.1):
   * ACK off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; ACK on: <SEQ=SEG.ACK><CTL=RST>.
   */
  private sendReset(local: number, remote: number, seg: TcpSegment): void {
    const base = { srcPort: seg.dstPort, dstPort: seg.srcPort, window: 0 };
    if (seg.flags & TCP_ACK) {
      this.emit(local, remote, { ...base, seq: seg.ack, ack: 0, flags: TCP_RST });
    } else {
      const segLen = seg.payload.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
      this.emit(local, remote, { ...base, seq: 0, ack: seqAdd(seg.seq, segLen), flags: TCP_RST | TCP_ACK });
    }
    this.st.stats.resetsSent++;
  }

  /** RFC 4987 §3.6: a stateless SYN-ACK whose ISN is a cookie (syncookie.ts). */
  private sendCookie(l: Listener, local: number, remote: number, seg: TcpSegment): void {
    this.emit(local, remote, cookieSynAck(this.cfg, this.st.isnKey, this.ctx.now, local, remote, seg));
    l.lastCookieUs = this.ctx.now;
    this.st.stats.synCookiesSent = (this.st.stats.synCookiesSent ?? 0) + 1;
  }

  /**
   * An ACK at a listener that sent cookies lately: if it carries a good cookie, make the
   * connection and let it process the ACK (and any data on it). False when it does not
   * (the caller answers with a RST).
   */
  private cookieAck(l: Listener, local: number, remote: number, seg: TcpSegment): boolean {
    const ctx = this.ctx;
    if (!this.cfg.synCookies || l.lastCookieUs < 0 || ctx.now - l.lastCookieUs > COOKIE_CHECK_US) return false;
    const stats = this.st.stats;
    const tcb = cookieTcb(this.cfg, this.st.isnKey, ctx.now, local, remote, seg, this.st.nextId, l.id);
    if (tcb === undefined) {
      stats.synCookiesFailed = (stats.synCookiesFailed ?? 0) + 1;
      return false;
    }
    if (l.acceptQueue.length >= l.backlog) this.drop('listen-backlog-full');
    else if (this.tuples.size >= this.cfg.maxConnections) this.drop('too-many-connections');
    else {
      stats.synCookiesValidated = (stats.synCookiesValidated ?? 0) + 1;
      this.st.nextId++;
      this.st.conns.set(tcb.id, tcb);
      this.tuples.set(local, seg.dstPort, remote, seg.srcPort, tcb.id);
      stats.connectionsPassive++;
      segmentArrives(ctx, tcb, seg);
      // It always completes (SEG.ACK = ISS + 1 by construction); a cookie connection has no
      // SYN-ACK to retransmit, so one that did not must not linger.
      if (tcb.state === 'SYN-RECEIVED') closeTcb(ctx, tcb);
      this.schedule(tcb);
    }
    return true;
  }

  /** RFC 9293 §3.10.7.2: SEGMENT ARRIVES in LISTEN. */
  private listenSegment(l: Listener, local: number, remote: number, seg: TcpSegment): void {
    // First, check for a RST: ignore it.
    if (seg.flags & TCP_RST) {
      this.drop('rst-ignored');
      return;
    }
    // Second, check for an ACK: <SEQ=SEG.ACK><CTL=RST> (unless it completes a SYN cookie handshake).
    if (seg.flags & TCP_ACK) {
      if (!(seg.flags & TCP_SYN) && this.cookieAck(l, local, remote, seg)) return;
      this.sendReset(local, remote, seg);
      return;
    }
    // Third, check for a SYN.
    if (!(seg.flags & TCP_SYN)) {
      this.drop('other'); // fourth: other text or control, drop it
      return;
    }
    if (l.synQueue.length + l.acceptQueue.length >= l.backlog) {
      // RFC 4987 §3.6: the SYN queue is full: answer with a cookie and hold nothing, unless
      // the accept queue alone is full (a completed connection would have nowhere to go).
      if (this.cfg.synCookies && l.acceptQueue.length < l.backlog) this.sendCookie(l, local, remote, seg);
      else this.drop('listen-backlog-full');
      return;
    }
    if (this.tuples.size >= this.cfg.maxConnections) {
      this.drop('too-many-connections');
      return;
    }
    const ctx = this.ctx;
    const id = this.st.nextId++;
    const iss = generateIsn(ctx.now, this.st.isnKey, local, seg.dstPort, remote, seg.srcPort);
    const tcb = createTcb(this.cfg, {
      id,
      state: 'SYN-RECEIVED',
      localAddr: local,
      localPort: seg.dstPort,
      remoteAddr: remote,
      remotePort: seg.srcPort,
      passive: true,
      listenerId: l.id,
      visible: false,
      iss,
      nowUs: ctx.now,
      tsOffset: timestampOffset(this.st.isnKey, local, remote),
    });
    // RCV.NXT = SEG.SEQ + 1, IRS = SEG.SEQ; options; then <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
    // Text on the SYN is not acknowledged (the peer sends it again once synchronized).
    receiveSyn(tcb, seg.seq);
    negotiate(tcb, seg.options, this.cfg, ctx.now);
    this.st.conns.set(id, tcb);
    this.tuples.set(local, seg.dstPort, remote, seg.srcPort, id);
    l.synQueue.push(id);
    this.st.stats.connectionsPassive++;
    output(ctx, tcb);
    this.schedule(tcb);
  }
}

/** The Ctx that connection code sees: the stack's config, counters and outputs, and `now`. */
class StackCtx implements Ctx {
  now = 0;
  readonly cfg: ResolvedConfig;
  readonly stats: StackStats;
  readonly challenge: ChallengeAckState;

  constructor(private readonly stack: Stack) {
    this.cfg = stack.state().cfg;
    this.stats = stack.state().stats;
    this.challenge = stack.state().challenge;
  }

  at(now: number): this {
    if (!Number.isFinite(now)) throw new StackError('EINVAL', `now must be a finite number of µs, got ${String(now)}`);
    this.now = now;
    return this;
  }

  transmit(tcb: Tcb, seg: TcpSegmentFields): void {
    this.stack.touched(tcb);
    this.stack.emit(tcb.localAddr, tcb.remoteAddr, seg);
  }

  drop(reason: DropReason): void {
    this.stack.drop(reason);
  }

  event(tcb: Tcb, type: UserEvent): void {
    this.stack.touched(tcb);
    if (!tcb.visible) return; // accept() replays what matters
    if (type === 'readable') {
      if (tcb.readablePending) return;
      tcb.readablePending = true;
    } else if (type === 'writable') {
      if (tcb.writablePending) return;
      tcb.writablePending = true;
    }
    this.stack.pushEvent({ type, socket: tcb.id });
  }

  onEstablished(tcb: Tcb): void {
    this.stack.established(tcb);
  }

  onClosed(tcb: Tcb, error?: ConnectionErrorCode): void {
    this.stack.closed(tcb, error);
  }
}
