/**
 * RACK-TLP (RFC 8985) and PRR (RFC 6937) against a scripted peer: the reordering window
 * and its D-SACK adaptation, the tail loss probe's episode and its congestion response,
 * PRR's two bounds, and a snapshot taken with RACK's timer armed. The packet-level
 * behaviour is in test/conformance/{rack,tlp,prr}/.
 */
import { describe, expect, it } from 'vitest';
import { prrInit, prrSndcnt, type PrrState } from '../../src/tcp/prr.js';
import { Stack } from '../../src/tcp/stack.js';
import { bytes, drainSegments, sameBytes } from './harness.js';
import { ScriptedPeer } from './scripted-peer.js';

/** Ten segments of 1000 bytes out at once; the handshake gave an RTT of 100 ms. */
function tenInFlight(): ScriptedPeer {
  const p = new ScriptedPeer(true);
  p.s.write(p.now, p.id, bytes(10_000, 3));
  expect(drainSegments(p.s)).toHaveLength(10);
  return p;
}

describe('RACK (RFC 8985 §6.2)', () => {
  it('one SACKed segment arms the reordering timer at RACK.rtt + min_RTT / 4; a D-SACK doubles the window', () => {
    const p = tenInFlight();
    const sent = p.now;
    expect(p.sent(p.ack(50, 1, [[1001, 2001]]))).toEqual([]); // no loss yet (limited transmit: no new data left)
    // RACK.rtt = 50 ms, min_RTT = 50 ms (the SACKed segment), reo_wnd = 12.5 ms.
    expect(p.s.pollTimeout()).toBe(sent + 50_000 + 12_500);
    // A D-SACK (first block inside the second) that also SACKs 2001:3001: reo_wnd_mult = 2.
    expect(p.sent(p.ack(0, 1, [[1001, 2001], [1001, 3001]]))).toEqual([]);
    expect(p.s.stats().dsacksReceived).toBe(1);
    expect(p.s.pollTimeout()).toBe(sent + 50_000 + 25_000);
    // The timer fires: the first segment is lost, recovery retransmits it.
    p.now = p.s.pollTimeout()!;
    p.s.handleTimeout(p.now);
    expect(p.sent(drainSegments(p.s))).toEqual([[1, 1001]]);
    expect(p.s.stats().fastRecoveries).toBe(1);
    expect(p.s.stats().rackLost).toBe(1);
  });

  it('with --rack off, the same SACK waits for DupThresh (RFC 6675) and arms no reordering timer', () => {
    const p = new ScriptedPeer(true, { rack: false });
    p.s.write(p.now, p.id, bytes(10_000, 3));
    drainSegments(p.s);
    p.ack(50, 1, [[1001, 2001]]);
    expect(p.s.pollTimeout()).toBe(p.now - 50_000 + 300_000); // the RTO only (SRTT 100 ms, RTTVAR 50 ms)
  });
});

describe('TLP (RFC 8985 §7)', () => {
  /** Five segments, the last lost; the probe retransmits it at the PTO. */
  function probed(): ScriptedPeer {
    const p = new ScriptedPeer(true);
    p.s.write(p.now, p.id, bytes(5000, 4));
    drainSegments(p.s);
    p.ack(100, 4001);
    // One segment in flight: PTO = 2 * SRTT + 200 ms, clamped to the RTO (250 ms).
    const pto = p.s.pollTimeout()!;
    expect(pto).toBe(p.now + 250_000);
    p.now = pto;
    p.s.handleTimeout(p.now);
    expect(p.sent(drainSegments(p.s))).toEqual([[4001, 5001]]);
    expect(p.s.stats().tlpProbes).toBe(1);
    expect(p.s.stats().timeouts).toBe(0);
    // §7.3: the RTO, not a PTO, is armed after the probe.
    expect(p.s.pollTimeout()).toBe(p.now + 250_000);
    return p;
  }

  it('a probe that repaired the single loss (the next ACK passes TLP.end_seq) reduces cwnd (§7.4.2)', () => {
    const p = probed();
    p.ack(100, 5001); // ack = TLP.end_seq: not decided yet
    const before = p.s.info(p.id);
    p.s.write(p.now, p.id, bytes(1000, 5));
    drainSegments(p.s);
    p.ack(100, 6001);
    const after = p.s.info(p.id);
    expect(p.s.stats().tlpLossRepairs).toBe(1);
    expect(after.ssthresh).toBe(Math.floor((before.cwnd! * 7) / 10)); // CUBIC, RFC 9438 §4.6
    // cwnd = ssthresh, then this ACK's congestion avoidance growth (RFC 9438, well under an MSS here).
    expect(after.cwnd).toBeGreaterThanOrEqual(after.ssthresh!);
    expect(after.cwnd).toBeLessThan(after.ssthresh! + 1000);
  });

  it('a probe the receiver reports as a duplicate (D-SACK of TLP.end_seq) repaired nothing (§7.4.1)', () => {
    const p = probed();
    p.ack(100, 5001);
    const before = p.s.info(p.id);
    p.ack(0, 5001, [[4001, 5001]]);
    p.s.write(p.now, p.id, bytes(1000, 5));
    drainSegments(p.s);
    p.ack(100, 6001);
    expect(p.s.stats().tlpLossRepairs ?? 0).toBe(0);
    expect(p.s.info(p.id).cwnd).toBeGreaterThanOrEqual(before.cwnd!);
  });

  it('no probe without SACK (RFC 8985 §7: TLP needs RACK, and RACK needs SACK): the RTO comes first', () => {
    const p = new ScriptedPeer(false);
    p.s.write(p.now, p.id, bytes(5000, 4));
    drainSegments(p.s);
    p.ack(100, 4001);
    p.now = p.s.pollTimeout()!;
    p.s.handleTimeout(p.now);
    expect(p.sent(drainSegments(p.s))).toEqual([[4001, 5001]]);
    expect(p.s.stats().timeouts).toBe(1);
    expect(p.s.stats().tlpProbes ?? 0).toBe(0);
  });
});

describe('PRR (RFC 6937 §3)', () => {
  const fresh = (recoverFs: number): PrrState => {
    const s = { prrDelivered: 0, prrOut: 0, recoverFs: 0 };
    prrInit(s, recoverFs);
    return s;
  };

  it('while pipe > ssthresh, sends CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out, in whole segments', () => {
    const s = fresh(20_000);
    expect(prrSndcnt(s, 3000, 16_000, 14_000, 1000)).toBe(3000); // CEIL(2.1) = 3 segments
    s.prrOut = 3000;
    expect(prrSndcnt(s, 1000, 17_000, 14_000, 1000)).toBe(0); // CEIL(2.8) = 3
    expect(prrSndcnt(s, 1000, 16_000, 14_000, 1000)).toBe(1000); // CEIL(3.5) = 4
  });

  it('while pipe <= ssthresh, PRR-SSRB allows MAX(prr_delivered - prr_out, DeliveredData) + MSS, PRR-CRB prr_delivered - prr_out', () => {
    const ssrb = fresh(10_000);
    expect(prrSndcnt(ssrb, 3000, 3000, 7000, 1000)).toBe(4000);
    const crb = fresh(10_000);
    expect(prrSndcnt(crb, 3000, 3000, 7000, 1000, true)).toBe(3000);
    // Never beyond ssthresh - pipe.
    expect(prrSndcnt(fresh(10_000), 5000, 6500, 7000, 1000)).toBe(500);
  });

  it('exact for products beyond 2^53', () => {
    const s = fresh(2 ** 30);
    expect(prrSndcnt(s, 2 ** 30, 2 ** 30, 2 ** 29, 1)).toBe(2 ** 29);
  });
});

describe('snapshot with RACK-TLP state', () => {
  it("a stack restored while RACK's reordering timer is armed fires at the same deadline and sends the same bytes", () => {
    const p = tenInFlight();
    p.ack(50, 1, [[1001, 2001]]);
    const snap = p.s.snapshot();
    const r = Stack.restore(snap);
    expect(sameBytes(r.snapshot(), snap)).toBe(true);
    const deadline = p.s.pollTimeout()!;
    expect(r.pollTimeout()).toBe(deadline);
    p.s.handleTimeout(deadline);
    r.handleTimeout(deadline);
    const a = drainSegments(p.s);
    expect(a).toHaveLength(1);
    expect(drainSegments(r)).toEqual(a);
    expect(sameBytes(r.snapshot(), p.s.snapshot())).toBe(true);
    expect(r.stateDigest()).toBe(p.s.stateDigest());
  });
});
