/**
 * recvmsg(2)'s struct msghdr on the ftcp target: the iov gives how much to read, and the
 * control messages the script expects are checked against what Linux would attach. The
 * one control message a TCP socket gets here is TCP_CM_INQ (tcp(7) TCP_INQ): the bytes
 * left to read after this call, plus one once the peer's FIN has come (Linux's
 * tcp_inq_hint, so that a reader keeps reading until it sees the end). Anything else (the
 * error queue's SO_TIMESTAMPING and zero-copy reports, IP control messages) is not
 * produced: an ERROR at the line, never skipped.
 */
import { evaluate, exprText, iovLengths } from './exprs.js';
import type { CheckContext } from './readiness.js';
import type { Expr } from './script.js';

function assigned(msg: Expr, name: string): Expr | undefined {
  if (msg.kind !== 'struct') return undefined;
  const item = msg.items.find((i) => i.kind === 'assign' && i.name === name);
  return item?.kind === 'assign' ? item.value : undefined;
}

function word(e: Expr | undefined): string {
  return e?.kind === 'word' ? e.name : e === undefined ? '(none)' : exprText(e);
}

/** The control messages a script expects, each one we can produce (else an ERROR, before the call). */
function expectedControl(ctx: CheckContext, msg: Expr): { data: Expr | undefined }[] | undefined {
  const control = assigned(msg, 'msg_control');
  if (control === undefined || control.kind === 'ellipsis') return undefined;
  if (control.kind !== 'array') return ctx.unsupported(`msg_control is [{cmsg_level=..., cmsg_type=..., cmsg_data=...}, ...], got ${exprText(control)}`);
  return control.items.map((c) => {
    const level = word(assigned(c, 'cmsg_level'));
    const type = word(assigned(c, 'cmsg_type'));
    if (!((level === 'SOL_TCP' || level === 'IPPROTO_TCP') && type === 'TCP_CM_INQ')) {
      return ctx.unsupported(`recvmsg control message ${level}/${type}: the only one a socket here gets is SOL_TCP/TCP_CM_INQ (TCP_INQ)`);
    }
    return { data: assigned(c, 'cmsg_data') };
  });
}

/** The bytes recvmsg asks for (the sum of its iov lengths), once its shape and control messages are ones we can answer. */
export function recvmsgCount(ctx: CheckContext, msg: Expr): number {
  if (msg.kind !== 'struct' || assigned(msg, 'msg_iov')?.kind !== 'array') {
    return ctx.unsupported(`recvmsg's second argument is {msg_name(...)=..., msg_iov(N)=[{..., LEN}], msg_flags=0, msg_control=[...]}, got ${exprText(msg)}`);
  }
  expectedControl(ctx, msg);
  return iovLengths(msg).reduce((a, b) => a + b, 0);
}

/**
 * After a successful recvmsg: `inq` is TCP_CM_INQ's value when TCP_INQ is on (undefined
 * when off). The script's msg_flags (what the call reports back) must be 0: no flag is
 * ever set here.
 */
export function checkRecvmsg(ctx: CheckContext, msg: Expr, inq: number | undefined): void {
  const flags = assigned(msg, 'msg_flags');
  if (flags !== undefined && flags.kind !== 'ellipsis' && evaluate(ctx, flags) !== 0) ctx.mismatch(`msg_flags=${exprText(flags)}`, 'msg_flags=0');
  const wanted = expectedControl(ctx, msg);
  if (wanted === undefined) return;
  if (wanted.length > 1) ctx.mismatch(`${wanted.length} control messages`, 'at most one (TCP_CM_INQ)');
  const c = wanted[0];
  if (c === undefined) {
    if (inq !== undefined) ctx.mismatch('no control message', `TCP_CM_INQ ${inq} (TCP_INQ is on)`);
    return;
  }
  if (inq === undefined) ctx.mismatch('a TCP_CM_INQ control message', 'none (TCP_INQ is off)');
  if (c.data !== undefined && c.data.kind !== 'ellipsis' && evaluate(ctx, c.data) !== inq) ctx.mismatch(`TCP_CM_INQ cmsg_data=${exprText(c.data)}`, `cmsg_data=${inq}`);
}
