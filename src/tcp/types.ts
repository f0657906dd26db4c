/**
 * The public contract of the sans-I/O TCP stack (src/tcp/stack.ts implements it).
 *
 * Call order, after any input (handlePacket, handleTimeout, or a socket call):
 *   pollTransmit() until undefined -> pollEvent() until undefined -> pollTimeout().
 * All times are integer microseconds of a monotonic clock supplied by the caller.
 * The stack never reads a clock, a random source, a file or a socket.
 */
import type { Ipv4Addr } from '../wire/addr.js';

/** RFC 9293 §3.3.2 state names, spelled as the RFC prints them. */
export type TcpStateName =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT';

/** A handle to a listener or a connection, like a file descriptor. Never reused within a stack. */
export type SocketId = number;

export interface StackConfig {
  /** Local IPv4 addresses; packets to any other destination are dropped ('not-for-us'). */
  addresses: Ipv4Addr[];
  /** Seed of the stack's PRNG (ISN secret per RFC 6528, ephemeral ports). */
  seed: number;
  /** Link MTU in bytes; the MSS we announce is mtu - 40 (RFC 6691). Default 1500. */
  mtu?: number;
  /** Maximum segment lifetime; TIME-WAIT lasts 2*MSL. Default 30_000 ms (TIME-WAIT 60 s, as Linux). */
  mslMs?: number;
  /** Send buffer per connection (bounds what can be in flight). Default 1_048_576 bytes (docs/decisions.md). */
  sendBufferBytes?: number;
  /** Receive buffer per connection (bounds the window we offer). Default 1_048_576 bytes (docs/decisions.md). */
  recvBufferBytes?: number;
  /** Out-of-order bytes held per connection for reassembly. Default = recvBufferBytes. */
  reassemblyLimitBytes?: number;
  /** Default listen backlog when listen() is not given one. Default 128. */
  listenBacklog?: number;
  /** Maximum simultaneous connections (any state but LISTEN). Default 10_000. */
  maxConnections?: number;
  /** RFC 6298 (2.1): initial RTO. Default 1000 ms. */
  rtoInitialMs?: number;
  /** RFC 6298 (2.4) lower bound; Linux uses 200 ms. Default 200. */
  rtoMinMs?: number;
  /** Upper bound on the RTO (RFC 6298 (2.5)). Default 120_000 ms. */
  rtoMaxMs?: number;
  /** Data retransmissions before the connection is dropped (RFC 1122 R2). Default 15. */
  maxRetries?: number;
  /** SYN retransmissions before connect fails (RFC 1122 R2 for SYN). Default 6. */
  synRetries?: number;
  /** Delayed ACK timeout (RFC 1122 4.2.3.2, < 500 ms). Default 40 ms. */
  delayedAckMs?: number;
  /** Keep-alive (RFC 1122 4.2.3.6), off by default per socket; these are the timings when on. */
  keepAliveIdleMs?: number;
  keepAliveIntervalMs?: number;
  keepAliveProbes?: number;
  /** IP TTL of emitted packets. Default 64. */
  ttl?: number;
  /** RFC 7323 §2: offer window scaling on our SYNs. Default true. */
  windowScaling?: boolean;
  /** RFC 7323 §2.2: the shift count we announce (0-14). Default 8. */
  windowScale?: number;
  /** RFC 7323 §3: offer timestamps (RTTM, PAWS). Default true. */
  timestamps?: boolean;
  /** RFC 2018: offer SACK (and use RFC 6675 loss recovery when the peer agrees). Default true. */
  sack?: boolean;
  /** RFC 2883: report duplicate segments with D-SACK when SACK is on. Default true. */
  dsack?: boolean;
  /** Congestion control of new connections. Default 'cubic' (RFC 9438), as Linux. */
  congestionControl?: CongestionControlName;
  /** RFC 8985: RACK-TLP loss detection (instead of RFC 6675's DupThresh) and tail loss probes, on SACK connections. Default true, as Linux. */
  rack?: boolean;
  /** RFC 6937: Proportional Rate Reduction of cwnd during SACK loss recovery. Default true, as Linux. */
  prr?: boolean;
  /** RFC 5961 §7: challenge ACKs per second per stack (Linux tcp_challenge_ack_limit); 0 = no limit. Default 1000. */
  challengeAckLimit?: number;
  /**
   * RFC 4987 §3.6: answer SYNs with SYN cookies when a listener's SYN queue is full (Linux
   * tcp_syncookies = 1), so a SYN flood holds no more state than the backlog and
   * legitimate clients still connect. Default true, as Linux: a SYN that finds the
   * backlog full of half-open connections is answered with a cookie instead of dropped
   * (docs/decisions.md, "SYN flood").
   */
  synCookies?: boolean;
  /**
   * Where the RFCs allow more than one behaviour, whose choices to make (docs/conformance.md,
   * "Profiles"): 'rfc' (the default) or 'linux' (PSH on the segment that ends each write,
   * quick ACKs off in interactive mode, the RTO floor on the variance term, a delayed ACK
   * flushed by a read, one MSS of slow-start credit per acknowledged segment, half-open
   * connections dropped silently when their listener closes).
   */
  profile?: StackProfile;
  /** RFC 9406: HyStart++ in the first slow start of each connection. Default false (docs/decisions.md). */
  hystart?: boolean;
  /**
   * Profile 'linux' only: the fewest segments in one send chunk (Linux tcp_min_tso_segs,
   * 1 to 255, default 2), where the chunk ends and PSH goes (docs/conformance.md "Profiles").
   */
  minTsoSegs?: number;
  /**
   * RFC 5681 §4.1: after an idle period longer than the RTO, restart from at most the
   * initial window (Linux tcp_slow_start_after_idle). Default false, as packetdrill's
   * defaults set it.
   */
  slowStartAfterIdle?: boolean;
}

/** Behaviour profiles (StackConfig.profile). */
export type StackProfile = 'rfc' | 'linux';
export const STACK_PROFILES: readonly StackProfile[] = ['rfc', 'linux'];

/** Congestion control algorithms (src/tcp/cc/). */
export type CongestionControlName = 'newreno' | 'cubic';

export interface ListenOptions {
  port: number;
  /** Local address to listen on; default: any of the stack's addresses. */
  address?: Ipv4Addr;
  backlog?: number;
  /** Per-socket options, inherited by every connection the listener accepts (as Linux's are). */
  options?: SocketOptions;
}

/**
 * Per-socket options (src/tcp/sockopts.ts), set at connect() or listen() or later with
 * setSocketOptions(). An option left out keeps its value (at first: the stack's config,
 * or off).
 */
export interface SocketOptions {
  /** Receive buffer, bytes: bounds the window offered (RFC 9293 §3.8.6). Default config.recvBufferBytes. */
  recvBufferBytes?: number;
  /** Send buffer, bytes: what write() can queue. Default config.sendBufferBytes. */
  sendBufferBytes?: number;
  /** MSS clamp (Linux TCP_MAXSEG): the MSS we announce and the most we send per segment (RFC 6691); 0 = none. Takes effect at the handshake. */
  maxSegment?: number;
  /** RFC 9293 §3.8.3 user timeout (Linux TCP_USER_TIMEOUT), ms: unacknowledged data older than this ends the connection with ETIMEDOUT; 0 = off (the retry count decides). */
  userTimeoutMs?: number;
  /** Linux TCP_NOTSENT_LOWAT: under profile 'linux', a write opens a new send buffer only while fewer bytes than this are written and not sent; 0 = no limit. */
  notSentLowat?: number;
  /** Linux TCP_CORK (not an RFC option): hold less-than-full segments until uncorked or the persist timer fires. */
  cork?: boolean;
  /** Nagle off (RFC 1122 4.2.3.4), as setNoDelay(); turning it on pushes what is held, a held cork's tail included (Linux). */
  noDelay?: boolean;
  /** The IPv4 TOS byte of this socket's segments (the Differentiated Services field, RFC 2474; RFC 9293 MUST-48; Linux IP_TOS). Default 0. */
  tos?: number;
  /** The IPv4 DF bit on this socket's segments (Linux IP_MTU_DISCOVER: off for IP_PMTUDISC_DONT). Default on. */
  dontFragment?: boolean;
}

export interface ConnectOptions {
  remoteAddress: Ipv4Addr;
  remotePort: number;
  /** Default: the stack's first address. */
  localAddress?: Ipv4Addr;
  /** Default: an ephemeral port (49152-65535) chosen by the stack's PRNG. */
  localPort?: number;
  /** Per-socket options in force from the SYN on. */
  options?: SocketOptions;
}

/** Why a connection ended abnormally. */
/** ENETUNREACH and EHOSTUNREACH come from ICMP errors (icmp.ts): reported when the connection fails after one. */
export type ConnectionErrorCode = 'ECONNRESET' | 'ECONNREFUSED' | 'ETIMEDOUT' | 'ENETUNREACH' | 'EHOSTUNREACH';

export type StackEvent =
  /** A listener has a connection ready for accept(). */
  | { type: 'incoming'; socket: SocketId }
  /** The connection reached ESTABLISHED (active open), or an accepted one is usable. */
  | { type: 'connected'; socket: SocketId }
  /** New bytes can be read. */
  | { type: 'readable'; socket: SocketId }
  /** Send buffer space was freed after the buffer had been full. */
  | { type: 'writable'; socket: SocketId }
  /** The peer sent FIN: after the buffered bytes, read() returns nothing more. */
  | { type: 'eof'; socket: SocketId }
  /** The connection is over (CLOSED). `error` is set when it ended abnormally. */
  | { type: 'closed'; socket: SocketId; error?: ConnectionErrorCode };

/** Typed errors for misuse of the API (never for bad input from the network). */
export type StackErrorCode =
  | 'EBADF' // unknown or released socket id
  | 'EINVAL' // bad argument or wrong kind of socket for the call
  | 'EADDRINUSE' // listen or connect on a port/4-tuple in use
  | 'EADDRNOTAVAIL' // local address not ours, or no ephemeral port left
  | 'ENOTCONN' // call needs a connection that is not (yet / any more) there
  | 'EPIPE' // write after shutdown/close
  | 'EMFILE'; // maxConnections reached

export class StackError extends Error {
  readonly code: StackErrorCode;
  constructor(code: StackErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'StackError';
    this.code = code;
  }
}

/** Reasons an inbound packet is dropped; each has a counter in StackStats.drops. */
export type DropReason =
  | 'ipv4-truncated'
  | 'ipv4-bad-version'
  | 'ipv4-bad-ihl'
  | 'ipv4-bad-total-length'
  | 'ipv4-bad-checksum'
  | 'ipv4-fragment'
  | 'not-for-us'
  | 'not-tcp'
  | 'tcp-truncated'
  | 'tcp-bad-data-offset'
  | 'tcp-bad-checksum'
  | 'tcp-bad-option'
  | 'bad-port' // port 0 on either side
  | 'unacceptable-segment' // failed the RFC 9293 §3.10.7.4 acceptability test (an ACK is sent)
  | 'bad-ack' // ACK outside the acceptable range
  | 'listen-backlog-full'
  | 'too-many-connections'
  | 'reassembly-full'
  | 'rst-ignored' // RST that failed validation
  | 'syn-ignored'
  | 'no-ack-flag'
  | 'paws' // RFC 7323 §5.3 R1: timestamp older than TS.Recent (an ACK is sent)
  // ICMP (wire/icmp.ts parses, icmp.ts acts):
  | 'icmp-truncated'
  | 'icmp-bad-checksum'
  | 'icmp-not-error' // echo, timestamp, ...: nothing a TCP acts on
  | 'icmp-bad-quote' // the quoted datagram is not IPv4
  | 'icmp-not-tcp' // the quoted datagram is not TCP
  | 'icmp-source-quench' // RFC 6633 §1: silently discarded
  | 'icmp-no-connection' // quotes a segment of no connection we have
  | 'icmp-out-of-window' // RFC 5927 §4.1: quoted sequence number outside SND.UNA..SND.NXT
  | 'icmp-pmtu-not-lower' // RFC 1191 §6.3: a "fragmentation needed" never raises the PMTU
  | 'other';

export interface StackStats {
  packetsIn: number;
  packetsOut: number;
  segmentsIn: number;
  segmentsOut: number;
  bytesIn: number; // payload bytes accepted in sequence
  bytesOut: number; // payload bytes sent, retransmissions included
  retransmits: number; // segments retransmitted (timeout or otherwise)
  timeouts: number; // RTO expirations
  duplicateSegments: number; // segments whose data we had already received
  outOfOrderSegments: number;
  resetsSent: number;
  resetsReceived: number;
  connectionsOpened: number; // reached ESTABLISHED
  connectionsActive: number; // active opens (connect)
  connectionsPassive: number; // passive opens (accepted SYN)
  connectionsReset: number;
  connectionsTimedOut: number;
  drops: Partial<Record<DropReason, number>>;
  /** ICMP errors about our segments that parsed (RFC 792); those acted on or dropped by icmp.ts. */
  icmpIn?: number;
  /** Path MTU decreases from "fragmentation needed" messages (RFC 1191). */
  pmtuDecreases?: number;
  /** RFC 5961 challenge ACKs sent (in-window RST, SYN when synchronized, ACK out of range). */
  challengeAcks?: number;
  /** RFC 5961 §7: challenge ACKs not sent because the per-second limit was reached. */
  challengeAcksThrottled?: number;
  /** Loss recovery episodes entered on duplicate ACKs or SACK (RFC 5681 §3.2 / RFC 6675 §5). */
  fastRecoveries?: number;
  /** Of those, recoveries driven by the SACK scoreboard (RFC 6675); the others are NewReno's (RFC 6582). */
  sackRecoveries?: number;
  /** SACK blocks ignored as invalid (empty, or outside SND.UNA .. SND.MAX; RFC 2018 §3). */
  sackBlocksInvalid?: number;
  /** D-SACK blocks received (RFC 2883 §4). */
  dsacksReceived?: number;
  /** D-SACK blocks sent (RFC 2883). */
  dsacksSent?: number;
  /** Tail loss probes sent (RFC 8985 §7.3). */
  tlpProbes?: number;
  /** Probes that repaired a single loss at the tail (RFC 8985 §7.4.2). */
  tlpLossRepairs?: number;
  /** Segments RACK marked lost (RFC 8985 §6.2 step 5). */
  rackLost?: number;
  /** RFC 4987 §3.6: SYN-ACKs sent with a SYN cookie (the listener's SYN queue was full). */
  synCookiesSent?: number;
  /** Handshake ACKs whose cookie checked out: connections made from a cookie. */
  synCookiesValidated?: number;
  /** ACKs at a listener that had sent cookies recently whose cookie did not check out (answered with a RST). */
  synCookiesFailed?: number;
}

/** A read-only view of one socket, for tests, tools and the replication layer. */
export interface SocketInfo {
  id: SocketId;
  kind: 'listener' | 'connection';
  state: TcpStateName;
  localAddress: Ipv4Addr;
  localPort: number;
  remoteAddress: Ipv4Addr; // 0 for a listener
  remotePort: number; // 0 for a listener
  iss: number;
  irs: number;
  sndUna: number;
  sndNxt: number;
  sndWnd: number;
  rcvNxt: number;
  rcvWnd: number;
  /** Bytes buffered and not yet read by the application. */
  readable: number;
  /** Bytes written by the application and not yet acknowledged by the peer. */
  unacked: number;
  /** Free space in the send buffer (profile 'linux': SO_SNDBUF less sendQueueMemory, at least 0). */
  writable: number;
  /** Profile 'linux': what the send queue counts against SO_SNDBUF (Linux sk_wmem_queued: bytes plus per-buffer overhead). */
  sendQueueMemory?: number;
  rtoMs: number;
  srttMs: number | undefined;
  mss: number; // effective send MSS
  /** Negotiated options (RFC 7323, RFC 2018); absent for listeners. */
  sndWscale?: number;
  rcvWscale?: number;
  timestamps?: boolean;
  sack?: boolean;
  /** Congestion window and slow-start threshold, bytes. */
  cwnd?: number;
  ssthresh?: number;
  congestionControl?: CongestionControlName;
}

/**
 * The stack's whole public API as an interface, implemented by `Stack` (src/tcp/stack.ts).
 * Layers above depend on this (or a `Pick` of it) so tests can wrap or replace the stack.
 * Methods whose result callers ignore return `unknown` so wrappers may return anything.
 */
export interface TcpStack {
  /** Inputs. */
  handlePacket(nowUs: number, bytes: Uint8Array): unknown;
  handleTimeout(nowUs: number): unknown;
  /** Outputs, polled in this order after any input. */
  pollTransmit(): Uint8Array | undefined;
  pollEvent(): StackEvent | undefined;
  /** Next deadline (absolute µs), or undefined when no timer is armed. */
  pollTimeout(): number | undefined;
  /** Socket calls. */
  listen(nowUs: number, options: ListenOptions): SocketId;
  accept(listener: SocketId): SocketId | undefined;
  connect(nowUs: number, options: ConnectOptions): SocketId;
  /**
   * `more`: Linux MSG_MORE, this write's push holds a less-than-full tail (stack.ts); `eor`:
   * Linux MSG_EOR, these bytes end a record that no segment crosses (records.ts).
   */
  write(nowUs: number, socket: SocketId, bytes: Uint8Array, more?: boolean, eor?: boolean): number;
  read(nowUs: number, socket: SocketId, maxBytes?: number): Uint8Array;
  shutdown(nowUs: number, socket: SocketId): unknown;
  close(nowUs: number, socket: SocketId): unknown;
  abort(nowUs: number, socket: SocketId): unknown;
  /** Go-live: retransmit each connection's first unacknowledged segment now, but those in `skip`; returns how many. */
  retransmitUnacked(nowUs: number, skip: ReadonlySet<SocketId>): number;
  setNoDelay(socket: SocketId, on: boolean): unknown;
  setKeepAlive(socket: SocketId, on: boolean): unknown;
  /** Per-socket options of a listener or a connection (those left out keep their value). */
  setSocketOptions(nowUs: number, socket: SocketId, options: SocketOptions): unknown;
  /** The options in force on a listener or a connection, every field filled in. */
  socketOptions(socket: SocketId): Required<SocketOptions>;
  /** Inspection and state. */
  info(socket: SocketId): SocketInfo;
  sockets(): SocketId[];
  stats(): StackStats;
  snapshot(): Uint8Array;
}
