/**
 * Per-socket options: buffer sizes (RFC 9293 §3.8.6: the window offered is bounded by the
 * receive buffer; the send buffer bounds what write() queues), the MSS clamp (RFC 9293
 * §3.7.1 / RFC 6691, Linux TCP_MAXSEG), the user timeout (RFC 9293 §3.8.3, Linux
 * TCP_USER_TIMEOUT) and TCP_CORK (a Linux socket option, not an RFC one).
 *
 * A listener's options are inherited by the connections it accepts, as Linux's are (the
 * child socket is a clone of the listener). On a TCB an option that is off is absent, so
 * a TCB that never had one snapshots and hashes exactly as before these options existed.
 */
import { ByteRing } from './bytering.js';
import { MIN_MSS, type ResolvedConfig } from './config.js';
import { LINUX_RING_SLACK, linuxSndbuf, setLinuxSndbuf } from './sndbuf.js';
import type { Ctx, Tcb } from './tcb.js';
import { Timer } from './timers.js';
import { StackError, type SocketOptions } from './types.js';

/** The largest MSS a clamp may name (Linux MAX_TCP_WINDOW). */
const MAX_MSS_CLAMP = 32_767;
/** The largest buffer a socket may ask for (the config's own bound). */
const MAX_BUFFER = 1 << 30;

function check(name: keyof SocketOptions, v: unknown, ok: (n: number) => boolean, what: string): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || !ok(v)) throw new StackError('EINVAL', `socket option ${name} must be ${what}, got ${String(v)}`);
}

/** Bad values are API misuse: StackError EINVAL. */
export function validateOptions(o: SocketOptions | undefined): void {
  if (o === undefined) return;
  if (o === null || typeof o !== 'object') throw new StackError('EINVAL', 'socket options must be an object');
  check('recvBufferBytes', o.recvBufferBytes, (n) => n >= 1 && n <= MAX_BUFFER, `an integer in [1, ${MAX_BUFFER}]`);
  check('sendBufferBytes', o.sendBufferBytes, (n) => n >= 1 && n <= MAX_BUFFER, `an integer in [1, ${MAX_BUFFER}]`);
  check('maxSegment', o.maxSegment, (n) => n === 0 || (n >= MIN_MSS && n <= MAX_MSS_CLAMP), `0 or an integer in [${MIN_MSS}, ${MAX_MSS_CLAMP}]`);
  check('userTimeoutMs', o.userTimeoutMs, (n) => n >= 0 && n <= 0x7fffffff, 'a non-negative integer');
  check('notSentLowat', o.notSentLowat, (n) => n >= 0 && n <= 0xffffffff, 'an integer in [0, 2^32 - 1]');
  check('tos', o.tos, (n) => n >= 0 && n <= 255, 'an integer in [0, 255]');
  for (const k of ['cork', 'noDelay', 'dontFragment'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new StackError('EINVAL', `socket option ${k} must be a boolean, got ${String(o[k])}`);
  }
}

/** `base` with the options given in `o` replacing its own (a listener's stored set). */
export function mergeOptions(base: SocketOptions | undefined, o: SocketOptions): SocketOptions {
  const out: SocketOptions = { ...base };
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** Every option filled in: what a socket without any set has, from the config. */
export function filledOptions(cfg: ResolvedConfig, o: SocketOptions | undefined): Required<SocketOptions> {
  return {
    recvBufferBytes: o?.recvBufferBytes ?? cfg.recvBufferBytes,
    sendBufferBytes: o?.sendBufferBytes ?? cfg.sendBufferBytes,
    maxSegment: o?.maxSegment ?? 0,
    userTimeoutMs: o?.userTimeoutMs ?? 0,
    notSentLowat: o?.notSentLowat ?? 0,
    cork: o?.cork ?? false,
    noDelay: o?.noDelay ?? false,
    tos: o?.tos ?? 0,
    dontFragment: o?.dontFragment ?? true,
  };
}

/** What a connection has in force. */
export function tcbOptions(cfg: ResolvedConfig, tcb: Tcb): Required<SocketOptions> {
  return {
    ...filledOptions(cfg, undefined),
    recvBufferBytes: tcb.rcvBuf.limit,
    sendBufferBytes: linuxSndbuf(tcb) ?? tcb.sndBuf.limit,
    maxSegment: tcb.mssClamp ?? 0,
    userTimeoutMs: tcb.userTimeoutMs ?? 0,
    notSentLowat: tcb.notSentLowat ?? 0,
    cork: tcb.cork ?? false,
    noDelay: tcb.noDelay,
    tos: tcb.tos ?? 0,
    dontFragment: tcb.noDf !== true,
  };
}

/** A ring of a new size holding what the old one held (never less than that). */
function resized(ring: ByteRing, limit: number): ByteRing {
  if (ring.limit === limit) return ring;
  return ByteRing.from(Math.max(limit, ring.length), ring.toBytes());
}

/**
 * Apply options to a connection. A smaller receive buffer never takes back window already
 * offered (RFC 9293 §3.8.6: shrinking the window is strongly discouraged; receiver.ts keeps
 * the right edge). The MSS clamp applies at the handshake (options.ts negotiate).
 */
export function applyOptions(tcb: Tcb, o: SocketOptions | undefined): void {
  if (o === undefined) return;
  if (o.recvBufferBytes !== undefined) tcb.rcvBuf = resized(tcb.rcvBuf, o.recvBufferBytes);
  if (o.sendBufferBytes !== undefined) {
    // Profile 'linux': SO_SNDBUF counts buffers with their overhead (sndbuf.ts); the ring keeps room beyond it.
    const linux = linuxSndbuf(tcb) !== undefined;
    if (linux) setLinuxSndbuf(tcb, o.sendBufferBytes);
    tcb.sndBuf = resized(tcb.sndBuf, o.sendBufferBytes + (linux ? LINUX_RING_SLACK : 0));
  }
  if (o.notSentLowat !== undefined) setOptional(tcb, 'notSentLowat', o.notSentLowat === 0 ? undefined : o.notSentLowat);
  if (o.maxSegment !== undefined) setOptional(tcb, 'mssClamp', o.maxSegment === 0 ? undefined : o.maxSegment);
  if (o.cork !== undefined) setOptional(tcb, 'cork', o.cork ? true : undefined);
  if (o.noDelay !== undefined) tcb.noDelay = o.noDelay;
  if (o.tos !== undefined) setOptional(tcb, 'tos', o.tos === 0 ? undefined : o.tos);
  if (o.dontFragment !== undefined) setOptional(tcb, 'noDf', o.dontFragment ? undefined : true);
  if (o.userTimeoutMs !== undefined) {
    setOptional(tcb, 'userTimeoutMs', o.userTimeoutMs === 0 ? undefined : o.userTimeoutMs);
    if (o.userTimeoutMs === 0) {
      delete tcb.userTimeoutFromUs;
      delete tcb.userTimeoutUna;
      delete tcb.userTimeoutProbeUs;
    }
  }
}

function setOptional<K extends 'mssClamp' | 'cork' | 'userTimeoutMs' | 'tos' | 'noDf' | 'notSentLowat'>(tcb: Tcb, key: K, value: Tcb[K] | undefined): void {
  if (value === undefined) delete tcb[key];
  else tcb[key] = value;
}

// ---------------------------------------------------------------- the user timeout

/**
 * RFC 9293 §3.8.3: with a user timeout, the retransmission timer gives up when data (or
 * the SYN) has gone unacknowledged that long, whatever the retry count (the "USER
 * TIMEOUT" event of §3.10.8). As Linux (retrans_stamp), the time counts from the first
 * retransmission at this SND.UNA, and for a SYN from the SYN itself (`rtoUs` earlier,
 * nothing restarts that timer); the first expiry at this SND.UNA always retransmits, so a
 * timeout shorter than the RTO still gets one retransmission. Call at every
 * retransmission-timer expiry, before retransmitting.
 */
export function retransmitTimedOut(ctx: Ctx, tcb: Tcb, rtoUs: number): boolean {
  const limit = tcb.userTimeoutMs;
  if (limit === undefined) return false;
  if (tcb.userTimeoutFromUs === undefined || tcb.userTimeoutUna !== tcb.sndUna) {
    // The first expiry always retransmits (Linux: nothing has been retransmitted yet).
    const syn = tcb.state === 'SYN-SENT' || tcb.state === 'SYN-RECEIVED';
    tcb.userTimeoutFromUs = syn ? ctx.now - rtoUs : ctx.now;
    tcb.userTimeoutUna = tcb.sndUna;
    return false;
  }
  return ctx.now - tcb.userTimeoutFromUs >= limit * 1000;
}

/** After a retransmission: the timer fires no later than when the user timeout runs out (Linux tcp_clamp_rto_to_user_timeout). */
export function clampRetransmitTimer(tcb: Tcb): void {
  const t = tcb.timers[Timer.Retransmit]!;
  if (tcb.userTimeoutMs === undefined || tcb.userTimeoutFromUs === undefined || t < 0) return;
  tcb.timers[Timer.Retransmit] = Math.min(t, tcb.userTimeoutFromUs + tcb.userTimeoutMs * 1000);
}

/**
 * Zero-window probing under a user timeout: the connection ends once the peer has kept the
 * window closed that long since the first probe, as Linux does (TCP_USER_TIMEOUT is the
 * user's choice to bound the wait; without one, probing goes on as long as the peer
 * answers, RFC 9293 §3.8.6.1). Call at every persist-timer expiry.
 */
export function persistTimedOut(ctx: Ctx, tcb: Tcb): boolean {
  const limit = tcb.userTimeoutMs;
  if (limit === undefined) return false;
  if (tcb.sndWnd > 0 || tcb.userTimeoutProbeUs === undefined) {
    // A window that opened since: the probing (if any) starts over.
    if (tcb.sndWnd > 0) delete tcb.userTimeoutProbeUs;
    else tcb.userTimeoutProbeUs = ctx.now;
    return false;
  }
  return ctx.now - tcb.userTimeoutProbeUs >= limit * 1000;
}

/**
 * Keep-alive under a user timeout (Linux tcp_keepalive_timer): the connection ends when at
 * least one probe went unanswered and nothing has been received for the user timeout,
 * instead of after a count of probes. Returns undefined without a user timeout (the probe
 * count decides).
 */
export function keepAliveTimedOut(ctx: Ctx, tcb: Tcb): boolean | undefined {
  const limit = tcb.userTimeoutMs;
  if (limit === undefined) return undefined;
  return tcb.keepAliveProbes > 0 && ctx.now - tcb.lastRecvUs >= limit * 1000;
}
