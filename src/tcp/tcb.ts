/**
 * The transmission control block (RFC 9293 §3.3.1) of one connection, as plain data, and
 * the context through which connection code reaches the stack (emitting packets and
 * events, counting drops). Every field is a number, boolean, string, array or ByteRing,
 * so snapshot.ts serialises it mechanically.
 */
import { ByteRing } from './bytering.js';
import type { ChallengeAckState } from './challenge.js';
import { withSlowStartOptions } from './cc/slow-start.js';
import { congestionControl, type CcState } from './congestion.js';
import type { ResolvedConfig } from './config.js';
import { DEFAULT_PEER_MSS, IP_TCP_HEADER_BYTES } from './config.js';
import { newReassembly, type Reassembly } from './reassembly.js';
import { newRack, type RackState } from './rack.js';
import { newRecovery, type RecoveryState } from './recovery.js';
import { rtoInit, type RtoState } from './rto.js';
import { LINUX_RING_SLACK, setLinuxSndbuf } from './sndbuf.js';
import { newTimers } from './timers.js';
import type { ConnectionErrorCode, DropReason, SocketId, StackStats, TcpStateName } from './types.js';
import type { SackBlock, TcpSegmentFields } from '../wire/tcp.js';

export interface Tcb {
  id: SocketId;
  state: TcpStateName;
  localAddr: number;
  localPort: number;
  remoteAddr: number;
  remotePort: number;
  /** Created by a listener from a SYN (passive OPEN). */
  passive: boolean;
  /** The listener whose queue holds this connection until accept(), or -1. */
  listenerId: number;
  /** The user holds the handle (connect() returned it, or accept() did). */
  visible: boolean;
  /** close() or abort() was called: the handle is released once the TCB is CLOSED. */
  userClosed: boolean;

  // ---- Send sequence variables (RFC 9293 §3.3.1) and the send buffer (sender.ts).
  iss: number;
  sndUna: number;
  /** Next sequence number to send; below sndMax while going back after an RTO. */
  sndNxt: number;
  /** Highest sequence number sent + 1 (BSD snd_max); the RFC's SND.NXT in ACK checks. */
  sndMax: number;
  sndWnd: number;
  sndWl1: number;
  sndWl2: number;
  /** Largest window the peer ever offered (RFC 1122 4.2.3.4 Max(SND.WND); RFC 5961 §5). */
  maxSndWnd: number;
  /** Bytes written and not yet acknowledged, starting at sequence number sndBufSeq. */
  sndBuf: ByteRing;
  sndBufSeq: number;
  /** shutdown()/close() asked for a FIN after the queued data; it sits at sndBufSeq + sndBuf.length. */
  finQueued: boolean;
  /** MSS the peer announced (536 when absent, RFC 9293 §3.7.1). */
  peerMss: number;
  /** Effective send MSS: min(peerMss, mtu - 40). */
  sndMss: number;
  /** Nagle off (RFC 1122 4.2.3.4). */
  noDelay: boolean;
  rto: RtoState;
  /** RTT measurement in progress (Karn: never on a retransmitted segment). */
  rttActive: boolean;
  rttSeq: number;
  rttStartUs: number;
  /** Consecutive retransmission timeouts (RFC 1122 4.2.3.5 R2). */
  retries: number;
  /** The SYN timed out at least once (RFC 6298 (5.7)). */
  synTimedOut: boolean;
  /** Exponent of the persist-timer backoff. */
  persistBackoff: number;
  /** Consecutive duplicate ACKs (RFC 5681 §2). */
  dupAcks: number;
  /** Congestion controller state (congestion.ts, cc/): cwnd, ssthresh, CUBIC's variables. */
  cc: CcState;
  /** Loss recovery state (recovery.ts): RFC 6582 recover, RFC 6675 RecoveryPoint, HighRxt, RescueRxt. */
  rec: RecoveryState;
  /** RFC 6675 scoreboard (sack-scoreboard.ts): SACKed ranges above SND.UNA, sorted, bounded. */
  scoreboard: SackBlock[];
  /** RFC 8985 RACK-TLP state (rack.ts, tlp.ts): the segments in flight with their transmit times, RACK and TLP variables. */
  rack: RackState;
  /** write() could not take everything: emit 'writable' when space frees up. */
  wantWritable: boolean;

  // ---- Options in force (options.ts): RFC 7323 window scale and timestamps, RFC 2018 SACK.
  /** Both SYNs carried a window scale option. */
  wscaleOk: boolean;
  /** Snd.Wind.Shift: shift applied to the windows the peer sends (0 without scaling). */
  sndWscale: number;
  /** Rcv.Wind.Shift: shift applied to the windows we send (0 without scaling). */
  rcvWscale: number;
  /** Both SYNs carried timestamps. */
  tsOk: boolean;
  /** Our TS clock's offset for this connection, ms (isn.ts timestampOffset). */
  tsOffset: number;
  /** TS.Recent (RFC 7323 §4.3): the timestamp to echo. */
  tsRecent: number;
  /** When TS.Recent was last set, µs (RFC 7323 §5.5, the 24-day rule). */
  tsRecentUs: number;
  /** Last.ACK.sent (RFC 7323 §4.3): the ACK field of the last segment we sent. */
  lastAckSent: number;
  /** Both SYNs carried SACK-permitted. */
  sackOk: boolean;
  /** RFC 2018 §4: a sequence number inside each SACK block reported, most recent first (sackblocks.ts). */
  sackRecent: number[];
  /** RFC 2883: [left, right) of a duplicate segment to report in the next ACK, or []. */
  dsack: number[];

  // ---- Receive sequence variables and buffers (receiver.ts).
  irs: number;
  rcvNxt: number;
  /** Furthest right edge of the windows advertised, RCV.NXT + RCV.WND (never moves left). */
  rcvAdv: number;
  rcvBuf: ByteRing;
  ooo: Reassembly;
  /** The peer's FIN has been processed (in order). */
  finReceived: boolean;
  /** Largest segment received, for "ACK every second full-sized segment". */
  rcvMssSeen: number;
  /** In-order bytes received since the last ACK we sent. */
  pendingAckBytes: number;
  /** Quick ACKs left (Linux icsk_ack.quick): in-order data is acknowledged at once while > 0. */
  quickAcks: number;
  /** When in-order data last arrived (µs; Linux icsk_ack.lrcvtime), or -1 before the first. */
  lastDataUs: number;
  /** Send an ACK at the next output. */
  ackNow: boolean;
  /**
   * Send a pure duplicate ACK at the next output, even if data goes out too: an ACK
   * piggybacked on data is not a duplicate ACK to the peer (RFC 5681 §2), so in a
   * two-way transfer a hole would otherwise never trigger its fast retransmit.
   */
  dupAckNow: boolean;

  // ---- Keep-alive (RFC 1122 4.2.3.6).
  keepAlive: boolean;
  lastRecvUs: number;
  keepAliveProbes: number;

  /** Deadlines by Timer kind (timers.ts), -1 = off. */
  timers: number[];
  /** Event coalescing: a 'readable' / 'writable' event is queued and not yet polled. */
  readablePending: boolean;
  writablePending: boolean;

  // ---- Per-socket options (sockopts.ts). Absent = off, so a TCB that never had one
  // snapshots and hashes as before they existed.
  /** MSS clamp (Linux TCP_MAXSEG), bytes. */
  mssClamp?: number;
  /** Linux TCP_CORK: hold less-than-full segments. */
  cork?: boolean;
  /** RFC 9293 §3.8.3 user timeout, ms. */
  userTimeoutMs?: number;
  /** The IPv4 TOS byte (RFC 9293 MUST-48), when not 0; DF off (IP_PMTUDISC_DONT), when true. */
  tos?: number;
  noDf?: boolean;
  /** Linux TCP_NOTSENT_LOWAT, bytes (profile 'linux': sndbuf.ts); absent = no limit. */
  notSentLowat?: number;
  /** When the user timeout started counting (µs), and the SND.UNA it counts for. */
  userTimeoutFromUs?: number;
  userTimeoutUna?: number;
  /** Path MTU learnt for this connection from ICMP (RFC 1191, icmp.ts); absent: the link's. */
  pmtu?: number;
  /** The last soft ICMP error (RFC 1122 4.2.3.9, icmp.ts): what a later timeout reports. */
  softError?: ConnectionErrorCode;
  /** When the persist timer's probing under a user timeout began (µs). */
  userTimeoutProbeUs?: number;
  /** MSG_EOR (records.ts): sequence numbers just after each record's last byte, not yet acknowledged; ascending. */
  recordEnds?: number[];
}

export type UserEvent = 'connected' | 'readable' | 'writable' | 'eof';

/** What connection code needs from the stack. */
export interface Ctx {
  readonly cfg: ResolvedConfig;
  readonly stats: StackStats;
  /** The time of the input being processed (µs). */
  readonly now: number;
  /** RFC 5961 §7: the stack's challenge-ACK rate counter (challenge.ts). */
  readonly challenge: ChallengeAckState;
  /** Put one segment on the wire, from the TCB's local endpoint to its remote one. */
  transmit(tcb: Tcb, seg: TcpSegmentFields): void;
  drop(reason: DropReason): void;
  event(tcb: Tcb, type: UserEvent): void;
  /** The TCB entered ESTABLISHED. */
  onEstablished(tcb: Tcb): void;
  /** The TCB entered CLOSED: the stack unlinks it (and frees it when no handle holds it). */
  onClosed(tcb: Tcb, error?: ConnectionErrorCode): void;
}

export interface TcbInit {
  id: SocketId;
  state: TcpStateName;
  localAddr: number;
  localPort: number;
  remoteAddr: number;
  remotePort: number;
  passive: boolean;
  listenerId: number;
  visible: boolean;
  iss: number;
  nowUs: number;
  /** Offset of the connection's TS clock (isn.ts timestampOffset). */
  tsOffset: number;
}

export function ourMss(cfg: ResolvedConfig, tcb?: Tcb): number {
  const mss = cfg.mtu - IP_TCP_HEADER_BYTES;
  // RFC 6691 / RFC 9293 §3.7.1: the user may ask for a smaller MSS (Linux TCP_MAXSEG).
  return tcb?.mssClamp === undefined ? mss : Math.min(mss, tcb.mssClamp);
}

export function createTcb(cfg: ResolvedConfig, init: TcbInit): Tcb {
  const mss = Math.min(DEFAULT_PEER_MSS, ourMss(cfg));
  const linux = cfg.profile === 'linux';
  const tcb: Tcb = {
    id: init.id,
    state: init.state,
    localAddr: init.localAddr,
    localPort: init.localPort,
    remoteAddr: init.remoteAddr,
    remotePort: init.remotePort,
    passive: init.passive,
    listenerId: init.listenerId,
    visible: init.visible,
    userClosed: false,
    iss: init.iss,
    sndUna: init.iss,
    sndNxt: init.iss,
    sndMax: init.iss,
    sndWnd: 0,
    sndWl1: 0,
    sndWl2: 0,
    maxSndWnd: 0,
    // Profile 'linux' counts the buffer as Linux does (sndbuf.ts): the ring leaves room beyond it.
    sndBuf: new ByteRing(cfg.sendBufferBytes + (linux ? LINUX_RING_SLACK : 0)),
    sndBufSeq: (init.iss + 1) >>> 0,
    finQueued: false,
    peerMss: DEFAULT_PEER_MSS,
    sndMss: mss,
    noDelay: false,
    rto: rtoInit(cfg),
    rttActive: false,
    rttSeq: 0,
    rttStartUs: 0,
    retries: 0,
    synTimedOut: false,
    persistBackoff: 0,
    dupAcks: 0,
    cc: withSlowStartOptions(congestionControl(cfg.congestionControl).init(mss), cfg),
    rec: newRecovery(init.iss),
    scoreboard: [],
    rack: newRack(init.iss),
    wantWritable: false,
    wscaleOk: false,
    sndWscale: 0,
    rcvWscale: 0,
    tsOk: false,
    tsOffset: init.tsOffset >>> 0,
    tsRecent: 0,
    tsRecentUs: init.nowUs,
    lastAckSent: 0,
    sackOk: false,
    sackRecent: [],
    dsack: [],
    irs: 0,
    rcvNxt: 0,
    rcvAdv: 0,
    rcvBuf: new ByteRing(cfg.recvBufferBytes),
    ooo: newReassembly(),
    finReceived: false,
    rcvMssSeen: mss,
    pendingAckBytes: 0,
    quickAcks: 0,
    lastDataUs: -1,
    ackNow: false,
    dupAckNow: false,
    keepAlive: false,
    lastRecvUs: init.nowUs,
    keepAliveProbes: 0,
    timers: newTimers(),
    readablePending: false,
    writablePending: false,
  };
  if (linux) setLinuxSndbuf(tcb, cfg.sendBufferBytes);
  return tcb;
}

/** States in which our side may still send data or a FIN, or retransmit them. */
export function canSendData(state: TcpStateName): boolean {
  return state === 'ESTABLISHED' || state === 'CLOSE-WAIT' || state === 'FIN-WAIT-1' || state === 'CLOSING' || state === 'LAST-ACK';
}

/** States in which the peer may still send us data (RFC 9293 §3.10.7.4, seventh step). */
export function canReceiveData(state: TcpStateName): boolean {
  return state === 'ESTABLISHED' || state === 'FIN-WAIT-1' || state === 'FIN-WAIT-2';
}

/** Sequence number of our FIN (meaningful once finQueued: no data is added after it). */
export function finSeq(tcb: Tcb): number {
  return (tcb.sndBufSeq + tcb.sndBuf.length) >>> 0;
}

/** Our FIN has been acknowledged. */
export function finAcked(tcb: Tcb): boolean {
  return tcb.finQueued && tcb.sndUna === ((finSeq(tcb) + 1) >>> 0);
}
