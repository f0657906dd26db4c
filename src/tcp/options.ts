/**
 * TCP option negotiation, in one place. Today: the MSS option (RFC 9293 §3.7.1, RFC 6691).
 * Window scale and timestamps (RFC 7323) and SACK-permitted (RFC 2018) will be added
 * here: synOptions() builds the SYN and SYN-ACK option lists (Linux order: mss, sackOK,
 * TS, nop, wscale), negotiate() applies what the peer's SYN or SYN-ACK offered.
 */
import { initialWindow } from './congestion.js';
import { DEFAULT_PEER_MSS, MIN_MSS, type ResolvedConfig } from './config.js';
import { ourMss, type Tcb } from './tcb.js';
import { optionSummary, type TcpOption } from './wire/tcp.js';

/** Options on our SYN (active open) or SYN-ACK (passive open); tcb.state tells which. */
export function synOptions(_tcb: Tcb, cfg: ResolvedConfig): TcpOption[] {
  // RFC 9293 §3.7.1 / RFC 6691: announce mtu - 40 (IPv4 and TCP fixed headers).
  return [{ kind: 'mss', mss: ourMss(cfg) }];
}

/** Apply the options of the peer's SYN or SYN-ACK (RFC 9293 §3.7.1: MSS only counts on a SYN). */
export function negotiate(tcb: Tcb, options: readonly TcpOption[], cfg: ResolvedConfig): void {
  const summary = optionSummary(options);
  // RFC 9293 §3.7.1 / RFC 6691: without an MSS option the peer can take 536 bytes.
  tcb.peerMss = summary.mss ?? DEFAULT_PEER_MSS;
  const ours = ourMss(cfg);
  // Effective send MSS: the smaller of the two; never below a floor (Linux TCP_MIN_MSS),
  // so a peer announcing a tiny MSS cannot make us emit a flood of tiny segments.
  tcb.sndMss = Math.max(Math.min(tcb.peerMss, ours), Math.min(MIN_MSS, ours));
  // RFC 6928: the initial window depends on the negotiated MSS (no data has been sent yet).
  tcb.cc.cwnd = initialWindow(tcb.sndMss);
}
