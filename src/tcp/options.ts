/**
 * TCP option negotiation and layout, in one place: MSS (RFC 9293 §3.7.1, RFC 6691), window
 * scale and timestamps (RFC 7323), SACK-permitted and SACK blocks (RFC 2018, RFC 2883).
 *
 * Layouts are Linux's (tcp_options_write), so that scripts written for Linux apply:
 *   SYN (connect):        <mss 1460,sackOK,TS val T ecr 0,nop,wscale 8>
 *   SYN-ACK, all offered: <mss 1460,sackOK,TS val T ecr E,nop,wscale 8>
 *   SYN-ACK without TS:   <mss 1460,nop,nop,sackOK,nop,wscale 8>
 *   other segments:       <nop,nop,TS val T ecr E> then <nop,nop,sack ...> when there are blocks.
 * A SYN-ACK carries only the options the peer's SYN offered (RFC 7323 §2.2, §3.2; RFC 2018 §2).
 */
import { initialWindow } from './congestion.js';
import { DEFAULT_PEER_MSS, IP_TCP_HEADER_BYTES, MAX_WSCALE, MIN_MSS, type ResolvedConfig } from './config.js';
import { ourMss, type Tcb } from './tcb.js';
import { tsNow } from './timestamps.js';
import { optionSummary, type SackBlock, type TcpOption } from '../wire/tcp.js';

/** Bytes the timestamps option takes on every segment once negotiated: <nop,nop,TS>. */
export const TS_OPTION_BYTES = 12;
/** The TCP header holds 40 bytes of options. */
const MAX_OPTION_BYTES = 40;

/** Options on our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED); tcb.state tells which. */
export function synOptions(tcb: Tcb, cfg: ResolvedConfig, nowUs: number): TcpOption[] {
  const active = tcb.state === 'SYN-SENT';
  // Our SYN offers what the configuration allows; a SYN-ACK answers what was negotiated.
  const ts = active ? cfg.timestamps : tcb.tsOk;
  const sack = active ? cfg.sack : tcb.sackOk;
  const ws = active ? cfg.windowScaling : tcb.wscaleOk;
  // RFC 9293 §3.7.1 / RFC 6691: announce mtu - 40 (IPv4 and TCP fixed headers).
  const out: TcpOption[] = [{ kind: 'mss', mss: ourMss(cfg, tcb) }];
  if (ts) {
    // RFC 7323 §3.2: TSecr is 0 on a SYN, TS.Recent (the peer's SYN TSval) on a SYN-ACK.
    const tsOpt: TcpOption = { kind: 'ts', val: tsNow(tcb, nowUs), ecr: active ? 0 : tcb.tsRecent };
    if (sack) out.push({ kind: 'sackOk' }, tsOpt);
    else out.push({ kind: 'nop' }, { kind: 'nop' }, tsOpt);
  } else if (sack) {
    out.push({ kind: 'nop' }, { kind: 'nop' }, { kind: 'sackOk' });
  }
  // RFC 7323 §2.2: the shift count we will apply to the windows we send.
  if (ws) out.push({ kind: 'nop' }, { kind: 'wscale', shift: cfg.windowScale });
  return out;
}

/**
 * Apply the options of the peer's SYN or SYN-ACK. An option is in force only when both
 * SYNs carried it (our SYN carries what the configuration allows). MSS only counts on a
 * SYN (RFC 9293 §3.7.1).
 */
export function negotiate(tcb: Tcb, options: readonly TcpOption[], cfg: ResolvedConfig, nowUs: number): void {
  const summary = optionSummary(options);
  // RFC 9293 §3.7.1 / RFC 6691: without an MSS option the peer can take 536 bytes.
  tcb.peerMss = summary.mss ?? DEFAULT_PEER_MSS;
  // RFC 7323 §2.2: window scaling is on only if both sides sent the option; §2.3: a shift
  // above 14 is taken as 14.
  tcb.wscaleOk = cfg.windowScaling && summary.wscale !== undefined;
  tcb.sndWscale = tcb.wscaleOk ? Math.min(summary.wscale!, MAX_WSCALE) : 0;
  tcb.rcvWscale = tcb.wscaleOk ? cfg.windowScale : 0;
  // RFC 7323 §3.2: timestamps are on only if both SYNs carried them; TS.Recent starts at
  // the peer's SYN TSval.
  tcb.tsOk = cfg.timestamps && summary.ts !== undefined;
  if (tcb.tsOk) {
    tcb.tsRecent = summary.ts!.val;
    tcb.tsRecentUs = nowUs;
  }
  // RFC 2018 §2: SACK is used only if both sides sent SACK-permitted.
  tcb.sackOk = cfg.sack && summary.sackOk;
  const ours = ourMss(cfg, tcb);
  // Effective send MSS: the smaller of the two; never below a floor (Linux TCP_MIN_MSS),
  // so a peer announcing a tiny MSS cannot make us emit a flood of tiny segments. RFC 6691
  // §3: the MSS excludes options, so the timestamps every segment carries come off it
  // (as Linux's mss_cache: 1460 - 12 = 1448).
  // RFC 1191 §5: a path MTU learnt from ICMP (icmp.ts) limits what we send, never what we announce.
  const path = tcb.pmtu === undefined ? ours : Math.min(ours, tcb.pmtu - IP_TCP_HEADER_BYTES);
  const mss = Math.max(Math.min(tcb.peerMss, path), Math.min(MIN_MSS, path));
  tcb.sndMss = Math.max(mss - (tcb.tsOk ? TS_OPTION_BYTES : 0), 1);
  // RFC 6928: the initial window depends on the negotiated MSS (no data has been sent yet).
  tcb.cc.cwnd = initialWindow(tcb.sndMss);
}

/** How many SACK blocks fit beside the other options (RFC 2018 §3: 4, or 3 with timestamps). */
export function maxSackBlocks(tcb: Tcb): number {
  const room = MAX_OPTION_BYTES - (tcb.tsOk ? TS_OPTION_BYTES : 0) - 4; // <nop,nop,kind,length>
  return Math.floor(room / 8);
}

/** Bytes the SACK option of `blocks` blocks takes with its two NOPs. */
export function sackOptionBytes(blocks: number): number {
  return blocks > 0 ? 4 + 8 * blocks : 0;
}

/**
 * Options of a segment after the handshake: timestamps when negotiated (RFC 7323 §3.2:
 * on every segment, RST included, which the RFC makes a SHOULD and Linux does), then the
 * SACK blocks given (RFC 2018 §3).
 */
export function segmentOptions(tcb: Tcb, nowUs: number, sack: readonly SackBlock[]): TcpOption[] | undefined {
  if (!tcb.tsOk && sack.length === 0) return undefined;
  const out: TcpOption[] = [];
  if (tcb.tsOk) out.push({ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: tsNow(tcb, nowUs), ecr: tcb.tsRecent });
  if (sack.length > 0) out.push({ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [...sack] });
  return out;
}
