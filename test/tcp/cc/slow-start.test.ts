/** Slow start's options: RFC 9406 HyStart++ (rounds, CSS, its exits) and profile linux's per-segment credit. */
import { describe, expect, it } from 'vitest';
import { newRenoController } from '../../../src/tcp/cc/newreno.js';
import { CSS_ROUNDS, noteRttSample, N_RTT_SAMPLE, withSlowStartOptions } from '../../../src/tcp/cc/slow-start.js';
import { resolveConfig } from '../../../src/tcp/config.js';
import type { CcState } from '../../../src/tcp/congestion.js';
import { SSTHRESH_INFINITE } from '../../../src/tcp/congestion.js';
import type { StackConfig } from '../../../src/tcp/types.js';

const mss = 1000;

function state(config: Partial<StackConfig>): CcState {
  return withSlowStartOptions(newRenoController.init(mss), resolveConfig({ addresses: [0x0a000001], seed: 1, ...config }));
}

/**
 * One round of `n` ACKs of one segment each, with the given RTT; the sender keeps cwnd full,
 * so the flight before each ACK is cwnd (the round ends when that much has been acknowledged).
 */
function round(s: CcState, n: number, rttUs: number): void {
  for (let i = 0; i < n; i++) {
    noteRttSample(s, rttUs);
    newRenoController.onAck(s, { ackedBytes: mss, flightBefore: s.cwnd, mss, nowUs: 0, srttUs: rttUs });
  }
}

/** ACKs with the given RTT until HyStart++'s current round ends (its sample count starts again). */
function untilRoundEnd(s: CcState, rttUs: number): void {
  for (let i = 0; i < 10_000; i++) {
    round(s, 1, rttUs);
    if (s.hystart!.rttSampleCount === 0) return;
  }
  throw new Error('the round never ended');
}

describe('HyStart++ (RFC 9406)', () => {
  it('is off unless configured, in both profiles', () => {
    expect(state({}).hystart).toBeUndefined();
    expect(state({ profile: 'linux' }).hystart).toBeUndefined();
    expect(state({ hystart: true }).hystart?.phase).toBe('ss');
  });

  it('a steady RTT keeps slow start: one SMSS per ACK', () => {
    const s = state({ hystart: true });
    round(s, 10, 100_000);
    round(s, 20, 100_000);
    expect(s.hystart!.phase).toBe('ss');
    expect(s.cwnd).toBe(40_000);
  });

  it('an RTT grown by RttThresh after N_RTT_SAMPLE samples enters CSS, and CSS_ROUNDS rounds end it with ssthresh = cwnd', () => {
    const s = state({ hystart: true });
    untilRoundEnd(s, 100_000); // lastRoundMinRTT = 100 ms
    // RttThresh = max(4, min(100 / 8, 16)) = 12.5 ms: 112.499 ms is not enough.
    round(s, N_RTT_SAMPLE, 112_499);
    expect(s.hystart!.phase).toBe('ss');
    untilRoundEnd(s, 112_499); // lastRoundMinRTT = 112.499 ms, RttThresh 14.062 ms
    round(s, N_RTT_SAMPLE - 1, 127_000);
    expect(s.hystart!.phase).toBe('ss'); // 7 samples: not yet
    round(s, 1, 127_000);
    expect(s.hystart!.phase).toBe('css');
    expect(s.hystart!.cssBaselineMinRttUs).toBe(127_000);
    const atCss = s.cwnd;
    round(s, 4, 127_000);
    expect(s.cwnd - atCss).toBe(mss); // 4 ACKs * SMSS / CSS_GROWTH_DIVISOR
    let rounds = 0;
    while (s.ssthresh === SSTHRESH_INFINITE && rounds < 10) {
      untilRoundEnd(s, 127_000);
      rounds++;
    }
    expect(rounds).toBe(CSS_ROUNDS); // the round CSS began in counts as the first
    expect(s.ssthresh).toBe(s.cwnd);
    // Congestion avoidance from here (RFC 5681 §3.1: one SMSS per cwnd of ACKs).
    const before = s.cwnd;
    round(s, 1, 127_000);
    expect(s.cwnd - before).toBeLessThan(mss);
  });

  it('an RTT back below the CSS baseline resumes slow start (the exit was spurious)', () => {
    const s = state({ hystart: true });
    untilRoundEnd(s, 100_000);
    untilRoundEnd(s, 120_000);
    expect(s.hystart!.phase).toBe('css');
    round(s, N_RTT_SAMPLE - 1, 100_000); // the round's min RTT is below the baseline, but 7 samples are not enough
    expect(s.hystart!.phase).toBe('css');
    round(s, 1, 100_000);
    expect(s.hystart!.phase).toBe('ss');
    const before = s.cwnd;
    round(s, 3, 100_000);
    expect(s.cwnd - before).toBe(3 * mss);
  });

  it('is used only in the first slow start: after a loss (ssthresh set) slow start is RFC 5681\'s', () => {
    const s = state({ hystart: true });
    round(s, 10, 100_000);
    newRenoController.onTimeout(s, s.cwnd, mss, true);
    expect(s.ssthresh).toBeLessThan(SSTHRESH_INFINITE);
    const before = s.cwnd;
    round(s, 1, 200_000);
    expect(s.cwnd - before).toBe(mss);
    expect(s.hystart!.phase).toBe('ss'); // untouched: no longer consulted
  });
});

describe('profile linux: slow start credits every acknowledged segment', () => {
  it('an ACK of 3 segments grows cwnd by 3 SMSS (rfc: 1 SMSS), never past ssthresh', () => {
    const linux = state({ profile: 'linux' });
    const rfc = state({});
    for (const s of [linux, rfc]) newRenoController.onAck(s, { ackedBytes: 3 * mss, flightBefore: 10 * mss, mss, nowUs: 0, srttUs: 100_000 });
    expect(linux.cwnd).toBe(13 * mss);
    expect(rfc.cwnd).toBe(11 * mss);
    linux.ssthresh = 14 * mss;
    newRenoController.onAck(linux, { ackedBytes: 3 * mss, flightBefore: 13 * mss, mss, nowUs: 0, srttUs: 100_000 });
    expect(linux.cwnd).toBe(14 * mss);
  });

  it('does not grow cwnd when the flight is under half of it (Linux tcp_is_cwnd_limited)', () => {
    const s = state({ profile: 'linux' });
    newRenoController.onAck(s, { ackedBytes: mss, flightBefore: 5 * mss, mss, nowUs: 0, srttUs: 100_000 });
    expect(s.cwnd).toBe(10 * mss);
  });
});
