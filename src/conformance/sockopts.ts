/**
 * setsockopt, getsockopt and ioctl as a script sees them on the ftcp target, mapped onto
 * the Stack's per-socket options (src/tcp/sockopts.ts). Linux is the model for what the
 * calls return: SO_RCVBUF/SO_SNDBUF report twice the size set (socket(7): the kernel
 * doubles it for its bookkeeping), within Linux's default bounds; the stack's buffer is
 * the size asked for, the data bytes Linux's doubling leaves room for.
 */
import type { ResolvedConfig } from '../tcp/config.js';
import { filledOptions } from '../tcp/sockopts.js';
import type { SocketId, SocketOptions } from '../tcp/types.js';
import { describeErrno, ERRNO } from './errno.js';
import { evaluate, exprText, structField, unwrapArray, type EvalContext } from './exprs.js';
import type { Expr } from './script.js';
import { setTimestamping, type Timestamping } from './timestamping.js';
import type { ConformanceStack } from './target.js';

/** Linux's net.core.rmem_max / wmem_max defaults: the most SO_RCVBUF/SO_SNDBUF take. */
const LINUX_BUF_MAX = 212_992;
/** Linux's SOCK_MIN_RCVBUF / SOCK_MIN_SNDBUF (x86-64): the least getsockopt reports. */
const LINUX_MIN_RCVBUF = 2304;
const LINUX_MIN_SNDBUF = 4608;
/** Linux TCP_MIN_MSS and MAX_TCP_WINDOW: the range TCP_MAXSEG accepts (0 clears it). */
const TCP_MIN_MSS = 88;
const MAX_TCP_WINDOW = 32_767;

/** What these calls need of a descriptor (sockets.ts Fd). */
export interface OptionFd {
  kind: 'socket' | 'listener' | 'connection' | 'epoll' | 'file' | 'pipe';
  socket: SocketId | undefined;
  noDelay: boolean;
  keepAlive: boolean;
  reuseAddr: boolean;
  /** SO_LINGER {onoff=1, linger=0}: close() aborts (RST). */
  lingerZero: boolean;
  /** Options set before the socket is a listener or a connection, given to the stack then. */
  options: SocketOptions;
  /** What getsockopt SO_RCVBUF / SO_SNDBUF report once set (twice the size asked for). */
  rcvBufReported: number | undefined;
  sndBufReported: number | undefined;
  /** TCP_NOTSENT_LOWAT as set (0: the sysctl's, no limit); socket-layer, readiness.ts. */
  notSentLowat: number;
  /** TCP_INQ: recvmsg adds a TCP_CM_INQ control message. */
  inq: boolean;
  /** SO_ZEROCOPY: accepted; the bytes are still copied and no completion is ever queued. */
  zeroCopy: boolean;
  /** IP_MTU_DISCOVER as set (undefined: Linux's default, IP_PMTUDISC_WANT). */
  pmtuDisc?: number;
  /** IP_FREEBIND as set: binding to an address not (yet) local is allowed. */
  freeBind?: boolean;
  /** Bytes written on this connection so far (the stream offset), and SO_TIMESTAMPING's state. */
  written: number;
  timestamping?: Timestamping;
}

export interface OptionContext extends EvalContext {
  readonly stack: ConformanceStack;
  readonly now: number;
  readonly config: ResolvedConfig;
  warn(message: string): void;
  mismatch(expected: string, actual: string): never;
  /** The socket's SO_ERROR, taken (reported once). */
  takeSoError(fd: OptionFd): string | undefined;
}

export type OptionOutcome = { value: number; errno?: string };
const ok = (value: number): OptionOutcome => ({ value });
const err = (errno: string): OptionOutcome => ({ value: -1, errno });

/** Give the stack an option: at once on a live socket, else kept for listen()/connect(). */
function setOption(ctx: OptionContext, fd: OptionFd, o: SocketOptions): void {
  Object.assign(fd.options, o);
  if (fd.socket !== undefined) ctx.stack.setSocketOptions(ctx.now, fd.socket, o);
}

export function setsockopt(ctx: OptionContext, fd: OptionFd, name: string, valueExpr: Expr): OptionOutcome {
  if (name === 'SO_LINGER') {
    const onoff = structField(ctx, valueExpr, 'onoff');
    const linger = structField(ctx, valueExpr, 'linger');
    fd.lingerZero = onoff !== 0 && linger === 0;
    if (onoff !== 0 && linger !== 0) ctx.warn(`SO_LINGER with linger=${linger}: close() does not wait for unsent data`);
    return ok(0);
  }
  const value = evaluate(ctx, unwrapArray(valueExpr));
  switch (name) {
    case 'SO_REUSEADDR':
      fd.reuseAddr = value !== 0;
      return ok(0);
    case 'TCP_NODELAY':
      fd.noDelay = value !== 0;
      // Through the options, so that turning Nagle off pushes what is held (a cork's too), as on Linux.
      if (fd.kind === 'connection') ctx.stack.setSocketOptions(ctx.now, fd.socket!, { noDelay: fd.noDelay });
      return ok(0);
    case 'SO_KEEPALIVE':
      fd.keepAlive = value !== 0;
      if (fd.kind === 'connection') ctx.stack.setKeepAlive(fd.socket!, fd.keepAlive);
      return ok(0);
    case 'SO_RCVBUF':
    case 'SO_SNDBUF': {
      // socket(7): the value is doubled; Linux bounds it by rmem_max/wmem_max and a floor.
      const rcv = name === 'SO_RCVBUF';
      const reported = Math.max(2 * Math.min(Math.max(value, 0), LINUX_BUF_MAX), rcv ? LINUX_MIN_RCVBUF : LINUX_MIN_SNDBUF);
      if (rcv) fd.rcvBufReported = reported;
      else fd.sndBufReported = reported;
      // Profile 'linux' counts the send buffer as Linux does, overhead included (src/tcp/sndbuf.ts): all of it.
      const send = ctx.config.profile === 'linux' ? reported : reported / 2;
      setOption(ctx, fd, rcv ? { recvBufferBytes: reported / 2 } : { sendBufferBytes: send });
      return ok(0);
    }
    case 'TCP_MAXSEG':
      if (value !== 0 && (value < TCP_MIN_MSS || value > MAX_TCP_WINDOW)) return err('EINVAL');
      setOption(ctx, fd, { maxSegment: value });
      return ok(0);
    case 'TCP_CORK':
      setOption(ctx, fd, { cork: value !== 0 });
      return ok(0);
    case 'TCP_USER_TIMEOUT':
      if (value < 0) return err('EINVAL');
      setOption(ctx, fd, { userTimeoutMs: value });
      return ok(0);
    case 'TCP_NOTSENT_LOWAT':
      fd.notSentLowat = value >>> 0;
      // Profile 'linux': the stack applies it per send buffer (src/tcp/sndbuf.ts).
      if (ctx.config.profile === 'linux') setOption(ctx, fd, { notSentLowat: fd.notSentLowat });
      return ok(0);
    case 'TCP_INQ':
      fd.inq = value !== 0;
      return ok(0);
    case 'SO_ZEROCOPY':
      fd.zeroCopy = value !== 0;
      return ok(0);
    case 'SO_TIMESTAMPING':
      fd.timestamping = setTimestamping(fd.timestamping, value >>> 0, fd.written);
      return ok(0);
    case 'IP_TOS':
      // ip(7): on a TCP socket the two ECN bits stay the stack's own (Linux keeps them).
      setOption(ctx, fd, { tos: value & 0xfc });
      return ok(0);
    case 'IP_MTU_DISCOVER':
      // ip(7): DONT clears DF (and the stack then ignores "fragmentation needed"); the other modes set it.
      if (value < 0 || value > 5) return err('EINVAL');
      fd.pmtuDisc = value;
      setOption(ctx, fd, { dontFragment: value !== 0 });
      return ok(0);
    case 'IP_FREEBIND':
      // ip(7): bind() may name an address not local yet. A script binds the stack's own
      // address or none, so the flag is kept for getsockopt and changes nothing else.
      fd.freeBind = value !== 0;
      return ok(0);
    default:
      return err('ENOPROTOOPT');
  }
}

/** The options in force: the stack's on a live socket, else those kept for it. */
function current(ctx: OptionContext, fd: OptionFd): Required<SocketOptions> {
  return fd.socket !== undefined ? ctx.stack.socketOptions(fd.socket) : filledOptions(ctx.config, fd.options);
}

export function getsockopt(ctx: OptionContext, fd: OptionFd, name: string, valueExpr: Expr): OptionOutcome {
  if (name === 'SO_LINGER') {
    if (valueExpr.kind !== 'ellipsis') {
      const onoff = structField(ctx, valueExpr, 'onoff');
      const linger = structField(ctx, valueExpr, 'linger');
      const actual = fd.lingerZero ? [1, 0] : [0, 0];
      if (onoff !== actual[0] || linger !== actual[1]) {
        ctx.mismatch(`SO_LINGER {onoff=${onoff}, linger=${linger}}`, `{onoff=${actual[0]}, linger=${actual[1]}}`);
      }
    }
    return ok(0);
  }
  let actual: number;
  let shown: string | undefined;
  switch (name) {
    case 'SO_ERROR': {
      const e = ctx.takeSoError(fd);
      actual = e === undefined ? 0 : ERRNO[e]!.value;
      shown = e === undefined ? undefined : describeErrno(e);
      break;
    }
    case 'SO_REUSEADDR':
      actual = fd.reuseAddr ? 1 : 0;
      break;
    case 'TCP_NODELAY':
      actual = fd.noDelay ? 1 : 0;
      break;
    case 'SO_KEEPALIVE':
      actual = fd.keepAlive ? 1 : 0;
      break;
    case 'SO_RCVBUF':
      actual = fd.rcvBufReported ?? current(ctx, fd).recvBufferBytes;
      break;
    case 'SO_SNDBUF':
      actual = fd.sndBufReported ?? current(ctx, fd).sendBufferBytes;
      break;
    case 'TCP_MAXSEG': {
      // Linux: the MSS in use on a connection, the clamp asked for on a socket or listener.
      const clamp = current(ctx, fd).maxSegment;
      if (fd.kind === 'connection') actual = ctx.stack.info(fd.socket!).mss;
      else actual = clamp !== 0 ? clamp : ctx.config.mtu - 40;
      break;
    }
    case 'TCP_CORK':
      actual = current(ctx, fd).cork ? 1 : 0;
      break;
    case 'TCP_USER_TIMEOUT':
      actual = current(ctx, fd).userTimeoutMs;
      break;
    case 'TCP_NOTSENT_LOWAT':
      actual = fd.notSentLowat;
      break;
    case 'TCP_INQ':
      actual = fd.inq ? 1 : 0;
      break;
    case 'SO_ZEROCOPY':
      actual = fd.zeroCopy ? 1 : 0;
      break;
    case 'SO_TIMESTAMPING':
      actual = fd.timestamping?.flags ?? 0;
      break;
    case 'IP_TOS':
      actual = current(ctx, fd).tos;
      break;
    case 'IP_MTU_DISCOVER':
      actual = fd.pmtuDisc ?? 1; // Linux's default, ip_no_pmtu_disc = 0: IP_PMTUDISC_WANT
      break;
    case 'IP_FREEBIND':
      actual = fd.freeBind === true ? 1 : 0;
      break;
    default:
      return err('ENOPROTOOPT');
  }
  const inner = unwrapArray(valueExpr);
  if (inner.kind !== 'ellipsis') {
    const expected = evaluate(ctx, inner);
    if (expected !== actual && expected >>> 0 !== actual) ctx.mismatch(`${name} = ${exprText(inner)}`, `${name} = ${shown ?? actual}`);
  }
  return ok(0);
}

/**
 * ioctl(2) on a TCP socket (tcp(7)): SIOCINQ (= FIONREAD) the bytes received and not yet
 * read, SIOCOUTQ the bytes written and not yet acknowledged. A listener has neither:
 * EINVAL, as on Linux. `gone` is a connection that has ended (nothing queued any more).
 */
export function ioctl(ctx: OptionContext, fd: OptionFd, request: string, arg: Expr, gone: boolean): OptionOutcome {
  if (fd.kind === 'listener') return err('EINVAL');
  let actual = 0;
  if (fd.kind === 'connection' && !gone) {
    const info = ctx.stack.info(fd.socket!);
    actual = request === 'SIOCOUTQ' ? info.unacked : info.readable;
  }
  const inner = unwrapArray(arg);
  if (inner.kind !== 'ellipsis') {
    const expected = evaluate(ctx, inner);
    if (expected !== actual) ctx.mismatch(`${request} = ${exprText(inner)}`, `${request} = ${actual}`);
  }
  return ok(0);
}
