/**
 * RFC 5961 blind attacks: an off-path attacker knows the 4-tuple of a connection
 * carrying 2 MB each way (timestamps, SACK, window scaling and 1 MiB buffers, the
 * defaults) but not its sequence numbers, and sprays both ends with (a) RSTs whose
 * sequence numbers sweep the whole space, (b) SYNs, (c) data segments with guessed
 * sequence and acknowledgment numbers. The connection must survive and both streams must
 * arrive exact (SHA-256). The tests count the guesses that got through:
 *  - RST: a reset needs SEG.SEQ = RCV.NXT exactly (RFC 5961 §3.2, allowed to reset: the
 *    attacker would have guessed all 32 bits); in-window RSTs only earn a challenge ACK.
 *  - SYN: never resets (§4.2), whatever the sequence number.
 *  - data: must be in the window *and* carry an ACK in [SND.UNA - MAX.SND.WND, SND.NXT]
 *    (§5.2); accepted injected bytes are counted as bytes of the received streams that
 *    differ from what was sent.
 * Seeded; the seed is printed (override with FTCP_ATTACK_SEED=<n>).
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/tcp/config.js';
import { newStats } from '../../src/tcp/info.js';
import { Prng } from '../../src/tcp/prng.js';
import { recoveryOnAck } from '../../src/tcp/recovery.js';
import { createTcb } from '../../src/tcp/tcb.js';
import { seqAdd, seqDiff } from '../../src/wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption } from '../../src/wire/tcp.js';
import { established } from './fixtures.js';
import { A_ADDR, B_ADDR, craft, type Pair, type Side } from './harness.js';
import { hostileTransfer, type HostileRun } from './hostile.js';

const SEED = Number(process.env.FTCP_ATTACK_SEED ?? 5961);
const BYTES = 2_000_000;
/** MAX.SND.WND: the largest window either side can offer (1 MiB receive buffers). */
const MAX_WND = 1_048_576;

type Kind = 'rst' | 'syn' | 'data';

interface Tally {
  sent: number;
  /** At injection time: SEG.SEQ = RCV.NXT exactly. */
  exact: number;
  /** At injection time: some of the segment falls in the receive window. */
  inWindow: number;
  /** In the window and SEG.ACK acceptable (RFC 5961 §5.2), with the ACK flag on. */
  inWindowAckOk: number;
  /** Largest congestion window either end had (sampled every tick). */
  maxCwnd: number;
}

function attacker(kind: Kind, budget: number, perStep: number, r: Prng): { tally: Tally; attack: (p: Pair, c: { ca: number; sb: number }) => void } {
  const tally: Tally = { sent: 0, exact: 0, inWindow: 0, inWindowAckOk: 0, maxCwnd: 0 };
  // The sweep: guess k covers the k-th slice of the sequence space, at a random place in it.
  const stride = Math.floor(0x1_0000_0000 / budget);
  const attack = (p: Pair, c: { ca: number; sb: number }): void => {
    for (const [side, id] of [['a', c.ca], ['b', c.sb]] as const) tally.maxCwnd = Math.max(tally.maxCwnd, p.stack(side).info(id).cwnd ?? 0);
    for (let i = 0; i < perStep && tally.sent < budget; i++) {
      const to: Side = tally.sent % 2 === 0 ? 'b' : 'a';
      const victim = p.stack(to).info(to === 'a' ? c.ca : c.sb);
      const seq = (tally.sent * stride + r.below(stride)) >>> 0;
      const ack = r.nextU32();
      let flags: number;
      let payload: Uint8Array | undefined;
      const options: TcpOption[] = [];
      if (kind === 'rst') flags = r.below(2) === 0 ? TCP_RST : TCP_RST | TCP_ACK;
      else if (kind === 'syn') flags = r.below(2) === 0 ? TCP_SYN : TCP_SYN | TCP_ACK;
      else {
        flags = TCP_ACK | TCP_PSH | (r.below(8) === 0 ? TCP_FIN : 0);
        payload = new Uint8Array(1 + r.below(1400)).fill(0xee);
        // Half carry a timestamp (a random one: PAWS lets about half of those through).
        if (r.below(2) === 0) options.push({ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: r.nextU32(), ecr: r.nextU32() });
      }
      const len = payload?.length ?? 0;
      const off = seqDiff(seq, victim.rcvNxt);
      const inWindow = (off >= 0 && off < Math.max(victim.rcvWnd, 1)) || (len > 0 && off < 0 && off + len > 0);
      if (seq === victim.rcvNxt) tally.exact++;
      if (inWindow) {
        tally.inWindow++;
        const fromUna = seqDiff(ack, victim.sndUna);
        if (flags & TCP_ACK && fromUna >= -MAX_WND && seqDiff(ack, victim.sndNxt) <= 0) tally.inWindowAckOk++;
      }
      // Delivered at once (the harness's link would queue it behind the in-flight packets).
      p.stack(to).handlePacket(
        p.now,
        craft({
          src: victim.remoteAddress,
          dst: victim.localAddress,
          srcPort: victim.remotePort,
          dstPort: victim.localPort,
          seq,
          ack,
          flags,
          window: r.below(65536),
          options,
          ...(payload !== undefined ? { payload } : {}),
        }),
      );
      tally.sent++;
    }
    p.flush();
  };
  return { tally, attack };
}

function report(kind: Kind, tally: Tally, run: HostileRun): void {
  const sa = run.p.a.stats();
  const sb = run.p.b.stats();
  const sum = (k: 'resetsReceived' | 'challengeAcks' | 'challengeAcksThrottled' | 'fastRecoveries'): number => (sa[k] ?? 0) + (sb[k] ?? 0);
  const drops = (r: string): number => ((sa.drops as Record<string, number>)[r] ?? 0) + ((sb.drops as Record<string, number>)[r] ?? 0);
  console.log(
    `blind ${kind} (seed ${SEED}): ${tally.sent} guesses, exact RCV.NXT ${tally.exact}, in window ${tally.inWindow}, ` +
      `in window with an acceptable ACK ${tally.inWindowAckOk}; resets received ${sum('resetsReceived')}, ` +
      `injected bytes accepted ${run.aToB.mismatchedBytes + run.bToA.mismatchedBytes}, challenge ACKs ${sum('challengeAcks')} ` +
      `(+${sum('challengeAcksThrottled')} throttled), drops rst-ignored ${drops('rst-ignored')} syn-ignored ${drops('syn-ignored')} ` +
      `bad-ack ${drops('bad-ack')} unacceptable ${drops('unacceptable-segment')} paws ${drops('paws')}, fast recoveries ${sum('fastRecoveries')}, max cwnd ${tally.maxCwnd}, ticks ${run.steps}`,
  );
}

function expectIntact(run: HostileRun): void {
  expect(run.errors).toEqual([]);
  expect(run.completed).toBe(true);
  for (const d of [run.aToB, run.bToA]) {
    expect(d.received).toBe(BYTES);
    expect(d.mismatchedBytes).toBe(0);
    expect(d.sha256Received).toBe(d.sha256Sent);
  }
}

describe(`RFC 5961 blind attacks on a connection carrying data (seed ${SEED})`, () => {
  it('(a) 200,000 RSTs sweeping the sequence space: no reset, in-window ones get challenge ACKs', () => {
    console.log(`blind attack seed ${SEED} (set FTCP_ATTACK_SEED to reproduce another)`);
    const { tally, attack } = attacker('rst', 200_000, 25, new Prng(SEED));
    const run = hostileTransfer({ bytes: BYTES, seed: SEED, attack });
    report('rst', tally, run);
    expect(tally.sent).toBe(200_000);
    expect(tally.inWindow).toBeGreaterThan(20); // the sweep did land in the windows
    const resets = run.p.a.stats().resetsReceived + run.p.b.stats().resetsReceived;
    // Only a guess of RCV.NXT exactly may reset (and then the connection is gone).
    expect(resets).toBe(tally.exact);
    expect(tally.exact).toBe(0);
    expectIntact(run);
    const challenges = (run.p.a.stats().challengeAcks ?? 0) + (run.p.b.stats().challengeAcks ?? 0);
    const throttled = (run.p.a.stats().challengeAcksThrottled ?? 0) + (run.p.b.stats().challengeAcksThrottled ?? 0);
    expect(challenges + throttled).toBe(tally.inWindow);
  }, 60_000);

  it('(b) 100,000 SYNs with any sequence number: never a reset, each answered by a (rate-limited) challenge ACK', () => {
    const { tally, attack } = attacker('syn', 100_000, 20, new Prng(SEED + 1));
    const run = hostileTransfer({ bytes: BYTES, seed: SEED + 1, attack });
    report('syn', tally, run);
    expect(tally.sent).toBe(100_000);
    expect(run.p.a.stats().resetsReceived + run.p.b.stats().resetsReceived).toBe(0);
    expectIntact(run);
    const st = [run.p.a.stats(), run.p.b.stats()];
    expect(st.reduce((n, s) => n + (s.drops['syn-ignored'] ?? 0), 0)).toBe(100_000);
    expect(st.reduce((n, s) => n + (s.challengeAcks ?? 0) + (s.challengeAcksThrottled ?? 0), 0)).toBe(100_000);
  }, 60_000);

  it('(c) 200,000 data segments with guessed SEQ and ACK: no injected byte is accepted', () => {
    const { tally, attack } = attacker('data', 200_000, 200, new Prng(SEED + 2));
    const run = hostileTransfer({ bytes: BYTES, seed: SEED + 2, attack });
    report('data', tally, run);
    expect(tally.sent).toBe(200_000);
    expect(tally.inWindow).toBeGreaterThan(20);
    expect(tally.inWindowAckOk).toBe(0); // a blind guess of both numbers: about 1 in 2^24
    expectIntact(run);
  }, 60_000);
});

describe('a lucky in-window guess with a wrong ACK changes nothing (RFC 5961 §5, RFC 7323 §5.3)', () => {
  it('data at RCV.NXT exactly with an unacceptable ACK and a far-future TSval: dropped, TS.Recent untouched', () => {
    const { p, ca, sb } = established();
    const b = p.b.info(sb);
    const before = p.b.stats();
    // The attacker guessed RCV.NXT (1 in 2^32), but not the ACK; its TSval is 2^31 - 1 ahead.
    const ts = p.wire.filter((w) => w.from === 'a').at(-1)!.seg.options.find((o) => o.kind === 'ts');
    const tsVal = ts !== undefined && ts.kind === 'ts' ? ts.val : 0;
    p.deliver(
      'b',
      craft({
        src: b.remoteAddress,
        dst: b.localAddress,
        srcPort: b.remotePort,
        dstPort: b.localPort,
        seq: b.rcvNxt,
        ack: seqAdd(b.sndNxt, 0x4000_0000),
        flags: TCP_ACK | TCP_PSH,
        options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: seqAdd(tsVal, 0x7fff_ffff), ecr: 0 }],
        payload: new Uint8Array(100).fill(0xee),
      }),
    );
    expect(p.b.stats().drops['bad-ack']).toBe((before.drops['bad-ack'] ?? 0) + 1);
    expect(p.b.info(sb).readable).toBe(0);
    // Had TS.Recent taken the forged TSval, PAWS would now drop every segment from a.
    const payload = new Uint8Array(5000).fill(7);
    p.a.write(p.now, ca, payload);
    p.runUntil(() => p.b.info(sb).readable === 5000);
    expect(p.b.stats().drops.paws ?? 0).toBe(0);
    expect(p.b.read(p.now, sb)).toEqual(payload);
  });
});

describe('duplicate ACKs an attacker elicits do not inflate cwnd without bound (RFC 5681 §3.2 step 4)', () => {
  it('10,000 duplicate ACKs in NewReno recovery: cwnd stays within ssthresh + 3 SMSS + the data outstanding', () => {
    const cfg = resolveConfig({ addresses: [B_ADDR], seed: 1, congestionControl: 'newreno' });
    const iss = 1000;
    const tcb = createTcb(cfg, { id: 1, state: 'ESTABLISHED', localAddr: B_ADDR, localPort: 80, remoteAddr: A_ADDR, remotePort: 4000, passive: true, listenerId: -1, visible: true, iss, nowUs: 0, tsOffset: 0 });
    const mss = tcb.sndMss;
    const flight = 20 * mss;
    tcb.sndUna = iss + 1;
    tcb.sndNxt = tcb.sndMax = iss + 1 + flight;
    tcb.cc.cwnd = flight;
    tcb.cc.ssthresh = 1 << 30;
    const stats = newStats();
    const dupAck = { ack: iss + 1, ackedBytes: 0, flightBefore: flight, classicDup: true, sackOption: false, newSacked: 0, delivered: 0, rack: false, prr: false, nowUs: 0 };
    const actions = Array.from({ length: 10_000 }, () => recoveryOnAck(tcb, dupAck, stats));
    expect(actions.filter((a) => a === 'enter')).toHaveLength(1);
    expect(tcb.rec.active).toBe(true);
    expect(tcb.cc.cwnd).toBeLessThanOrEqual(tcb.cc.ssthresh + 3 * mss + flight);
    expect(tcb.cc.cwnd).toBeGreaterThan(tcb.cc.ssthresh + 3 * mss); // it did inflate, up to the bound
  });
});
