/**
 * Loss recovery and congestion control driven end to end: a stack against a scripted peer
 * that sends SACK blocks (RFC 6675), and pairs of stacks over a lossy link (NewReno and
 * CUBIC both selected per connection).
 */
import { describe, expect, it } from 'vitest';
import { established } from './fixtures.js';
import { bytes, concat, drainSegments, readAll, sameBytes } from './harness.js';
import { ScriptedPeer } from './scripted-peer.js';

describe('RFC 6675 SACK loss recovery against a scripted peer', () => {
  it('retransmits every hole of a window within one round trip and counts the recovery', () => {
    const p = new ScriptedPeer(true);
    p.s.write(p.now, p.id, bytes(40_000, 1));
    expect(p.sent(drainSegments(p.s)).length).toBe(10);
    // Segments 1, 4 and 7 (relative 1, 3001, 6001) are lost; the peer SACKs the rest.
    const out: [number, number][] = [];
    out.push(...p.sent(p.ack(50, 1, [[1001, 3001]])));
    out.push(...p.sent(p.ack(0, 1, [[1001, 3001], [4001, 6001]])));
    out.push(...p.sent(p.ack(0, 1, [[1001, 3001], [4001, 6001], [7001, 10_001]])));
    const rxt = out.filter(([l]) => l < 10_001);
    expect(rxt).toEqual([[1, 1001], [3001, 4001], [6001, 7001]]);
    const st = p.s.stats();
    expect(st.fastRecoveries).toBe(1);
    expect(st.sackRecoveries).toBe(1);
    expect(st.timeouts).toBe(0);
    // All retransmissions arrive: the cumulative ACK covers RecoveryPoint, recovery ends
    // with cwnd = ssthresh = 0.7 * FlightSize (CUBIC, the default).
    const sndMax = Math.max(...out.map(([, r]) => r));
    p.ack(50, sndMax);
    const info = p.s.info(p.id);
    expect(info.congestionControl).toBe('cubic');
    expect(info.ssthresh).toBe(7000);
    expect(info.cwnd).toBe(7000);
  });

  it('counts invalid SACK blocks and D-SACKs and takes neither as duplicate ACKs', () => {
    const p = new ScriptedPeer(true);
    p.s.write(p.now, p.id, bytes(4000, 2));
    drainSegments(p.s);
    expect(p.ack(50, 2001)).toEqual([]);
    for (let i = 0; i < 3; i++) expect(p.ack(0, 2001, [[1, 1001]])).toEqual([]); // D-SACK
    for (let i = 0; i < 3; i++) expect(p.ack(0, 2001, [[5001, 6001]])).toEqual([]); // beyond SND.MAX
    const st = p.s.stats();
    expect(st.dsacksReceived).toBe(3);
    expect(st.sackBlocksInvalid).toBe(3);
    expect(st.fastRecoveries).toBe(0);
  });

  it('without SACK, NewReno recovers two losses in one window by the partial-ACK rule', () => {
    const p = new ScriptedPeer(false, { congestionControl: 'newreno' });
    p.s.write(p.now, p.id, bytes(14_000, 3));
    drainSegments(p.s);
    p.ack(50, 1);
    p.ack(0, 1);
    expect(p.sent(p.ack(0, 1))).toEqual([[1, 1001]]);
    expect(p.sent(p.ack(50, 3001))).toEqual([[3001, 4001]]); // partial ACK
    const st = p.s.stats();
    expect(st.fastRecoveries).toBe(1);
    expect(st.sackRecoveries).toBe(0);
    expect(p.s.info(p.id).ssthresh).toBe(5000);
  });
});

describe('recovery state over a long connection', () => {
  it('recover follows SND.UNA, so 2^31 bytes without loss do not disable fast retransmit', () => {
    const p = new ScriptedPeer(false);
    const tcb = p.s.state().conns.get(p.id)!;
    p.s.write(p.now, p.id, bytes(4000, 4));
    drainSegments(p.s);
    p.ack(50, 2001);
    expect(tcb.rec.recover).toBe(p.rel(2001));
    // recover nearly 2^31 behind SND.UNA (it would flip with the next 2000 bytes): the
    // next cumulative ACK brings it along, and fast retransmit still works after that.
    tcb.rec.recover = (tcb.sndUna - 2 ** 31 + 2000) >>> 0;
    p.ack(10, 3001);
    expect(tcb.rec.recover).toBe(p.rel(3001));
    p.s.write(p.now, p.id, bytes(4000, 5));
    drainSegments(p.s);
    p.ack(10, 3001);
    p.ack(0, 3001);
    expect(p.sent(p.ack(0, 3001))).toEqual([[3001, 4001]]);
  });
});

describe('lossy transfers between two stacks', () => {
  for (const cc of ['newreno', 'cubic'] as const) {
    it(`${cc}: 400 kB each way over a 3% lossy link arrive intact, with fast recoveries`, () => {
      const { p, ca, sb } = established({ a: { congestionControl: cc }, b: { congestionControl: cc } });
      expect(p.a.info(ca).congestionControl).toBe(cc);
      expect(p.b.info(sb).congestionControl).toBe(cc);
      let r = 7;
      const rnd = (): number => (r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32;
      p.dropHook = () => rnd() < 0.03;
      const size = 400_000;
      const up = bytes(size, 21);
      const got: Uint8Array[] = [];
      let sent = 0;
      const pump = (): void => {
        if (sent < size) sent += p.a.write(p.now, ca, up.subarray(sent));
      };
      p.onEvent = (side, ev) => {
        if (side === 'a' && ev.type === 'writable') pump();
        if (side === 'b' && ev.type === 'readable') got.push(readAll(p.b, p.now, sb));
      };
      pump();
      p.runUntil(() => got.reduce((n, x) => n + x.length, 0) >= size, 2_000_000);
      expect(sameBytes(concat(got), up)).toBe(true);
      expect(p.a.stats().fastRecoveries).toBeGreaterThan(0);
    });
  }
});
