/**
 * The flags of send(2), sendmsg(2), sendto(2) and recv(2), recvfrom(2), recvmsg(2) on the
 * ftcp target. A flag the runner cannot honour is unsupported (an ERROR at its line).
 */
import { exprText, type EvalContext } from './exprs.js';
import type { Expr } from './script.js';

export interface SendFlags {
  dontWait: boolean;
  more: boolean;
  eor: boolean;
}

/**
 * send(2)'s and sendmsg(2)'s flags: 0, MSG_DONTWAIT, MSG_MORE, MSG_EOR, and MSG_NOSIGNAL
 * (there is no SIGPIPE here to suppress); any other is unsupported (an ERROR, never ignored).
 */
export function sendFlags(ctx: EvalContext, call: string, arg: Expr | undefined): SendFlags {
  const out = { dontWait: false, more: false, eor: false };
  if (arg === undefined) return out;
  for (const item of arg.kind === 'or' ? arg.items : [arg]) {
    if (item.kind === 'int' && item.value === 0) continue;
    if (item.kind === 'word' && item.name === 'MSG_DONTWAIT') out.dontWait = true;
    else if (item.kind === 'word' && item.name === 'MSG_MORE') out.more = true;
    else if (item.kind === 'word' && item.name === 'MSG_EOR') out.eor = true;
    else if (item.kind === 'word' && item.name === 'MSG_ZEROCOPY') continue; // copied all the same; no completion is queued
    else if (!(item.kind === 'word' && item.name === 'MSG_NOSIGNAL')) ctx.unsupported(`${call} flags: only MSG_DONTWAIT, MSG_MORE, MSG_EOR and MSG_NOSIGNAL are supported, got ${item.kind === 'word' ? item.name : exprText(item)}`);
  }
  return out;
}

/** recv(2)'s flags argument: 0, MSG_PEEK, MSG_DONTWAIT or both or'ed; any other is unsupported (an ERROR, never ignored). */
export function recvFlags(ctx: EvalContext, arg: Expr | undefined): { peek: boolean; dontWait: boolean } {
  const out = { peek: false, dontWait: false };
  if (arg === undefined || (arg.kind === 'int' && arg.value === 0)) return out;
  const items = arg.kind === 'or' ? arg.items : [arg];
  for (const item of items) {
    if (item.kind === 'word' && item.name === 'MSG_PEEK') out.peek = true;
    else if (item.kind === 'word' && item.name === 'MSG_DONTWAIT') out.dontWait = true;
    else if (!(item.kind === 'int' && item.value === 0)) ctx.unsupported(`recv flags: only MSG_PEEK and MSG_DONTWAIT are supported, got ${item.kind === 'word' ? item.name : item.kind}`);
  }
  return out;
}
