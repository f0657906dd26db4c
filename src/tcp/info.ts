/** Read-only views (SocketInfo, StackStats) of the stack's plain-data state. */
import { MAX_WINDOW } from './config.js';
import { freeSpace, rcvWnd } from './receiver.js';
import { linuxAccounting, sendRoom, wmemQueued } from './sndbuf.js';
import type { Tcb } from './tcb.js';
import type { SocketId, SocketInfo, StackStats } from './types.js';
import type { Ipv4Addr } from '../wire/addr.js';

export function newStats(): StackStats {
  return {
    packetsIn: 0,
    packetsOut: 0,
    segmentsIn: 0,
    segmentsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    retransmits: 0,
    timeouts: 0,
    duplicateSegments: 0,
    outOfOrderSegments: 0,
    resetsSent: 0,
    resetsReceived: 0,
    connectionsOpened: 0,
    connectionsActive: 0,
    connectionsPassive: 0,
    connectionsReset: 0,
    connectionsTimedOut: 0,
    drops: {},
    challengeAcks: 0,
    challengeAcksThrottled: 0,
    fastRecoveries: 0,
    sackRecoveries: 0,
    sackBlocksInvalid: 0,
    dsacksReceived: 0,
    dsacksSent: 0,
    synCookiesSent: 0,
    synCookiesValidated: 0,
    synCookiesFailed: 0,
  };
}

export function listenerInfo(id: SocketId, address: Ipv4Addr, port: number): SocketInfo {
  return {
    id,
    kind: 'listener',
    state: 'LISTEN',
    localAddress: address,
    localPort: port,
    remoteAddress: 0,
    remotePort: 0,
    iss: 0,
    irs: 0,
    sndUna: 0,
    sndNxt: 0,
    sndWnd: 0,
    rcvNxt: 0,
    rcvWnd: 0,
    readable: 0,
    unacked: 0,
    writable: 0,
    rtoMs: 0,
    srttMs: undefined,
    mss: 0,
  };
}

export function connectionInfo(t: Tcb): SocketInfo {
  return {
    id: t.id,
    kind: 'connection',
    state: t.state,
    localAddress: t.localAddr,
    localPort: t.localPort,
    remoteAddress: t.remoteAddr,
    remotePort: t.remotePort,
    iss: t.iss,
    irs: t.irs,
    sndUna: t.sndUna,
    sndNxt: t.sndNxt,
    sndWnd: t.sndWnd,
    rcvNxt: t.rcvNxt,
    rcvWnd: t.state === 'SYN-SENT' ? Math.min(freeSpace(t), MAX_WINDOW) : rcvWnd(t),
    readable: t.rcvBuf.length,
    unacked: t.sndBuf.length,
    writable: t.state === 'CLOSED' || t.finQueued ? 0 : sendRoom(t),
    ...(linuxAccounting(t) ? { sendQueueMemory: wmemQueued(t) } : {}),
    rtoMs: t.rto.rtoUs / 1000,
    srttMs: t.rto.srttUs < 0 ? undefined : t.rto.srttUs / 1000,
    mss: t.sndMss,
    sndWscale: t.sndWscale,
    rcvWscale: t.rcvWscale,
    timestamps: t.tsOk,
    sack: t.sackOk,
    cwnd: t.cc.cwnd,
    ssthresh: t.cc.ssthresh,
    congestionControl: t.cc.algorithm,
  };
}

/** What a stack holds, by count (Stack.held()): the state a flood could make it keep. */
export interface StackHeld {
  /** TCBs, in any state (SYN-RECEIVED and TIME-WAIT included). */
  connections: number;
  /** Of those, in SYN-RECEIVED (half-open). */
  halfOpen: number;
  /** Established connections waiting in the listeners' accept queues. */
  acceptQueued: number;
  /** Packets queued for pollTransmit(). */
  transmitQueued: number;
  /** Events queued for pollEvent(). */
  eventsQueued: number;
  /** Payload bytes held: send buffers, receive buffers and out-of-order queues. */
  bufferedBytes: number;
}

/** Stack.held(): count what the TCBs and listeners hold. */
export function heldCounts(conns: Iterable<Tcb>, listeners: Iterable<{ acceptQueue: readonly number[] }>, transmitQueued: number, eventsQueued: number): StackHeld {
  let connections = 0;
  let halfOpen = 0;
  let bufferedBytes = 0;
  for (const t of conns) {
    connections++;
    if (t.state === 'SYN-RECEIVED') halfOpen++;
    bufferedBytes += t.sndBuf.length + t.rcvBuf.length + t.ooo.bytes;
  }
  let acceptQueued = 0;
  for (const l of listeners) acceptQueued += l.acceptQueue.length;
  return { connections, halfOpen, acceptQueued, transmitQueued, eventsQueued, bufferedBytes };
}
