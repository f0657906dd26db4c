/**
 * SO_TIMESTAMPING's transmit reports (Linux, Documentation/networking/timestamping) on the
 * ftcp target, read from the error queue with recvmsg(MSG_ERRQUEUE). A write made while
 * TX reports are asked for is remembered by its last byte; when that byte first goes out
 * the socket queues SCM_TSTAMP_SCHED and SCM_TSTAMP_SND (there is no qdisc here: both at
 * the transmission), and when it is acknowledged SCM_TSTAMP_ACK, each with the time in
 * virtual time and, with SOF_TIMESTAMPING_OPT_ID, the byte's key (its offset counted
 * from when the option was set). Time is read from the stack's queues after each input,
 * as the runner sees them (`info()`: SND.NXT, SND.UNA). No RFC has these reports.
 */
import { evaluate, exprText, iovLengths, TS_CONSTANTS } from './exprs.js';
import type { CheckContext } from './readiness.js';
import type { Expr } from './script.js';

export const SOF = { TX_SOFTWARE: 0x2, SOFTWARE: 0x10, OPT_ID: 0x80, TX_SCHED: 0x100, TX_ACK: 0x200, OPT_TSONLY: 0x800 } as const;
const TX_ANY = SOF.TX_SOFTWARE | SOF.TX_SCHED | SOF.TX_ACK;

interface Report {
  atUs: number;
  info: number;
  key: number;
}

/** One socket's timestamping state (on its descriptor). */
export interface Timestamping {
  flags: number;
  /** Stream offset when OPT_ID was set: keys count from here. */
  keyBase: number;
  /** Writes waiting for their reports: the stream offset just after each one's last byte. */
  pending: { end: number; sent: boolean }[];
  queue: Report[];
}

/** setsockopt(SO_TIMESTAMPING): `written` is the stream offset reached so far. */
export function setTimestamping(ts: Timestamping | undefined, flags: number, written: number): Timestamping {
  const t = ts ?? { flags: 0, keyBase: 0, pending: [], queue: [] };
  if ((flags & SOF.OPT_ID) !== 0 && (t.flags & SOF.OPT_ID) === 0) t.keyBase = written;
  t.flags = flags;
  return t;
}

/** A write call that queued bytes up to stream offset `end` (Linux's tcp_tx_timestamp). */
export function noteWrite(t: Timestamping | undefined, end: number): void {
  if (t !== undefined && (t.flags & TX_ANY) !== 0) t.pending.push({ end, sent: false });
}

/** After an input: `sentEnd` and `ackedEnd` are the stream offsets sent and acknowledged so far. */
export function stamp(t: Timestamping, nowUs: number, sentEnd: number, ackedEnd: number): void {
  const key = (end: number): number => ((t.flags & SOF.OPT_ID) !== 0 ? end - 1 - t.keyBase : 0);
  for (const w of t.pending) {
    if (!w.sent && sentEnd >= w.end) {
      w.sent = true;
      if ((t.flags & SOF.TX_SCHED) !== 0) t.queue.push({ atUs: nowUs, info: 1, key: key(w.end) });
      if ((t.flags & SOF.TX_SOFTWARE) !== 0) t.queue.push({ atUs: nowUs, info: 0, key: key(w.end) });
    }
  }
  while (t.pending.length > 0 && t.pending[0]!.sent && ackedEnd >= t.pending[0]!.end) {
    const w = t.pending.shift()!;
    if ((t.flags & SOF.TX_ACK) !== 0) t.queue.push({ atUs: nowUs, info: 2, key: key(w.end) });
  }
}

function assigned(e: Expr, name: string): Expr | undefined {
  if (e.kind !== 'struct') return undefined;
  const item = e.items.find((i) => i.kind === 'assign' && i.name === name);
  return item?.kind === 'assign' ? item.value : undefined;
}

/**
 * recvmsg(fd, msg, MSG_ERRQUEUE): the next report, checked against the script's
 * SCM_TIMESTAMPING (time within `toleranceUs`) and IP_RECVERR (sock_extended_err) control
 * messages; EAGAIN when none is queued. The report carries no packet bytes here, so an
 * iov asking for them without SOF_TIMESTAMPING_OPT_TSONLY is an ERROR.
 */
export function readReport(ctx: CheckContext, t: Timestamping | undefined, msg: Expr, toleranceUs: number): { value: number; errno?: string } {
  if (iovLengths(msg).some((n) => n > 0) && ((t?.flags ?? 0) & SOF.OPT_TSONLY) === 0) {
    return ctx.unsupported('recvmsg(MSG_ERRQUEUE) with room for the packet: a report here carries no packet bytes (give msg_iov a length of 0)');
  }
  const r = t?.queue.shift();
  if (r === undefined) return { value: -1, errno: 'EAGAIN' };
  const flags = assigned(msg, 'msg_flags');
  const actualFlags = TS_CONSTANTS.MSG_ERRQUEUE! | ((t!.flags & SOF.OPT_TSONLY) === 0 ? TS_CONSTANTS.MSG_TRUNC! : 0);
  if (flags !== undefined && flags.kind !== 'ellipsis' && evaluate(ctx, flags) !== actualFlags) ctx.mismatch(`msg_flags=${exprText(flags)}`, `msg_flags=${actualFlags}`);
  const control = assigned(msg, 'msg_control');
  if (control === undefined || control.kind === 'ellipsis') return { value: 0 };
  if (control.kind !== 'array') return ctx.unsupported(`msg_control is [{cmsg_level=..., cmsg_type=..., cmsg_data=...}, ...], got ${exprText(control)}`);
  for (const c of control.items) {
    const type = assigned(c, 'cmsg_type');
    const data = assigned(c, 'cmsg_data') ?? { kind: 'ellipsis', line: c.line, column: c.column };
    const name = type?.kind === 'word' ? type.name : '';
    const field = (f: string): number | undefined => {
      const v = assigned(data, f);
      return v === undefined || v.kind === 'ellipsis' ? undefined : evaluate(ctx, v);
    };
    if (name === 'SCM_TIMESTAMPING') {
      const sec = field('scm_sec');
      const nsec = field('scm_nsec');
      if (sec !== undefined && nsec !== undefined && Math.abs(sec * 1e6 + nsec / 1000 - r.atUs) > toleranceUs) {
        ctx.mismatch(`a timestamp at ${sec}.${String(nsec).padStart(9, '0')} s`, `one at ${(r.atUs / 1e6).toFixed(6)} s`);
      }
    } else if (name === 'CMSG_TYPE_RECVERR' || name === 'IP_RECVERR') {
      const want: [string, number][] = [['ee_errno', 42], ['ee_origin', 4], ['ee_type', 0], ['ee_code', 0], ['ee_info', r.info], ['ee_data', r.key]];
      for (const [f, actual] of want) {
        const v = field(f);
        if (v !== undefined && v !== actual) ctx.mismatch(`${f}=${v}`, `${f}=${actual} (report ${['SND', 'SCHED', 'ACK'][r.info]}, key ${r.key})`);
      }
    } else {
      return ctx.unsupported(`recvmsg(MSG_ERRQUEUE) control message ${type === undefined ? '(none)' : exprText(type)}: a report here has SCM_TIMESTAMPING and IP_RECVERR only`);
    }
  }
  return { value: 0 };
}
