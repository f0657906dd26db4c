/**
 * RFC 5961 challenge ACKs and their rate limit (§7).
 *
 * A challenge ACK answers a segment that might be a blind attack: an in-window RST that
 * does not start at RCV.NXT (§3.2), a SYN in a synchronized state (§4.2), an ACK outside
 * [SND.UNA - MAX.SND.WND, SND.NXT] (§5.2). It is an ordinary <SEQ=SND.NXT><ACK=RCV.NXT>
 * ACK: a legitimate peer that lost its state answers it with a RST at the exact sequence
 * number. §7 asks for a limit on how many are sent; as Linux's tcp_challenge_ack_limit it
 * is a count per second per stack (config challengeAckLimit, 0 = no limit), measured on
 * the caller's `now` in windows of one second, so a replica computes the same answers.
 * Linux (since 4.7) also randomises the limit to hide it from off-path attackers
 * (CVE-2016-5696); ftcp does not, to stay deterministic: see docs/conformance.md.
 */
import type { Ctx, Tcb } from './tcb.js';

/** The per-stack §7 counter (part of the stack's state, so it snapshots and replicates). */
export interface ChallengeAckState {
  /** Start of the current one-second window, µs; -1 before the first challenge ACK. */
  windowStartUs: number;
  /** Challenge ACKs sent in that window. */
  sent: number;
}

export const CHALLENGE_WINDOW_US = 1_000_000;

export function newChallengeAckState(): ChallengeAckState {
  return { windowStartUs: -1, sent: 0 };
}

/** Send a challenge ACK from `tcb` at the next output, unless the §7 limit is reached. */
export function challengeAck(ctx: Ctx, tcb: Tcb): void {
  const st = ctx.challenge;
  const limit = ctx.cfg.challengeAckLimit;
  if (limit > 0) {
    if (st.windowStartUs < 0 || ctx.now - st.windowStartUs >= CHALLENGE_WINDOW_US) {
      st.windowStartUs = ctx.now;
      st.sent = 0;
    }
    if (st.sent >= limit) {
      ctx.stats.challengeAcksThrottled = (ctx.stats.challengeAcksThrottled ?? 0) + 1;
      return;
    }
    st.sent++;
  }
  ctx.stats.challengeAcks = (ctx.stats.challengeAcks ?? 0) + 1;
  tcb.ackNow = true;
}
