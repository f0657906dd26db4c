/**
 * A host's link to the loopback network (DESIGN.md, "Network"): one UDP socket on
 * 127.0.0.1 that carries raw IPv4 packets, one packet per datagram, to and from one peer
 * (the switch, or the UDP end of a TUN bridge).
 *
 * Inbound, a datagram is delivered only if it comes from the peer, fits the MTU and
 * parses as IPv4 (src/tcp/wire parseIpv4); anything else is counted by reason and
 * dropped, never thrown. Outbound, a packet larger than the MTU, or one that finds the
 * socket's send queue full, is counted and dropped (send returns false): nothing is
 * buffered without bound.
 *
 * The link also speaks the switch's control datagrams (switch-control.ts): announce()
 * claims a virtual address with an epoch, sends the claim again until the switch answers,
 * then refreshes it every refreshMs so that a restarted switch learns it again. With a
 * cluster key (switch-auth.ts) the claims and the switch's answers are
 * authenticated: an answer that fails the check is counted (`bad-auth`) and ignored.
 */
import * as dgram from 'node:dgram';
import { formatIpv4Addr, parseIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { parseIpv4, type Ipv4Header } from '../wire/ipv4.js';
import { describeListenError, formatEndpoint, type Endpoint } from './endpoint.js';
import type { ClusterKey } from './cluster-key.js';
import { AUTH_CONTROL_BYTES, ControlAuthHost, isAuthControl } from './switch-auth.js';
import { decodeControl, encodeControl, isControl, type SwitchControl } from './switch-control.js';

/** The largest UDP payload over IPv4 (65535 - 20 - 8): no larger IP packet fits one datagram. */
export const MAX_MTU = 65_507;
/** RFC 791: every internet module must be able to forward a datagram of 68 octets. */
export const MIN_MTU = 68;
/** Large, as DESIGN.md advises for UDP links (per-datagram cost dominates on loopback). */
export const DEFAULT_MTU = 65_000;
/** Requested SO_RCVBUF / SO_SNDBUF (the kernel caps it at net.core.[rw]mem_max). */
export const DEFAULT_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/** Datagrams waiting in libuv's send queue beyond this are dropped (UDP has no backpressure). */
export const DEFAULT_MAX_SEND_QUEUE = 2048;

/** The drop counters of anything that receives raw IPv4 datagrams (a host's link, the switch). */
export interface DatagramDropCounters {
  dropped: { oversize: number; malformed: number };
  /** Malformed datagrams by parseIpv4 reason. */
  malformed: Record<string, number>;
}

/**
 * The IPv4 header of a data datagram that fits the MTU and parses; otherwise the drop is
 * counted (oversize, or malformed by reason) and the result is undefined.
 */
export function acceptDatagram(bytes: Uint8Array, mtu: number, stats: DatagramDropCounters): Ipv4Header | undefined {
  if (bytes.length > mtu) {
    stats.dropped.oversize++;
    return undefined;
  }
  const parsed = parseIpv4(bytes);
  if (!parsed.ok) {
    stats.dropped.malformed++;
    stats.malformed[parsed.reason] = (stats.malformed[parsed.reason] ?? 0) + 1;
    return undefined;
  }
  return parsed.header;
}

export type LinkDropReason = 'malformed' | 'oversize' | 'foreign' | 'bad-control' | 'bad-auth' | 'send-too-big' | 'send-queue-full' | 'send-error' | 'closed';

export interface UdpLinkStats {
  packetsSent: number;
  bytesSent: number;
  packetsReceived: number;
  bytesReceived: number;
  controlSent: number;
  controlReceived: number;
  dropped: Record<LinkDropReason, number>;
  /** Malformed inbound datagrams by parseIpv4 reason ('ipv4-bad-checksum', ...). */
  malformed: Record<string, number>;
}

export interface UdpLinkOptions {
  /** Local address; default 127.0.0.1:0 (a free port). */
  bind?: Endpoint;
  /** Where every packet goes, and the only source accepted. */
  peer: Endpoint;
  /** Largest IP packet sent or accepted, 68..65507; default 65000. */
  mtu?: number;
  /** An unanswered register is sent again after this long (doubling up to refreshMs). Default 50 ms. */
  retryMs?: number;
  /** A registered address is announced again this often. Default 1000 ms. */
  refreshMs?: number;
  socketBufferBytes?: number;
  maxSendQueue?: number;
  /** The flag named in a bind error ("--bind"). */
  bindFlag?: string;
  /** authenticate the claims with this key (the switch must have the same). */
  clusterKey?: ClusterKey | undefined;
}

export type RegistrationState = 'pending' | 'registered' | 'superseded';

export interface Registration {
  address: Ipv4Addr;
  epoch: number;
  state: RegistrationState;
  /** When superseded: the epoch that now holds the address. */
  supersededBy?: number;
}

interface Claim extends Registration {
  lastSentMs: number;
  intervalMs: number;
  waiters: Array<{ resolve: () => void; reject: (e: Error) => void }>;
}

/** Thrown by open() with a one-line, actionable message. */
export class LinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LinkError';
  }
}

/**
 * A UDP socket bound to `bind` with `bufferBytes` of send and receive buffer. Rejects with a
 * LinkError (one line, naming `flag`) when the address cannot be bound.
 */
export async function bindUdpSocket(bind: Endpoint, bufferBytes: number, flag: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: bufferBytes, sendBufferSize: bufferBytes });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      socket.close();
      reject(new LinkError(describeListenError(error, bind, flag)));
    };
    socket.once('error', onError);
    socket.bind(bind.port, bind.host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  return socket;
}

export function checkMtu(mtu: number): number {
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    throw new RangeError(`MTU must be an integer from ${MIN_MTU} to ${MAX_MTU} (the largest IPv4 packet one UDP datagram carries), got ${mtu}`);
  }
  return mtu;
}

export class UdpLink {
  readonly local: Endpoint;
  readonly peer: Endpoint;
  readonly mtu: number;
  readonly stats: UdpLinkStats = {
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    controlSent: 0,
    controlReceived: 0,
    dropped: { malformed: 0, oversize: 0, foreign: 0, 'bad-control': 0, 'bad-auth': 0, 'send-too-big': 0, 'send-queue-full': 0, 'send-error': 0, closed: 0 },
    malformed: {},
  };
  private packetHandler: ((packet: Uint8Array) => void) | undefined;
  private controlHandler: ((m: SwitchControl) => void) | undefined;
  private readonly claims = new Map<Ipv4Addr, Claim>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly retryMs: number;
  private readonly refreshMs: number;
  private readonly maxSendQueue: number;
  private readonly auth: ControlAuthHost | undefined;
  /** Set when a keyless link heard that the switch has a cluster key: it will never confirm a claim. */
  private keyRefusal: string | undefined;

  private constructor(
    private readonly socket: dgram.Socket,
    opts: UdpLinkOptions,
  ) {
    const a = socket.address();
    this.local = { host: a.address, port: a.port };
    this.peer = opts.peer;
    this.mtu = checkMtu(opts.mtu ?? DEFAULT_MTU);
    this.retryMs = opts.retryMs ?? 50;
    this.refreshMs = opts.refreshMs ?? 1000;
    this.maxSendQueue = opts.maxSendQueue ?? DEFAULT_MAX_SEND_QUEUE;
    this.auth = opts.clusterKey === undefined ? undefined : new ControlAuthHost(opts.clusterKey);
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    // Asynchronous socket errors (rare for UDP) are counted; the link stays up.
    socket.on('error', () => void this.stats.dropped['send-error']++);
  }

  /** Binds the socket. Rejects with a LinkError (one line, what to do) when it cannot. */
  static async open(opts: UdpLinkOptions): Promise<UdpLink> {
    const mtu = checkMtu(opts.mtu ?? DEFAULT_MTU);
    const bind = opts.bind ?? { host: '127.0.0.1', port: 0 };
    const socket = await bindUdpSocket(bind, opts.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER_BYTES, opts.bindFlag ?? '--bind');
    return new UdpLink(socket, { ...opts, mtu });
  }

  /** Sends one IP packet to the peer. False when it was dropped (counted). */
  send(packet: Uint8Array): boolean {
    if (this.closed) {
      this.stats.dropped.closed++;
      return false;
    }
    if (packet.length > this.mtu) {
      this.stats.dropped['send-too-big']++;
      return false;
    }
    if (this.socket.getSendQueueCount() >= this.maxSendQueue) {
      this.stats.dropped['send-queue-full']++;
      return false;
    }
    this.stats.packetsSent++;
    this.stats.bytesSent += packet.length;
    this.socket.send(packet, this.peer.port, this.peer.host, (error) => {
      if (error) this.stats.dropped['send-error']++;
    });
    return true;
  }

  /** The handler for every valid inbound IP packet (one handler; a later call replaces it). */
  onPacket(handler: (packet: Uint8Array) => void): void {
    this.packetHandler = handler;
  }

  /** The handler for control answers from the switch (registered, superseded). */
  onControl(handler: (m: SwitchControl) => void): void {
    this.controlHandler = handler;
  }

  /**
   * Claims `address` at the switch with `epoch` (the gratuitous ARP). A later call for the
   * same address replaces the claim. Sent at once, again until answered, then refreshed.
   */
  announce(address: Ipv4Addr | string, epoch: number): void {
    const addr = typeof address === 'string' ? parseIpv4Addr(address) : address;
    const old = this.claims.get(addr);
    const claim: Claim = { address: addr, epoch, state: 'pending', lastSentMs: 0, intervalMs: this.retryMs, waiters: old?.waiters ?? [] };
    this.claims.set(addr, claim);
    this.sendClaim(claim);
    this.schedule();
  }

  /** Stops claiming `address` (no more refreshes; the switch keeps its entry until someone outbids it). */
  withdraw(address: Ipv4Addr | string): void {
    const addr = typeof address === 'string' ? parseIpv4Addr(address) : address;
    const claim = this.claims.get(addr);
    if (claim === undefined) return;
    this.claims.delete(addr);
    for (const w of claim.waiters) w.reject(new LinkError(`claim on ${formatIpv4Addr(addr)} withdrawn`));
  }

  registration(address: Ipv4Addr | string): Registration | undefined {
    const c = this.claims.get(typeof address === 'string' ? parseIpv4Addr(address) : address);
    return c === undefined ? undefined : { address: c.address, epoch: c.epoch, state: c.state, ...(c.supersededBy !== undefined ? { supersededBy: c.supersededBy } : {}) };
  }

  /** Resolves when the switch has confirmed the current claim on `address`; rejects if superseded or after timeoutMs. */
  whenRegistered(address: Ipv4Addr | string, timeoutMs = 2000): Promise<void> {
    const addr = typeof address === 'string' ? parseIpv4Addr(address) : address;
    const claim = this.claims.get(addr);
    if (claim === undefined) return Promise.reject(new LinkError(`no claim on ${formatIpv4Addr(addr)}: call announce() first`));
    if (claim.state === 'registered') return Promise.resolve();
    if (claim.state === 'superseded') return Promise.reject(supersededError(claim));
    if (this.keyRefusal !== undefined) return Promise.reject(new LinkError(this.keyRefusal));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        claim.waiters = claim.waiters.filter((w) => w !== waiter);
        const keyNote = this.auth !== undefined ? ' (this host has a cluster key: the switch needs the same one)' : '';
        reject(new LinkError(`the switch at ${formatEndpoint(this.peer)} did not confirm ${formatIpv4Addr(addr)} within ${timeoutMs} ms; is \`ftcp switch\` running there?${keyNote}`));
      }, timeoutMs);
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      claim.waiters.push(waiter);
    });
  }

  /** Closes the socket; later sends are dropped (counted). Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const c of this.claims.values()) for (const w of c.waiters) w.reject(new LinkError('link closed'));
    this.claims.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- internals ------------------------------------------------------------------

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (rinfo.port !== this.peer.port || rinfo.address !== this.peer.host) {
      this.stats.dropped.foreign++;
      return;
    }
    const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
    if (isControl(bytes)) {
      this.onControlDatagram(bytes);
      return;
    }
    if (acceptDatagram(bytes, this.mtu, this.stats) === undefined) return;
    this.stats.packetsReceived++;
    this.stats.bytesReceived += bytes.length;
    this.packetHandler?.(bytes);
  }

  private onControlDatagram(bytes: Uint8Array): void {
    if (isAuthControl(bytes) && bytes.length === AUTH_CONTROL_BYTES && this.auth === undefined) {
      // The switch has a cluster key and this host has none: nothing will be confirmed.
      this.stats.dropped['bad-auth']++;
      this.refuseForKey(`the switch at ${formatEndpoint(this.peer)} uses a cluster key and this host has none (set FTCP_CLUSTER_KEY or --cluster-key-file)`);
      return;
    }
    if (this.auth === undefined) {
      const m = decodeControl(bytes);
      if (m === undefined) {
        this.stats.dropped['bad-control']++;
        return;
      }
      this.stats.controlReceived++;
      this.onControlMessage(m);
      return;
    }
    // Keyed: only authenticated answers count (an unauthenticated one is refused).
    const r = isAuthControl(bytes) ? this.auth.receive(bytes) : decodeControl(bytes) === undefined ? 'malformed' : 'bad-mac';
    if (r === 'malformed') {
      this.stats.dropped['bad-control']++;
      return;
    }
    if (r === 'bad-mac' || r === 'replay') {
      this.stats.dropped['bad-auth']++;
      return;
    }
    this.stats.controlReceived++;
    if (r === 'challenge') {
      // The switch gave a nonce: every live claim again, now.
      for (const c of this.claims.values()) if (c.state !== 'superseded') this.sendClaim(c);
      this.schedule();
      return;
    }
    this.onControlMessage(r);
  }

  private refuseForKey(message: string): void {
    this.keyRefusal = message;
    for (const c of this.claims.values()) {
      if (c.state !== 'pending') continue;
      const waiters = c.waiters;
      c.waiters = [];
      for (const w of waiters) w.reject(new LinkError(message));
    }
  }

  private onControlMessage(m: SwitchControl): void {
    const claim = this.claims.get(m.address);
    if (claim !== undefined) {
      if (m.type === 'registered' && m.epoch === claim.epoch && claim.state !== 'superseded') {
        if (claim.state === 'pending') {
          claim.state = 'registered';
          claim.intervalMs = this.refreshMs;
          const waiters = claim.waiters;
          claim.waiters = [];
          for (const w of waiters) w.resolve();
        }
      } else if (m.type === 'superseded' && m.epoch >= claim.epoch && claim.state !== 'superseded') {
        claim.state = 'superseded';
        claim.supersededBy = m.epoch;
        const waiters = claim.waiters;
        claim.waiters = [];
        for (const w of waiters) w.reject(supersededError(claim));
      }
    }
    this.controlHandler?.(m);
  }

  private sendClaim(claim: Claim): void {
    if (this.closed) return;
    claim.lastSentMs = Date.now();
    this.stats.controlSent++;
    const bytes = this.auth !== undefined ? this.auth.register(claim.address, claim.epoch) : encodeControl({ type: 'register', address: claim.address, epoch: claim.epoch });
    this.socket.send(bytes, this.peer.port, this.peer.host, (error) => {
      if (error) this.stats.dropped['send-error']++;
    });
  }

  /** One timer for every claim: resend the pending ones (backing off), refresh the registered ones. */
  private schedule(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    let next = Infinity;
    for (const c of this.claims.values()) if (c.state !== 'superseded') next = Math.min(next, c.lastSentMs + c.intervalMs);
    if (next === Infinity) return;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, next - Date.now()));
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    const now = Date.now();
    for (const c of this.claims.values()) {
      if (c.state === 'superseded' || now < c.lastSentMs + c.intervalMs) continue;
      this.sendClaim(c);
      if (c.state === 'pending') c.intervalMs = Math.min(c.intervalMs * 2, this.refreshMs);
    }
    this.schedule();
  }
}

function supersededError(c: Claim): LinkError {
  return new LinkError(`the switch gave ${formatIpv4Addr(c.address)} to another host with epoch ${c.supersededBy ?? '?'} (this host claimed epoch ${c.epoch})`);
}
