/**
 * RFC 5681 §4.1, restarting after an idle period (StackConfig.slowStartAfterIdle, Linux
 * tcp_slow_start_after_idle): "a TCP SHOULD set cwnd to no more than RW before beginning
 * transmission if the TCP has not sent data in an interval exceeding the retransmission
 * timeout", RW = min(IW, cwnd). Profile 'rfc' sets cwnd to RW; profile 'linux' makes
 * Linux's choice (tcp_cwnd_restart), which the RFC's "no more than" allows as well: cwnd is
 * halved once per RTO of idle time beyond the first, never below RW, and ssthresh is raised
 * to at least three quarters of the old cwnd. Off by default: the time of the last data
 * segment is kept on the TCB only when the option is on, so snapshots without it are as
 * before.
 */
import type { ResolvedConfig } from '../config.js';
import type { Tcb } from '../tcb.js';
import { initialWindow } from './initial-window.js';

interface IdleTcb {
  /** When data (new or retransmitted) last left, µs; absent until the first segment. */
  lastSendUs?: number;
}

/** A data segment left at `now`. */
export function noteDataSegmentSent(cfg: ResolvedConfig, tcb: Tcb, now: number): void {
  if (cfg.slowStartAfterIdle === true) (tcb as unknown as IdleTcb).lastSendUs = now;
}

/** Before new data goes out: restart cwnd when nothing is in flight and the connection sent nothing for longer than the RTO. */
export function restartAfterIdle(cfg: ResolvedConfig, tcb: Tcb, now: number): void {
  const last = (tcb as unknown as IdleTcb).lastSendUs;
  if (cfg.slowStartAfterIdle !== true || last === undefined || tcb.sndMax !== tcb.sndUna) return;
  const rtoUs = tcb.rto.rtoUs;
  const idleUs = now - last;
  if (idleUs <= rtoUs) return;
  const mss = tcb.sndMss;
  const rw = Math.min(initialWindow(mss), tcb.cc.cwnd);
  if (cfg.profile !== 'linux') {
    tcb.cc.cwnd = rw;
    return;
  }
  let segs = Math.floor(tcb.cc.cwnd / mss);
  tcb.cc.ssthresh = Math.max(tcb.cc.ssthresh, ((segs >> 1) + (segs >> 2)) * mss);
  for (let left = idleUs - rtoUs; left > 0 && segs * mss > rw; left -= rtoUs) segs >>= 1;
  tcb.cc.cwnd = Math.max(segs * mss, rw);
}
