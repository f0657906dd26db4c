/**
 * The sans-I/O TCP/IPv4 stack: demultiplexing, the socket API, polling, snapshot and
 * digest, around the per-connection state machine (connection.ts). The state, its indexes
 * and the Ctx the connections call back through are stack-core.ts; LISTEN and CLOSED
 * segments, SYN cookies and ephemeral ports are listener.ts.
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
import { closeTcb, onTimers, segmentArrives, setKeepAlive, userAbort, userClose, userRead, userShutdown } from './connection.js';
import type { ResolvedConfig } from './config.js';
import { icmpArrives } from './icmp.js';
import { connectionInfo, heldCounts, listenerInfo, type StackHeld } from './info.js';
import { closedSegment, closeListener, ephemeralPort, listenSegment, reopensTimeWait } from './listener.js';
import { dropUnsentWriteEnd, notePush, noteWriteEnd } from './profile.js';
import { noteRecordEnd } from './records.js';
import { output, queueData, retransmitAtGoLive } from './sender.js';
import { linuxAccounting, linuxQueue } from './sndbuf.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';
import { applyOptions, filledOptions, mergeOptions, tcbOptions, validateOptions } from './sockopts.js';
import { newStackState, restoredState, StackCore, type StackState } from './stack-core.js';
import { finish, mixValue } from './state-hash.js';
import type { Tcb } from './tcb.js';
import {
  StackError,
  type ConnectOptions,
  type ListenOptions,
  type SocketId,
  type SocketInfo,
  type SocketOptions,
  type StackConfig,
  type StackEvent,
  type StackStats,
} from './types.js';
import { parseTcpPacket } from '../wire/packet.js';

export type { StackHeld } from './info.js';
export type { Listener, StackState } from './stack-core.js';

/** Private constructor argument of restore(). */
const RESTORE = Symbol('restore');

function isPort(p: unknown): p is number {
  return typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;
}

/** Source addresses a segment must never come from (RFC 1122 4.2.3.10, RFC 9293 §3.10.7.2). */
function badSource(addr: number): boolean {
  return addr === 0 || addr === 0xffffffff || addr >>> 28 === 0xe;
}

export class Stack {
  /** The state and its derived indexes (stack-core.ts). */
  private readonly core: StackCore;
  private readonly st: StackState;
  private readonly cfg: ResolvedConfig;

  /** A new stack. (Stack.restore() makes one from a snapshot instead.) */
  constructor(config: StackConfig) {
    const restoring = config !== null && typeof config === 'object' ? (config as unknown as { [RESTORE]?: StackState })[RESTORE] : undefined;
    this.core = new StackCore(restoring !== undefined ? restoredState(restoring) : newStackState(config));
    this.st = this.core.st;
    this.cfg = this.core.cfg;
  }

  // ---------------------------------------------------------------- driving

  /** An inbound IPv4 packet. Never throws: anything wrong with it is a counted drop. */
  handlePacket(now: number, bytes: Uint8Array): void {
    const ctx = this.core.ctx.at(now);
    if (!(bytes instanceof Uint8Array)) throw new StackError('EINVAL', 'handlePacket: bytes must be a Uint8Array');
    const stats = this.st.stats;
    stats.packetsIn++;
    const parsed = parseTcpPacket(bytes);
    if (!parsed.ok) {
      // RFC 1122 4.2.3.9: ICMP errors are passed to the connection they name (icmp.ts).
      if (parsed.reason === 'not-tcp' && icmpArrives(this.core, now, bytes)) return;
      this.core.drop(parsed.reason);
      return;
    }
    const { ip, segment: seg } = parsed;
    if (!this.cfg.addresses.includes(ip.dst)) {
      this.core.drop('not-for-us');
      return;
    }
    stats.segmentsIn++;
    if (seg.srcPort === 0 || seg.dstPort === 0) {
      this.core.drop('bad-port');
      return;
    }
    if (badSource(ip.src)) {
      this.core.drop('other');
      return;
    }
    const id = this.core.tuples.get(ip.dst, seg.dstPort, ip.src, seg.srcPort);
    if (id !== undefined) {
      const tcb = this.st.conns.get(id)!;
      if (tcb.state === 'TIME-WAIT' && reopensTimeWait(tcb, seg)) {
        const listener = this.core.findListener(ip.dst, seg.dstPort);
        if (listener !== undefined) {
          // RFC 1122 4.2.2.13: a new SYN with a higher sequence number may end TIME-WAIT.
          closeTcb(ctx, tcb);
          listenSegment(this.core, listener, ip.dst, ip.src, seg);
          return;
        }
      }
      segmentArrives(ctx, tcb, seg);
      this.core.schedule(tcb);
      return;
    }
    const listener = this.core.findListener(ip.dst, seg.dstPort);
    if (listener !== undefined) listenSegment(this.core, listener, ip.dst, ip.src, seg);
    else closedSegment(this.core, ip.dst, ip.src, seg);
  }

  /** Fire every timer due at `now`, in (deadline, socket id) order. */
  handleTimeout(now: number): void {
    const ctx = this.core.ctx.at(now);
    const conns = this.st.conns;
    for (;;) {
      const id = this.core.timers.popDue(now, (i) => conns.has(i));
      if (id === undefined) break;
      const tcb = conns.get(id)!;
      onTimers(ctx, tcb);
      this.core.schedule(tcb);
    }
  }

  /** The next packet to send (a whole IPv4 packet), or undefined. */
  pollTransmit(): Uint8Array | undefined {
    const core = this.core;
    const q = this.st.transmitQueue;
    if (core.txHead >= q.length) return undefined;
    const p = q[core.txHead++]!;
    if (core.txHead > 1024 && core.txHead * 2 > q.length) {
      q.splice(0, core.txHead);
      core.txHead = 0;
    } else if (core.txHead === q.length) {
      q.length = 0;
      core.txHead = 0;
    }
    return p;
  }

  /** The next socket event, or undefined. */
  pollEvent(): StackEvent | undefined {
    const core = this.core;
    const q = this.st.events;
    if (core.eventHead >= q.length) return undefined;
    const ev = q[core.eventHead++]!;
    if (core.eventHead === q.length) {
      q.length = 0;
      core.eventHead = 0;
    } else if (core.eventHead > 1024 && core.eventHead * 2 > q.length) {
      q.splice(0, core.eventHead);
      core.eventHead = 0;
    }
    if (ev.type === 'readable' || ev.type === 'writable') {
      const tcb = this.st.conns.get(ev.socket);
      if (tcb !== undefined) {
        if (ev.type === 'readable') tcb.readablePending = false;
        else tcb.writablePending = false;
        core.connHashes.mark(tcb.id);
      }
    }
    return ev;
  }

  /** Absolute time (µs) of the earliest armed timer, or undefined. */
  pollTimeout(): number | undefined {
    const conns = this.st.conns;
    return this.core.timers.next((id) => conns.has(id));
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
    validateOptions(opts.options);
    const id = this.st.nextId++;
    const options = opts.options === undefined || Object.keys(opts.options).length === 0 ? {} : { options: mergeOptions(undefined, opts.options) };
    this.st.listeners.set(id, { id, address, port: opts.port, backlog, synQueue: [], acceptQueue: [], lastCookieUs: -1, ...options });
    this.core.listenIndex.set(`${address}:${opts.port}`, id);
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
    this.core.connHashes.mark(id);
    this.core.pushEvent({ type: 'connected', socket: id });
    if (tcb.rcvBuf.length > 0) this.core.ctx.event(tcb, 'readable');
    if (tcb.finReceived) this.core.pushEvent({ type: 'eof', socket: id });
    return id;
  }

  /** Active OPEN (RFC 9293 §3.10.1): sends a SYN. */
  connect(now: number, opts: ConnectOptions): SocketId {
    const ra = opts.remoteAddress;
    if (typeof ra !== 'number' || !Number.isInteger(ra) || ra <= 0 || ra > 0xffffffff || badSource(ra)) {
      throw new StackError('EINVAL', `connect: bad remote address ${String(ra)}`);
    }
    if (!isPort(opts.remotePort)) throw new StackError('EINVAL', `connect: bad remote port ${String(opts.remotePort)}`);
    validateOptions(opts.options);
    const la = opts.localAddress ?? this.cfg.addresses[0]!;
    if (!this.cfg.addresses.includes(la)) throw new StackError('EADDRNOTAVAIL', `connect: ${la} is not a local address`);
    if (this.core.tuples.size >= this.cfg.maxConnections) {
      throw new StackError('EMFILE', `connect: maxConnections (${this.cfg.maxConnections}) reached`);
    }
    let lp: number;
    if (opts.localPort !== undefined) {
      if (!isPort(opts.localPort)) throw new StackError('EINVAL', `connect: bad local port ${String(opts.localPort)}`);
      lp = opts.localPort;
      if (this.core.tuples.has(la, lp, ra, opts.remotePort)) {
        throw new StackError('EADDRINUSE', `connect: connection ${la}:${lp} -> ${ra}:${opts.remotePort} exists`);
      }
    } else {
      lp = ephemeralPort(this.core, la, ra, opts.remotePort);
    }
    const ctx = this.core.ctx.at(now);
    const tcb = this.core.newTcb(now, 'SYN-SENT', la, lp, ra, opts.remotePort, -1);
    applyOptions(tcb, opts.options);
    this.core.link(tcb);
    this.st.stats.connectionsActive++;
    output(ctx, tcb);
    this.core.schedule(tcb);
    return tcb.id;
  }

  /**
   * SEND (RFC 9293 §3.10.2): queue bytes; returns how many the send buffer took (maybe 0).
   * `more` is Linux's MSG_MORE (no RFC has it): this write's own push holds a less-than-full
   * tail as TCP_CORK would; the next output (an ACK, a timer, another write) follows the
   * usual rules, and the persist timer sends it if nothing else does.
   */
  write(now: number, s: SocketId, bytes: Uint8Array, more = false, eor = false): number {
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
    const ctx = this.core.ctx.at(now);
    let n: number;
    let pushes = 0;
    if (linuxAccounting(tcb)) {
      // Profile 'linux': Linux's buffers and SO_SNDBUF accounting (sndbuf.ts), full buffers sent as they fill.
      dropUnsentWriteEnd(tcb);
      n = linuxQueue(tcb, bytes, tcb.notSentLowat ?? 0, () => output(ctx, tcb, pushes++ === 0));
      if (n < bytes.length) tcb.wantWritable = true;
      if (n > 0 && !more) notePush(tcb, (tcb.sndBufSeq + tcb.sndBuf.length) >>> 0);
    } else {
      n = queueData(tcb, bytes);
      if (n > 0) noteWriteEnd(this.core.cfg, tcb, (tcb.sndBufSeq + tcb.sndBuf.length) >>> 0, more);
    }
    const corked = tcb.cork;
    if (more) tcb.cork = true;
    // Linux MSG_EOR marks the record only when the whole write was queued (records.ts).
    if (eor && n === bytes.length) noteRecordEnd(tcb, (tcb.sndBufSeq + tcb.sndBuf.length) >>> 0);
    output(ctx, tcb, pushes === 0);
    if (more && corked === undefined) delete tcb.cork;
    this.core.schedule(tcb);
    return n;
  }

  /** RECEIVE (RFC 9293 §3.10.3): up to maxBytes buffered bytes (empty when none). */
  read(now: number, s: SocketId, maxBytes?: number): Uint8Array {
    const tcb = this.conn(s, 'read');
    if (tcb.userClosed) throw new StackError('EBADF', `read: socket ${s} was closed`);
    const max = maxBytes ?? tcb.rcvBuf.length;
    if (!Number.isInteger(max) || max < 0) throw new StackError('EINVAL', `read: bad maxBytes ${String(maxBytes)}`);
    const data = userRead(this.core.ctx.at(now), tcb, max);
    this.core.schedule(tcb);
    return data;
  }

  /** Half-close: a FIN goes after the queued data; reading continues. */
  shutdown(now: number, s: SocketId): void {
    const tcb = this.conn(s, 'shutdown');
    if (tcb.userClosed) throw new StackError('EBADF', `shutdown: socket ${s} was closed`);
    if (tcb.state === 'CLOSED') throw new StackError('ENOTCONN', `shutdown: socket ${s} is closed`);
    userShutdown(this.core.ctx.at(now), tcb);
    this.core.schedule(tcb);
  }

  /**
   * CLOSE (RFC 9293 §3.10.4). A listener stops and resets its unaccepted connections. A
   * connection sends its FIN after the queued data (or a RST when received data is
   * unread, RFC 1122 4.2.2.13) and the handle is released when it reaches CLOSED.
   */
  close(now: number, s: SocketId): void {
    if (this.st.listeners.has(s)) {
      closeListener(this.core, now, s);
      return;
    }
    const tcb = this.conn(s, 'close');
    if (tcb.userClosed) throw new StackError('EBADF', `close: socket ${s} was already closed`);
    if (tcb.state === 'CLOSED') {
      tcb.userClosed = true;
      this.core.release(tcb);
      return;
    }
    userClose(this.core.ctx.at(now), tcb);
    this.core.schedule(tcb);
  }

  /** ABORT (RFC 9293 §3.10.5): RST if synchronized, the connection ends at once. */
  abort(now: number, s: SocketId): void {
    if (this.st.listeners.has(s)) {
      closeListener(this.core, now, s);
      return;
    }
    const tcb = this.conn(s, 'abort');
    if (tcb.state === 'CLOSED') {
      tcb.userClosed = true;
      this.core.release(tcb);
      return;
    }
    userAbort(this.core.ctx.at(now), tcb);
    this.core.schedule(tcb);
  }

  /**
   * A failover's go-live: every connection with unacknowledged sequence space, in SocketId
   * order, retransmits its first unacknowledged segment now (sender.ts retransmitAtGoLive),
   * except those in `skip`. Returns how many did.
   */
  retransmitUnacked(now: number, skip: ReadonlySet<SocketId>): number {
    let n = 0;
    for (const id of [...this.st.conns.keys()].sort((a, b) => a - b)) {
      const tcb = this.st.conns.get(id)!;
      if (skip.has(id) || tcb.state === 'CLOSED') continue;
      if (retransmitAtGoLive(this.core.ctx.at(now), tcb)) n++;
      this.core.schedule(tcb);
    }
    return n;
  }

  /** Nagle off (on = true) or on (RFC 1122 4.2.3.4); takes effect at the next output. */
  setNoDelay(s: SocketId, on: boolean): void {
    this.conn(s, 'setNoDelay').noDelay = on;
    this.core.connHashes.mark(s);
  }

  /** Keep-alive probes (RFC 1122 4.2.3.6) on or off; timings from the config. */
  setKeepAlive(s: SocketId, on: boolean): void {
    const tcb = this.conn(s, 'setKeepAlive');
    if (tcb.state === 'CLOSED') return;
    setKeepAlive(this.core.ctx, tcb, on);
    this.core.schedule(tcb);
  }

  /**
   * Per-socket options (sockopts.ts) of a listener (for the connections it accepts from now
   * on) or a connection; those left out keep their value. Uncorking sends what was held, and
   * so does turning Nagle off (once, even through a cork, as Linux does).
   */
  setSocketOptions(now: number, s: SocketId, options: SocketOptions): void {
    validateOptions(options);
    const l = this.st.listeners.get(s);
    if (l !== undefined) {
      l.options = mergeOptions(l.options, options);
      return;
    }
    const tcb = this.conn(s, 'setSocketOptions');
    applyOptions(tcb, options);
    this.core.connHashes.mark(s);
    if (tcb.state === 'CLOSED') return;
    // Turning Nagle off pushes what is held, through a cork too, this once (Linux TCP_NAGLE_PUSH).
    const corked = options.noDelay === true ? tcb.cork : undefined;
    if (corked !== undefined) delete tcb.cork;
    output(this.core.ctx.at(now), tcb);
    if (corked !== undefined) tcb.cork = corked;
    this.core.schedule(tcb);
  }

  /** The options in force on a listener or a connection. */
  socketOptions(s: SocketId): Required<SocketOptions> {
    const l = this.st.listeners.get(s);
    if (l !== undefined) return filledOptions(this.cfg, l.options);
    return tcbOptions(this.cfg, this.conn(s, 'socketOptions'));
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
    return heldCounts(this.st.conns.values(), this.st.listeners.values(), this.st.transmitQueue.length - this.core.txHead, this.st.events.length - this.core.eventHead);
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
    let h = this.core.connHashes.value((id) => this.st.conns.get(id));
    for (const [key, value] of Object.entries(this.st)) {
      if (key === 'conns') continue;
      // Queues count from their heads, as in snapshot().
      const v = key === 'events' ? this.st.events.slice(this.core.eventHead) : key === 'transmitQueue' ? this.st.transmitQueue.slice(this.core.txHead) : value;
      h = mixValue(mixValue(h, key), v);
    }
    return finish(h);
  }

  /** The whole state as a versioned, checksummed byte value (snapshot.ts). */
  snapshot(): Uint8Array {
    // Queues are saved from their heads, so the restored stack polls the same items.
    const state: StackState = {
      ...this.st,
      events: this.st.events.slice(this.core.eventHead),
      transmitQueue: this.st.transmitQueue.slice(this.core.txHead),
    };
    return encodeSnapshot(state);
  }

  /** A stack in the state a snapshot() recorded. Corrupt bytes: StackError EINVAL. */
  static restore(bytes: Uint8Array): Stack {
    return new Stack({ [RESTORE]: decodeSnapshot(bytes) } as unknown as StackConfig);
  }

  // ---------------------------------------------------------------- internals

  /** @internal The live state (tests reach into it). */
  state(): StackState {
    return this.st;
  }

  private conn(s: SocketId, call: string): Tcb {
    const tcb = this.st.conns.get(s);
    if (tcb === undefined || !tcb.visible) {
      if (this.st.listeners.has(s)) throw new StackError('EINVAL', `${call}: socket ${s} is a listener`);
      throw new StackError('EBADF', `${call}: no socket ${String(s)}`);
    }
    return tcb;
  }
}
