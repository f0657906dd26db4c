/**
 * A script's socket call as the linux target's helper makes it (helper-py.ts): arguments
 * evaluated here, descriptors kept as the script numbers them. A call, option or flag the
 * helper cannot make is `unsupported` (the script's ERROR at that line), never skipped.
 */
import { formatIpv4Addr } from '../../wire/addr.js';
import type { Expr, SyscallEvent } from '../script.js';
import type { RunSettings } from '../settings.js';
import { evaluate, exprText, intArg, iovLengths, sockaddr, structField, unwrapArray, wordArg } from '../exprs.js';
import { pollEntries } from '../readiness.js';

export interface CallPlan {
  /** What the helper is sent (without id and op). */
  args: Record<string, unknown>;
  /** Whether the call may block (run in the helper's call thread). */
  mayBlock: boolean;
}

export interface PlanContext {
  settings: RunSettings;
  unsupported(message: string): never;
}

/** setsockopt/getsockopt levels and names the helper knows (helper-py.ts LEVELS, OPTS). */
const LEVELS = new Set(['SOL_SOCKET', 'IPPROTO_TCP', 'SOL_TCP', 'IPPROTO_IP', 'SOL_IP']);
const OPTIONS = new Set([
  'SO_REUSEADDR', 'SO_REUSEPORT', 'SO_KEEPALIVE', 'SO_RCVBUF', 'SO_SNDBUF', 'SO_ERROR', 'SO_LINGER', 'SO_RCVLOWAT',
  'TCP_NODELAY', 'TCP_MAXSEG', 'TCP_CORK', 'TCP_KEEPIDLE', 'TCP_KEEPINTVL', 'TCP_KEEPCNT', 'TCP_SYNCNT', 'TCP_LINGER2',
  'TCP_DEFER_ACCEPT', 'TCP_WINDOW_CLAMP', 'TCP_QUICKACK', 'TCP_USER_TIMEOUT', 'TCP_NOTSENT_LOWAT', 'IP_TOS', 'IP_TTL', 'IP_MTU_DISCOVER', 'IP_FREEBIND',
]);
const MSG_FLAGS = new Set(['MSG_PEEK', 'MSG_DONTWAIT', 'MSG_WAITALL', 'MSG_MORE', 'MSG_EOR', 'MSG_NOSIGNAL', 'MSG_OOB']);
const HOW = new Set(['SHUT_RD', 'SHUT_WR', 'SHUT_RDWR']);
const IOCTLS = new Set(['SIOCINQ', 'FIONREAD', 'SIOCOUTQ']);


function msgFlags(ctx: PlanContext, arg: Expr | undefined): string[] {
  if (arg === undefined || (arg.kind === 'int' && arg.value === 0)) return [];
  const items = arg.kind === 'or' ? arg.items : [arg];
  return items.flatMap((item) => {
    if (item.kind === 'int' && item.value === 0) return [];
    if (item.kind === 'word' && MSG_FLAGS.has(item.name)) return [item.name];
    return ctx.unsupported(`the linux target cannot pass the flag ${exprText(item)} (it knows ${[...MSG_FLAGS].join(', ')})`);
  });
}

function sockopt(ctx: PlanContext, e: SyscallEvent): { level: string; opt: string } {
  const level = wordArg(e, 1);
  const opt = wordArg(e, 2);
  if (!LEVELS.has(level)) ctx.unsupported(`the linux target cannot use the socket option level ${exprText(e.args[1] ?? e.result)}`);
  if (!OPTIONS.has(opt)) ctx.unsupported(`the linux target cannot use the socket option ${exprText(e.args[2] ?? e.result)}`);
  return { level, opt };
}

/**
 * The helper's form of call `e`. `newFd` is the descriptor a socket() or accept() is to
 * return (the script's choice, or the lowest free one).
 */
export function planCall(ctx: PlanContext, e: SyscallEvent, newFd: () => number): CallPlan {
  const s = ctx.settings;
  const fd = intArg(e, 0);
  const quick = (args: Record<string, unknown>): CallPlan => ({ args: { call: e.name, ...args }, mayBlock: false });
  const blocking = (args: Record<string, unknown>): CallPlan => ({ args: { call: e.name, ...args }, mayBlock: true });
  switch (e.name) {
    case 'socket': {
      const type = e.args[1];
      if (type?.kind === 'word' && type.name !== 'SOCK_STREAM') ctx.unsupported(`only SOCK_STREAM sockets are supported, got ${type.name}`);
      return quick({ newfd: newFd() });
    }
    case 'bind': {
      const sa = sockaddr(ctx, e.args[1]!);
      return quick({ fd, addr: sa.address === undefined ? '0.0.0.0' : formatIpv4Addr(sa.address), port: sa.port ?? s.bindPort });
    }
    case 'listen':
      return quick({ fd, backlog: intArg(e, 1) });
    case 'accept':
      return blocking({ fd, newfd: newFd() });
    case 'connect': {
      const sa = sockaddr(ctx, e.args[1]!);
      return blocking({ fd, addr: formatIpv4Addr(sa.address ?? s.remoteAddress), port: sa.port ?? s.connectPort });
    }
    case 'write':
    case 'read':
      return blocking({ fd, len: intArg(e, 2) });
    case 'send':
    case 'recv':
      return blocking({ fd, len: intArg(e, 2), flags: msgFlags(ctx, e.args[3]) });
    case 'shutdown': {
      const how = wordArg(e, 1);
      if (!HOW.has(how)) ctx.unsupported(`shutdown needs SHUT_RD, SHUT_WR or SHUT_RDWR, got ${exprText(e.args[1] ?? e.result)}`);
      return quick({ fd, how });
    }
    case 'close':
      return blocking({ fd });
    case 'fcntl': {
      const cmd = wordArg(e, 1);
      if (cmd === 'F_GETFL') return quick({ fd, cmd });
      if (cmd !== 'F_SETFL' || e.args[2] === undefined) return ctx.unsupported(`fcntl supports F_GETFL and F_SETFL with flags, got ${cmd}`);
      return quick({ fd, cmd, arg: evaluate(ctx, e.args[2]) });
    }
    case 'setsockopt': {
      const { level, opt } = sockopt(ctx, e);
      const v = e.args[3]!;
      if (opt === 'SO_LINGER') return quick({ fd, level, opt, onoff: structField(ctx, v, 'onoff'), linger: structField(ctx, v, 'linger') });
      return quick({ fd, level, opt, value: evaluate(ctx, unwrapArray(v)) });
    }
    case 'getsockopt':
      return quick({ fd, ...sockopt(ctx, e) });
    case 'sendmsg':
      return blocking({ fd, iov: iovLengths(e.args[1]!), flags: msgFlags(ctx, e.args[2]) });
    case 'poll':
      return blocking({ entries: pollEntries(ctx, e.args[0]!), timeout: evaluate(ctx, e.args[2]!) });
    case 'epoll_create':
      return quick({ newfd: newFd() });
    case 'epoll_ctl': {
      const ev = e.args[3]!;
      return quick({ fd, ctl: evaluate(ctx, e.args[1]!), target: evaluate(ctx, e.args[2]!), events: ev.kind === 'ellipsis' ? 0 : structField(ctx, ev, 'events') });
    }
    case 'epoll_wait':
      return blocking({ fd, max: evaluate(ctx, e.args[2]!), timeout: evaluate(ctx, e.args[3]!) });
    case 'ioctl': {
      const request = wordArg(e, 1);
      if (!IOCTLS.has(request)) ctx.unsupported(`the linux target cannot make the ioctl ${exprText(e.args[1] ?? e.result)}`);
      return quick({ fd, request });
    }
    case 'open': {
      // The file side of sendfile, as on the ftcp target (files.ts): the helper makes an
      // anonymous file of the size the script's dd line wrote; nothing touches the disk.
      const path = e.args[0]!;
      const size = path.kind === 'string' ? s.files?.get(path.value) : undefined;
      const flags = e.args[1]!;
      if (size === undefined) return ctx.unsupported(`open: ${exprText(path)} has no contents the runner knows; it emulates files a shell line writes with dd if=/dev/zero of=PATH bs=N count=M`);
      if (!(flags.kind === 'word' && flags.name === 'O_RDONLY')) return ctx.unsupported(`open: only O_RDONLY is emulated, got ${exprText(flags)}`);
      return quick({ newfd: newFd(), size });
    }
    case 'pipe': {
      const [rfd, wfd] = pipeFds(e);
      if (rfd === undefined || wfd === undefined) return ctx.unsupported('pipe: the linux target needs the descriptors written, pipe([r, w])');
      return quick({ rfd, wfd });
    }
    case 'sendfile': {
      const off = e.args[2]!;
      const offset = off.kind === 'word' && off.name === 'NULL' ? null : evaluate(ctx, unwrapArray(off));
      return blocking({ fd, infd: intArg(e, 1), offset, count: intArg(e, 3) });
    }
    case 'splice': {
      if (wordArg(e, 1) !== 'NULL' || wordArg(e, 3) !== 'NULL') return ctx.unsupported('splice: the linux target passes NULL offsets only');
      const names = spliceFlagNames(e.args[5]!);
      if (names === undefined) return ctx.unsupported(`splice flags: SPLICE_F_MOVE, SPLICE_F_NONBLOCK and SPLICE_F_MORE, got ${exprText(e.args[5]!)}`);
      return blocking({ fd, outfd: intArg(e, 2), len: intArg(e, 4), flags: names });
    }
    default:
      return ctx.unsupported(`the linux target cannot make the call ${String((e as { name: string }).name)}`);
  }
}

/** pipe([r, w]): the two descriptors as the script writes them. */
export function pipeFds(e: SyscallEvent): [number | undefined, number | undefined] {
  const a = e.args[0];
  const items = a?.kind === 'array' ? a.items : [];
  const n = (x: Expr | undefined) => (x?.kind === 'int' ? x.value : undefined);
  return [n(items[0]), n(items[1])];
}

const SPLICE_FLAGS = new Set(['SPLICE_F_MOVE', 'SPLICE_F_NONBLOCK', 'SPLICE_F_MORE']);

function spliceFlagNames(arg: Expr): string[] | undefined {
  const items = arg.kind === 'or' ? arg.items : [arg];
  const out: string[] = [];
  for (const item of items) {
    if (item.kind === 'int' && item.value === 0) continue;
    if (item.kind !== 'word' || !SPLICE_FLAGS.has(item.name)) return undefined;
    out.push(item.name);
  }
  return out;
}
