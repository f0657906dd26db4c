/**
 * RFC 5961 challenge ACKs: the §7 rate limit (challenge.ts) on its own, then through the
 * stack (§3 in-window RST, §4 SYN, §5 old ACK), its counters, and its state across
 * snapshot()/restore().
 */
import { describe, expect, it } from 'vitest';
import { challengeAck, newChallengeAckState } from '../../src/tcp/challenge.js';
import { resolveConfig } from '../../src/tcp/config.js';
import { newStats } from '../../src/tcp/info.js';
import { Stack } from '../../src/tcp/stack.js';
import type { Ctx, Tcb } from '../../src/tcp/tcb.js';
import type { StackConfig } from '../../src/tcp/types.js';
import { TCP_ACK, TCP_RST, TCP_SYN, type TcpSegment } from '../../src/wire/tcp.js';
import { A_ADDR, B_ADDR, craft, drainEvents, drainSegments, SEC } from './harness.js';

function fakeCtx(limit: number): { ctx: Ctx; tcb: Tcb } {
  const cfg = resolveConfig({ addresses: [B_ADDR], seed: 1, challengeAckLimit: limit });
  const ctx = { cfg, stats: newStats(), now: 0, challenge: newChallengeAckState() } as unknown as Ctx;
  return { ctx, tcb: { ackNow: false } as Tcb };
}

/** Ask for a challenge ACK at `nowUs`; returns whether one was granted. */
function ask(ctx: Ctx, tcb: Tcb, nowUs: number): boolean {
  (ctx as { now: number }).now = nowUs;
  tcb.ackNow = false;
  challengeAck(ctx, tcb);
  return tcb.ackNow;
}

describe('RFC 5961 §7 rate limit (challenge.ts)', () => {
  it('grants `limit` challenge ACKs per one-second window, then refuses and counts', () => {
    const { ctx, tcb } = fakeCtx(3);
    const granted = [0, 1, 2, 3, 999_999].map((t) => ask(ctx, tcb, 5 * SEC + t));
    expect(granted).toEqual([true, true, true, false, false]);
    expect(ctx.stats.challengeAcks).toBe(3);
    expect(ctx.stats.challengeAcksThrottled).toBe(2);
    // A new window opens one second after the first challenge ACK of the last one.
    expect(ask(ctx, tcb, 6 * SEC)).toBe(true);
    expect(ctx.challenge).toEqual({ windowStartUs: 6 * SEC, sent: 1 });
  });

  it('limit 0 means no limit', () => {
    const { ctx, tcb } = fakeCtx(0);
    for (let i = 0; i < 5000; i++) expect(ask(ctx, tcb, i)).toBe(true);
    expect(ctx.stats.challengeAcks).toBe(5000);
    expect(ctx.stats.challengeAcksThrottled).toBe(0);
  });

  it('depends only on the times given (two counters fed the same times agree)', () => {
    const x = fakeCtx(4);
    const y = fakeCtx(4);
    let t = 0;
    for (let i = 0; i < 200; i++) {
      t += (i * 7919) % 300_000;
      expect(ask(x.ctx, x.tcb, t)).toBe(ask(y.ctx, y.tcb, t));
    }
    expect(x.ctx.stats).toEqual(y.ctx.stats);
  });
});

const PORT = 8080;
const PEER_PORT = 40000;
const PEER_ISN = 1000;

/** A server stack with one ESTABLISHED connection from a crafted peer. */
function server(config: Partial<StackConfig> = {}): { s: Stack; iss: number; now: number } {
  const s = new Stack({ addresses: [B_ADDR], seed: 7, ...config });
  let now = SEC;
  const l = s.listen(now, { port: PORT });
  s.handlePacket(now, craft({ src: A_ADDR, dst: B_ADDR, srcPort: PEER_PORT, dstPort: PORT, seq: PEER_ISN, flags: TCP_SYN, options: [{ kind: 'mss', mss: 1000 }] }));
  const synAck = drainSegments(s)[0]!;
  now += 10_000;
  s.handlePacket(now, craft({ src: A_ADDR, dst: B_ADDR, srcPort: PEER_PORT, dstPort: PORT, seq: PEER_ISN + 1, ack: synAck.seq + 1, flags: TCP_ACK }));
  expect(s.accept(l)).toBeDefined();
  drainSegments(s);
  drainEvents(s);
  return { s, iss: synAck.seq, now };
}

function send(s: Stack, now: number, seq: number, ack: number, flags: number): TcpSegment[] {
  s.handlePacket(now, craft({ src: A_ADDR, dst: B_ADDR, srcPort: PEER_PORT, dstPort: PORT, seq, ack, flags }));
  return drainSegments(s);
}

describe('challenge ACKs through the stack', () => {
  it('§3 in-window RST, §4 SYN and §5 old ACK each get a counted challenge ACK', () => {
    const { s, iss, now } = server();
    const rcvNxt = PEER_ISN + 1;
    const rst = send(s, now, rcvNxt + 100, iss + 1, TCP_RST | TCP_ACK);
    const syn = send(s, now, rcvNxt + 5, 0, TCP_SYN);
    const oldAck = send(s, now, rcvNxt, (iss + 1 - 200_000) >>> 0, TCP_ACK);
    for (const out of [rst, syn, oldAck]) {
      expect(out).toHaveLength(1);
      expect(out[0]!.flags).toBe(TCP_ACK);
      expect(out[0]!.ack).toBe(rcvNxt);
    }
    const st = s.stats();
    expect(st.challengeAcks).toBe(3);
    expect(st.challengeAcksThrottled).toBe(0);
    expect(s.info(s.sockets()[1]!).state).toBe('ESTABLISHED');
  });

  it('the per-second budget is shared and survives snapshot()/restore()', () => {
    const { s, iss, now } = server({ challengeAckLimit: 2 });
    const rcvNxt = PEER_ISN + 1;
    expect(send(s, now, rcvNxt + 10, iss + 1, TCP_RST | TCP_ACK)).toHaveLength(1);
    expect(send(s, now, rcvNxt + 20, iss + 1, TCP_RST | TCP_ACK)).toHaveLength(1);
    const r = Stack.restore(s.snapshot());
    for (const x of [s, r]) {
      expect(send(x, now + 500_000, rcvNxt + 30, 0, TCP_SYN)).toHaveLength(0);
      expect(x.stats().challengeAcksThrottled).toBe(1);
      expect(send(x, now + SEC, rcvNxt + 40, iss + 1, TCP_RST | TCP_ACK)).toHaveLength(1);
      expect(x.stats().challengeAcks).toBe(3);
    }
  });
});
