/**
 * The replicated state machine (DESIGN.md, "The replicated state machine"): one TCP stack
 * plus one built-in app, and the glue between them. Its only inputs are log entries;
 * applying entry i yields the packets O(i) it emits, in order.
 *
 * The glue, run after every input until nothing more happens:
 *   - a listener on the service port accepts every connection and opens it in the app;
 *   - 'readable' / 'eof' events feed the app (app.receive, app.eof) with everything read;
 *   - the app's output is pulled (app.pull) no faster than the send buffer takes it, and
 *     the connection is closed once the app wants it closed (app.wantsClose);
 *   - 'closed' tells the app to forget the connection.
 *
 * After each entry the RSM reports the sequence-number state of every connection the
 * entry touched (SND.UNA, SND.NXT, RCV.NXT and the windows, from stack.info) and, every
 * `digestEvery` entries, a 32-bit digest of its whole state (digest()). The primary puts
 * these in the entry; the backup compares its own after applying it (verifyEntry). A
 * mismatch is a determinism bug. The digest is incremental: it rehashes only what changed
 * since the last one, so its cost does not grow with the number of idle connections.
 *
 * Everything here is a pure function of (state, entry): no clock, no randomness but the
 * stack's seeded PRNG, no I/O.
 */
import { createApp, restoreApp, type App, type AppName, type AppOptions } from '../proxy/app.js';
import { UPSTREAM_APP, UpstreamBridge, type LoggedUpstream, type UpstreamEvent } from '../proxy/upstream.js';
import { StackError, type SocketId, type SocketInfo, type StackConfig, type StackEvent, type StackStats, type TcpStack } from '../tcp/types.js';
import { finish, KeyedHashes, mix } from '../tcp/state-hash.js';
import type { ConnStateCheck, LogEntry } from './log.js';
import type { EtherHostStats } from '../tcp/ether-host.js';
import { EtherStack, etherStackFactory, ipv4OfFrame, type EtherLinkConfig } from './ether-stack.js';
import { packetRemoteKey, remoteKey } from './remote-key.js';
import { frameRsmSnapshot, RsmError, unframeRsmSnapshot } from './rsm-snapshot.js';

export { RSM_SNAPSHOT_VERSION, RsmError } from './rsm-snapshot.js';

/** The part of the stack's contract (TcpStack, src/tcp/types.ts) the RSM drives. */
export type RsmStack = Pick<
  TcpStack,
  | 'handlePacket'
  | 'handleTimeout'
  | 'pollTransmit'
  | 'pollEvent'
  | 'pollTimeout'
  | 'listen'
  | 'accept'
  | 'write'
  | 'read'
  | 'shutdown'
  | 'close'
  | 'abort'
  | 'retransmitUnacked'
  | 'info'
  | 'stats'
  | 'snapshot'
> & {
  /** The stack's state digest, O(connections changed since the last call) (Stack.stateDigest). */
  stateDigest(): number;
};

export interface RsmStackFactory {
  create(config: StackConfig): RsmStack;
  restore(snapshot: Uint8Array): RsmStack;
}

/** A built-in app, or 'upstream': the app runs outside the RSM (src/proxy/upstream.ts). */
export type RsmAppName = AppName | typeof UPSTREAM_APP;

export interface RsmConfig {
  /** The stack's configuration: its address is the service address; every replica uses the same seed. */
  stack: StackConfig;
  servicePort: number;
  app: RsmAppName;
  appOptions?: AppOptions;
  /** A whole-state digest rides on every entry whose index is a multiple of this. Default 64; 0 = never. */
  digestEvery?: number;
  /**
   * The service is an Ethernet host (ether-stack.ts): packet entries carry whole Ethernet II
   * frames, outputs are frames, and the neighbour table is replicated state. Absent: raw
   * IPv4 packets, as on the UDP switch and in the simulator.
   */
  ethernet?: EtherLinkConfig;
}

/** What applying one entry produced. */
export interface ApplyResult {
  /** O(i): the packets the RSM emitted, in order. */
  packets: Uint8Array[];
  /** State of each connection the entry touched, sorted by socket. */
  checks: ConnStateCheck[];
  digest?: number;
}

/** A replication fault: the backup's state after an entry differs from the primary's. */
export interface StateMismatch {
  index: number;
  /** The connection that differs, or undefined for the whole-state digest. */
  socket?: number;
  field: string;
  primary: number | string;
  backup: number | string;
}

/** Per-connection glue state (closeCalled and pending are state; remoteKey is an index). */
interface GlueConn {
  closeCalled: boolean;
  /** Bytes the app produced that the stack did not take yet (at most one byte offered to a full buffer, normally). */
  pending: number[];
  /** The connection's key in byRemote, or -1. */
  remoteKey: number;
}

/**
 * The `pending` of every connection with nothing pending: one shared, frozen empty array, so
 * an idle connection holds none of its own (a push would throw; pump() gives it its own first).
 */
const NO_PENDING = Object.freeze([]) as unknown as number[];

/** RSM-level metadata that lives in an RSM snapshot next to the stack's and the app's. */
export interface RsmPosition {
  /** Index of the last entry applied (0 before the first). */
  index: number;
  /** Epoch of the pair, from the last epoch entry applied (1 at the start). */
  epoch: number;
  members: string[];
  /** Time of the last entry applied, µs. */
  timeUs: number;
}

export class Rsm {
  readonly config: RsmConfig;
  private stack: RsmStack;
  private app: Omit<App, 'name'>;
  /** The upstream bridge when config.app is 'upstream' (then also `app`). */
  private readonly bridge: UpstreamBridge | undefined;
  private listener: SocketId;
  private readonly conns = new Map<SocketId, GlueConn>();
  /** Remote end (remoteKey) -> connection, for the touched set; every connection is on the service port. */
  private readonly byRemote = new Map<number, SocketId>();
  /** digest(): per connection, the hash of its app and glue state, rehashed when touched. */
  private readonly connHashes = new KeyedHashes();
  private position: RsmPosition;
  /** While applying: now, outputs and touched connections. */
  private nowUs = 0;
  private out: Uint8Array[] = [];
  private touched = new Set<SocketId>();
  /** Called when a connection is accepted (the simulator's checker uses it to learn the app's connection number). */
  onAccept: ((socket: SocketId, info: SocketInfo) => void) | undefined;

  private constructor(config: RsmConfig, stack: RsmStack, app: App | UpstreamBridge, listener: SocketId, position: RsmPosition) {
    this.config = config;
    this.stack = stack;
    this.app = app;
    this.bridge = app instanceof UpstreamBridge ? app : undefined;
    this.listener = listener;
    this.position = position;
  }

  /** A fresh RSM: a new stack listening on the service port at `startUs`. Every replica creates it the same way. */
  static create(config: RsmConfig, factory: RsmStackFactory, startUs = 0): Rsm {
    const stack = config.ethernet === undefined ? factory.create(config.stack) : etherStackFactory(factory, config.ethernet).create(config.stack);
    const listener = stack.listen(startUs, { port: config.servicePort });
    const app = config.app === UPSTREAM_APP ? new UpstreamBridge() : createApp(config.app, config.appOptions);
    const rsm = new Rsm(config, stack, app, listener, { index: 0, epoch: 1, members: [], timeUs: startUs });
    // listen() emits nothing, but drain to be sure the two replicas start from the same queues.
    rsm.nowUs = startUs;
    rsm.drain();
    rsm.out = [];
    return rsm;
  }

  get index(): number {
    return this.position.index;
  }
  get epoch(): number {
    return this.position.epoch;
  }
  get members(): readonly string[] {
    return this.position.members;
  }
  get lastTimeUs(): number {
    return this.position.timeUs;
  }
  get appName(): RsmAppName {
    return this.config.app;
  }
  /** The app, for read-only checks (the bulk app's upload digests). */
  get appState(): Omit<App, 'name'> {
    return this.app;
  }
  /** Upstream app: is this connection still open in the RSM? */
  hasUpstreamConn(conn: number): boolean {
    return this.bridge?.has(conn) ?? false;
  }
  /** Upstream app, a joiner: the app state its snapshot carried (once), and the connections to open. */
  takeUpstreamImport(): { appState: Uint8Array | undefined; conns: number[] } {
    return { appState: this.bridge?.takeImported(), conns: this.bridge?.connIds() ?? [] };
  }
  /** Upstream app: logged bytes of `conn` waiting for room in the send buffer. */
  upstreamQueued(conn: number): number {
    return this.bridge?.queued(conn) ?? 0;
  }
  /** Upstream app: what the driver must do with its app instance (client bytes, EOF, ...), in order. */
  pollUpstream(): UpstreamEvent | undefined {
    return this.bridge?.pollEvent();
  }
  /** Upstream app: the `app` entries applied, in order (for the divergence check). */
  pollLogged(): LoggedUpstream | undefined {
    return this.bridge?.pollLogged();
  }
  /** The stack's next deadline in RSM time, or undefined. */
  pollTimeout(): number | undefined {
    return this.stack.pollTimeout();
  }
  stats(): StackStats {
    return this.stack.stats();
  }
  /** The Ethernet host's counters (ARP, drops such as another host claiming the service address), on a LAN; else undefined. */
  etherStats(): EtherHostStats | undefined {
    return this.stack instanceof EtherStack ? this.stack.etherStats() : undefined;
  }
  info(socket: SocketId): SocketInfo {
    return this.stack.info(socket);
  }
  /** The connection a packet this RSM emitted belongs to (an output of apply()), if it still has one. */
  outputSocket(packet: Uint8Array): SocketId | undefined {
    const ip = this.config.ethernet === undefined ? packet : ipv4OfFrame(packet);
    const key = ip === undefined ? -1 : packetRemoteKey(ip, false, this.config.servicePort);
    return key < 0 ? undefined : this.byRemote.get(key);
  }

  /** Connections the glue holds, in accept order. */
  connections(): SocketId[] {
    return [...this.conns.keys()];
  }

  /**
   * Apply entry `index + 1`. Returns O(i), the touched connections' state and, when due,
   * the digest. Throws RsmError on an out-of-order index or time going backwards (a caller bug).
   */
  apply(entry: LogEntry): ApplyResult {
    if (entry.index !== this.position.index + 1) {
      throw new RsmError(`entry ${entry.index} applied after ${this.position.index} (entries must be consecutive)`);
    }
    if (entry.timeUs < this.position.timeUs) {
      throw new RsmError(`entry ${entry.index} at ${entry.timeUs} µs is before the previous entry's ${this.position.timeUs} µs`);
    }
    this.nowUs = entry.timeUs;
    this.out = [];
    this.touched = new Set();
    switch (entry.kind) {
      case 'packet': {
        this.touchPacket(entry.packet, true);
        this.stack.handlePacket(entry.timeUs, entry.packet);
        break;
      }
      case 'tick':
        this.stack.handleTimeout(entry.timeUs);
        break;
      case 'app':
        this.applyAppOp(entry.socket, entry.op, entry.data, entry.amount);
        break;
      case 'epoch':
        this.position.epoch = entry.newEpoch;
        this.position.members = [...entry.members];
        // RFC 5227 §3: a new configuration announces the service address, so that the
        // LAN's bridges and neighbours move to whoever now sends for it.
        if (this.stack instanceof EtherStack) this.stack.announce(entry.timeUs);
        break;
      case 'retransmit':
        // Go-live: every flow restarts at once (go-live.ts), not at the client's RTO.
        this.stack.retransmitUnacked(entry.timeUs, new Set(entry.skip));
        break;
    }
    this.drain();
    this.position.index = entry.index;
    this.position.timeUs = entry.timeUs;
    for (const p of this.out) this.touchPacket(p, false);
    // Every change to a connection's app or glue state happens while handling an event or
    // an app entry of that connection, which puts it in `touched`.
    for (const s of this.touched) this.connHashes.mark(s);
    const result: ApplyResult = { packets: this.out, checks: this.checks() };
    const every = this.config.digestEvery ?? 64;
    if (every > 0 && entry.index % every === 0) result.digest = this.digest();
    this.out = [];
    return result;
  }

  /**
   * Compare this RSM's state after applying `entry` with what the primary recorded in it.
   * Returns the first mismatch, or undefined when the replay reached the same state.
   */
  verify(entry: LogEntry, mine: ApplyResult): StateMismatch | undefined {
    const own = new Map(mine.checks.map((c) => [c.socket, c]));
    for (const theirs of entry.checks) {
      const ours = own.get(theirs.socket) ?? this.checkOf(theirs.socket);
      if (ours === undefined) {
        return { index: entry.index, socket: theirs.socket, field: 'exists', primary: 'open', backup: 'no such connection' };
      }
      for (const field of ['sndUna', 'sndNxt', 'rcvNxt', 'sndWnd', 'rcvWnd'] as const) {
        if (ours[field] !== theirs[field]) {
          return { index: entry.index, socket: theirs.socket, field, primary: theirs[field], backup: ours[field] };
        }
      }
    }
    // The same state gives the same touched set: a connection only we touched is a difference too
    // (unless the primary cut its list short to fit a frame).
    const theirs = new Set(entry.checks.map((c) => c.socket));
    if (entry.checksTruncated !== true) for (const c of mine.checks) {
      if (!theirs.has(c.socket)) return { index: entry.index, socket: c.socket, field: 'touched', primary: 'untouched', backup: 'touched' };
    }
    if (entry.digest !== undefined) {
      const digest = mine.digest ?? this.digest();
      if (digest !== entry.digest) return { index: entry.index, field: 'digest', primary: hex32(entry.digest), backup: hex32(digest) };
    }
    return undefined;
  }

  /**
   * A 32-bit digest of the stack's state, the app's and the glue's: what snapshot()
   * holds, apart from the position. Equal states give equal digests whatever their
   * history (a restored RSM gives the original's). It costs O(connections changed since
   * the last digest): the stack keeps its own per-connection hashes (Stack.stateDigest),
   * the app keeps a hash of its shared state (App.sharedDigest), and the RSM keeps one per
   * connection of its app and glue state, rehashed for the connections entries touched.
   */
  digest(): number {
    let h = mix(0, this.stack.stateDigest());
    h = mix(h, this.app.sharedDigest());
    h = mix(
      h,
      this.connHashes.value((s) => {
        const g = this.conns.get(s);
        const a = this.app.connState(s);
        return g === undefined && a === undefined ? undefined : [a ?? null, g === undefined ? null : { closeCalled: g.closeCalled, pending: g.pending }];
      }),
    );
    return finish(h);
  }

  /**
   * The whole RSM as bytes, framed by rsm-snapshot.ts (versioned, checksummed): meta JSON
   * (config, position, glue), app JSON, stack snapshot.
   */
  snapshot(upstreamAppState?: Uint8Array): Uint8Array {
    const enc = new TextEncoder();
    const meta = enc.encode(JSON.stringify({ config: this.config, position: this.position, listener: this.listener, glue: this.glueState() }));
    // Upstream app joining with an adapter: its exported state rides in this snapshot only.
    const app = enc.encode(JSON.stringify(upstreamAppState !== undefined && this.bridge !== undefined ? this.bridge.snapshotWith(upstreamAppState) : this.app.snapshot()));
    return frameRsmSnapshot([meta, app, this.stack.snapshot()]);
  }

  /** Rebuild an RSM from snapshot(). Throws RsmError on corrupt bytes. */
  static restore(bytes: Uint8Array, factory: RsmStackFactory): Rsm {
    const parts = unframeRsmSnapshot(bytes, 3);
    const dec = new TextDecoder();
    const meta = JSON.parse(dec.decode(parts[0]!)) as {
      config: RsmConfig;
      position: RsmPosition;
      listener: SocketId;
      glue: Array<[SocketId, GlueConn]>;
    };
    const appSnap: unknown = JSON.parse(dec.decode(parts[1]!));
    const app = meta.config.app === UPSTREAM_APP ? UpstreamBridge.restore(appSnap) : restoreApp(meta.config.app, appSnap);
    const stack = meta.config.ethernet === undefined ? factory.restore(parts[2]!.slice()) : etherStackFactory(factory, meta.config.ethernet).restore(parts[2]!.slice());
    const rsm = new Rsm(meta.config, stack, app, meta.listener, meta.position);
    for (const [socket, g] of meta.glue) {
      rsm.conns.set(socket, { closeCalled: g.closeCalled, pending: g.pending.length > 0 ? [...g.pending] : NO_PENDING, remoteKey: -1 });
      rsm.indexRemote(socket);
      rsm.connHashes.mark(socket);
    }
    return rsm;
  }

  // ---- glue -------------------------------------------------------------------------

  private glueState(): Array<[SocketId, Pick<GlueConn, 'closeCalled' | 'pending'>]> {
    return [...this.conns].map(([s, g]) => [s, { closeCalled: g.closeCalled, pending: [...g.pending] }]);
  }

  /** Drain the stack: packets to O(i), events through the glue, until quiet. */
  private drain(): void {
    for (;;) {
      for (let p = this.stack.pollTransmit(); p !== undefined; p = this.stack.pollTransmit()) this.out.push(p);
      const event = this.stack.pollEvent();
      if (event === undefined) return;
      this.onEvent(event);
    }
  }

  private onEvent(event: StackEvent): void {
    this.touched.add(event.socket);
    switch (event.type) {
      case 'incoming':
        if (event.socket !== this.listener) return;
        for (let s = this.guard(() => this.stack.accept(this.listener)); s !== undefined; s = this.guard(() => this.stack.accept(this.listener))) {
          this.conns.set(s, { closeCalled: false, pending: NO_PENDING, remoteKey: -1 });
          this.touched.add(s);
          const info = this.indexRemote(s);
          this.app.open(s);
          if (info !== undefined) this.onAccept?.(s, info);
          this.pump(s);
        }
        return;
      case 'connected':
      case 'writable':
        this.pump(event.socket);
        return;
      case 'readable':
        this.readAll(event.socket);
        this.pump(event.socket);
        return;
      case 'eof':
        if (!this.conns.has(event.socket)) return;
        this.readAll(event.socket);
        this.app.eof(event.socket);
        this.pump(event.socket);
        return;
      case 'closed': {
        const g = this.conns.get(event.socket);
        if (g === undefined) return;
        this.conns.delete(event.socket);
        if (this.byRemote.get(g.remoteKey) === event.socket) this.byRemote.delete(g.remoteKey);
        this.app.closed(event.socket);
        // A connection that ended without our close() (reset, timeout) still holds its handle.
        if (!g.closeCalled) this.guard(() => this.stack.close(this.nowUs, event.socket));
        return;
      }
    }
  }

  private readAll(socket: SocketId): void {
    if (!this.conns.has(socket)) return;
    for (;;) {
      const data = this.guard(() => this.stack.read(this.nowUs, socket));
      if (data === undefined || data.length === 0) return;
      this.app.receive(socket, data);
    }
  }

  /** Move the app's output into the send buffer, as much as fits; close when the app is done. */
  private pump(socket: SocketId): void {
    const g = this.conns.get(socket);
    if (g === undefined || g.closeCalled) return;
    for (;;) {
      if (g.pending.length > 0) {
        const chunk = Uint8Array.from(g.pending);
        const n = this.guard(() => this.stack.write(this.nowUs, socket, chunk)) ?? 0;
        g.pending.splice(0, n);
        if (g.pending.length > 0) return;
        g.pending = NO_PENDING;
      }
      const info = this.guard(() => this.stack.info(socket));
      if (info === undefined) break;
      // With the buffer full, still offer one byte: the short write is what makes the stack
      // send 'writable' once space frees up; the byte waits in `pending` until then.
      const data = this.app.pull(socket, Math.max(info.writable, 1));
      if (data.length === 0) break;
      const n = this.guard(() => this.stack.write(this.nowUs, socket, data));
      if (n === undefined) return;
      if (n < data.length) {
        if (g.pending === NO_PENDING) g.pending = [];
        for (let i = n; i < data.length; i++) g.pending.push(data[i]!);
        return;
      }
    }
    if (g.pending.length === 0 && this.app.wantsClose(socket)) {
      g.closeCalled = true;
      this.guard(() => this.stack.close(this.nowUs, socket));
    }
  }

  private applyAppOp(socket: number, op: string, data: Uint8Array | undefined, amount: number | undefined): void {
    this.touched.add(socket);
    if (this.bridge !== undefined) {
      this.applyUpstreamOp(this.bridge, socket, op, data);
      return;
    }
    switch (op) {
      case 'write':
        this.guard(() => this.stack.write(this.nowUs, socket, data ?? new Uint8Array(0)));
        return;
      case 'read':
        this.guard(() => this.stack.read(this.nowUs, socket, amount));
        return;
      case 'shutdown':
        this.guard(() => this.stack.shutdown(this.nowUs, socket));
        return;
      case 'close':
        this.guard(() => this.stack.close(this.nowUs, socket));
        return;
      case 'abort':
        this.guard(() => this.stack.abort(this.nowUs, socket));
        return;
    }
  }

  /**
   * An `app` entry of an upstream app: the logged bytes join the connection's queue and go
   * out as the send buffer takes them (so a full buffer never loses them); `close` closes
   * after them; `abort` resets at once. On a connection already gone it does nothing, the
   * same on every replica.
   */
  private applyUpstreamOp(bridge: UpstreamBridge, socket: number, op: string, data: Uint8Array | undefined): void {
    switch (op) {
      case 'write':
        bridge.logWrite(socket, data ?? new Uint8Array(0));
        this.pump(socket);
        return;
      case 'shutdown':
      case 'close':
        bridge.logClose(socket);
        this.pump(socket);
        return;
      case 'abort': {
        bridge.logAbort(socket);
        const g = this.conns.get(socket);
        if (g === undefined || g.closeCalled) return;
        g.closeCalled = true;
        g.pending = NO_PENDING;
        // RFC 9293 §3.10.4 (ABORT): the peer gets RST; the stack reports 'closed'.
        this.guard(() => this.stack.abort(this.nowUs, socket));
        return;
      }
      default:
        return; // 'read': the RSM reads everything for the bridge already
    }
  }

  /** A socket call that may fail with StackError (the connection died meanwhile): same outcome on every replica. */
  private guard<R>(fn: () => R): R | undefined {
    try {
      return fn();
    } catch (error) {
      if (error instanceof StackError) return undefined;
      throw error;
    }
  }

  private indexRemote(socket: SocketId): SocketInfo | undefined {
    const info = this.guard(() => this.stack.info(socket));
    const g = this.conns.get(socket);
    if (info !== undefined && g !== undefined && info.localPort === this.config.servicePort) {
      g.remoteKey = remoteKey(info.remoteAddress, info.remotePort);
      this.byRemote.set(g.remoteKey, socket);
    }
    return info;
  }

  private touchPacket(p: Uint8Array, inbound: boolean): void {
    const ip = this.config.ethernet === undefined ? p : ipv4OfFrame(p);
    const key = ip === undefined ? -1 : packetRemoteKey(ip, inbound, this.config.servicePort);
    const s = key < 0 ? undefined : this.byRemote.get(key);
    if (s !== undefined) this.touched.add(s);
  }

  private checkOf(socket: SocketId): ConnStateCheck | undefined {
    if (socket === this.listener) return undefined;
    const i = this.guard(() => this.stack.info(socket));
    if (i === undefined || i.kind !== 'connection') return undefined;
    return { socket, sndUna: i.sndUna >>> 0, sndNxt: i.sndNxt >>> 0, rcvNxt: i.rcvNxt >>> 0, sndWnd: i.sndWnd >>> 0, rcvWnd: i.rcvWnd >>> 0 };
  }

  private checks(): ConnStateCheck[] {
    const out: ConnStateCheck[] = [];
    for (const s of [...this.touched].sort((a, b) => a - b)) {
      const c = this.checkOf(s);
      if (c !== undefined) out.push(c);
    }
    return out;
  }
}

function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}
