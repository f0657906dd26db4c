/**
 * Arguments of a script's socket calls as values: integers, constant names, struct
 * fields, socket addresses, and their text for messages. Shared by both targets.
 */
import { parseIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { describeErrno, errnoValue } from './errno.js';
import type { Expr, SyscallEvent } from './script.js';

const O_RDONLY = 0;
const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_NONBLOCK = 0x800;
/** poll(2) and epoll(7) event bits (Linux's values; EPOLLx = POLLx), and epoll_ctl's operations. */
export const POLL = { IN: 0x1, PRI: 0x2, OUT: 0x4, ERR: 0x8, HUP: 0x10, NVAL: 0x20, RDNORM: 0x40, RDBAND: 0x80, WRNORM: 0x100, WRBAND: 0x200, RDHUP: 0x2000 } as const;
export const EPOLLONESHOT = 0x4000_0000;
export const EPOLLET = 0x8000_0000;
const POLL_CONSTANTS: Record<string, number> = { EPOLLONESHOT, EPOLLET, EPOLL_CTL_ADD: 1, EPOLL_CTL_DEL: 2, EPOLL_CTL_MOD: 3 };
/** IP_MTU_DISCOVER's modes (ip(7)). */
export const IP_PMTUDISC = { IP_PMTUDISC_DONT: 0, IP_PMTUDISC_WANT: 1, IP_PMTUDISC_DO: 2, IP_PMTUDISC_PROBE: 3, IP_PMTUDISC_INTERFACE: 4, IP_PMTUDISC_OMIT: 5 } as const;
for (const [k, v] of Object.entries(POLL)) POLL_CONSTANTS[`POLL${k}`] = POLL_CONSTANTS[`EPOLL${k}`] = v;
/** SO_TIMESTAMPING flags, ee_info values (SCM_TSTAMP_*), SO_EE_ORIGIN_TIMESTAMPING and the msg_flags of a report (timestamping.ts). */
export const TS_CONSTANTS: Readonly<Record<string, number>> = {
  SOF_TIMESTAMPING_TX_HARDWARE: 0x1, SOF_TIMESTAMPING_TX_SOFTWARE: 0x2, SOF_TIMESTAMPING_RX_HARDWARE: 0x4,
  SOF_TIMESTAMPING_RX_SOFTWARE: 0x8, SOF_TIMESTAMPING_SOFTWARE: 0x10, SOF_TIMESTAMPING_RAW_HARDWARE: 0x40,
  SOF_TIMESTAMPING_OPT_ID: 0x80, SOF_TIMESTAMPING_TX_SCHED: 0x100, SOF_TIMESTAMPING_TX_ACK: 0x200,
  SOF_TIMESTAMPING_OPT_TSONLY: 0x800, SCM_TSTAMP_SND: 0, SCM_TSTAMP_SCHED: 1, SCM_TSTAMP_ACK: 2,
  SO_EE_ORIGIN_TIMESTAMPING: 4, MSG_ERRQUEUE: 0x2000, MSG_TRUNC: 0x20,
};
const FLAG_CONSTANTS: Readonly<Record<string, number>> = { O_RDONLY, O_WRONLY, O_RDWR, O_NONBLOCK, ...POLL_CONSTANTS, ...IP_PMTUDISC, ...TS_CONSTANTS };

/** What evaluating needs: a way to refuse what cannot be evaluated (the script's ERROR). */
export interface EvalContext {
  unsupported(message: string): never;
}

export function intArg(e: SyscallEvent, i: number): number {
  const a = e.args[i]!;
  return a.kind === 'int' ? a.value : NaN;
}

export function wordArg(e: SyscallEvent, i: number): string {
  const a = e.args[i];
  return a?.kind === 'word' ? a.name : '';
}

export function unwrapArray(e: Expr): Expr {
  return e.kind === 'array' && e.items.length === 1 ? e.items[0]! : e;
}

/** The integer value of a constant expression: numbers, O_* flags, errno names, and ORs of them. */
export function evaluate(ctx: EvalContext, e: Expr): number {
  switch (e.kind) {
    case 'int':
      return e.value;
    case 'word': {
      const flag = FLAG_CONSTANTS[e.name];
      if (flag !== undefined) return flag;
      const errno = errnoValue(e.name);
      if (errno !== undefined) return errno;
      return ctx.unsupported(`unknown constant ${e.name} (line ${e.line}, column ${e.column})`);
    }
    case 'or':
      return e.items.reduce((acc, item) => (acc | evaluate(ctx, item)) >>> 0, 0);
    default:
      return ctx.unsupported(`expected a number here (line ${e.line}, column ${e.column})`);
  }
}

export function structField(ctx: EvalContext, e: Expr, name: string): number {
  if (e.kind === 'struct') {
    for (const item of e.items) if (item.kind === 'assign' && item.name === name) return evaluate(ctx, item.value);
  }
  return ctx.unsupported(`expected {onoff=N, linger=N} with a field ${name} (line ${e.line}, column ${e.column})`);
}

/** `{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}` or `...`. */
export function sockaddr(ctx: EvalContext, e: Expr): { port: number | undefined; address: Ipv4Addr | undefined } {
  if (e.kind === 'ellipsis') return { port: undefined, address: undefined };
  if (e.kind !== 'struct') return ctx.unsupported(`expected ... or {sa_family=AF_INET, sin_port=htons(N), sin_addr=inet_addr("a.b.c.d")} (line ${e.line}, column ${e.column})`);
  let port: number | undefined;
  let address: Ipv4Addr | undefined;
  for (const item of e.items) {
    if (item.kind !== 'assign') continue;
    const v = item.value;
    if (item.name === 'sin_port') {
      port = v.kind === 'call' && v.name === 'htons' && v.args.length === 1 ? evaluate(ctx, v.args[0]!) : evaluate(ctx, v);
    } else if (item.name === 'sin_addr') {
      const arg = v.kind === 'call' && v.name === 'inet_addr' ? v.args[0] : undefined;
      if (arg?.kind !== 'string') return ctx.unsupported(`sin_addr must be inet_addr("a.b.c.d") (line ${v.line}, column ${v.column})`);
      try {
        address = parseIpv4Addr(arg.value);
      } catch {
        return ctx.unsupported(`not an IPv4 address: ${arg.value}`);
      }
    } else if (item.name === 'sa_family' && !(v.kind === 'word' && v.name === 'AF_INET')) {
      return ctx.unsupported('only AF_INET addresses are supported');
    }
  }
  return { port, address };
}

export function exprText(e: Expr): string {
  switch (e.kind) {
    case 'ellipsis':
      return '...';
    case 'int':
      return String(e.value);
    case 'word':
      return e.name;
    case 'string':
      return JSON.stringify(e.value);
    case 'or':
      return e.items.map(exprText).join('|');
    case 'assign':
      return `${e.name}${e.size === undefined ? '' : `(${e.size.map(exprText).join(', ')})`}=${exprText(e.value)}`;
    case 'array':
      return `[${e.items.map(exprText).join(', ')}]`;
    case 'struct':
      return `{${e.items.map(exprText).join(', ')}}`;
    case 'call':
      return `${e.name}(${e.args.map(exprText).join(', ')})`;
  }
}

/** `= 3`, `= -1 EAGAIN (Resource temporarily unavailable)` */
export function formatOutcome(o: { value: number; errno?: string }): string {
  return o.errno === undefined ? `= ${o.value}` : `= ${o.value} ${describeErrno(o.errno)}`;
}

/** sendmsg's iov lengths, in order (the parser checked the struct's shape). */
export function iovLengths(msg: Expr): number[] {
  if (msg.kind !== 'struct') return [];
  const iov = msg.items.find((i) => i.kind === 'assign' && i.name === 'msg_iov');
  if (iov?.kind !== 'assign' || iov.value.kind !== 'array') return [];
  return iov.value.items.map((entry) => {
    const len = entry.kind === 'struct' ? entry.items[1] : undefined;
    return len?.kind === 'int' ? len.value : 0;
  });
}
