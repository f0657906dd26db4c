/**
 * A packet fuzzer against stacks whose connection is carrying 2 MB each way:
 * every tick both stacks get random and mutated packets — garbage bytes, real packets
 * with one bit flipped, well-formed segments for the connection's 4-tuple with random
 * fields and options, stray packets (other ports and addresses, not TCP, fragments, bad
 * option encodings), and replays of real packets from earlier. Nothing may throw, both
 * streams must arrive exact (SHA-256), and the drop counters must account for what was
 * dropped: every garbage and bit-flipped packet exactly once in a parse-level counter.
 * Seeded; the seed is printed (override with FTCP_FUZZ_LIVE_SEED=<n>).
 */
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/tcp/prng.js';
import type { DropReason, StackStats } from '../../src/tcp/types.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { bytes, craft, type Pair, type Side } from './harness.js';
import { hostileTransfer, randomOptions } from './hostile.js';

const SEED = Number(process.env.FTCP_FUZZ_LIVE_SEED ?? 93);
const BYTES = 2_000_000;
const PER_TICK = 30;
/** Fuzz packets in all; the transfer runs on clean once they are sent. */
const BUDGET = 120_000;
/** Drop reasons of packets that never parse as TCP for us. */
const PARSE_REASONS: DropReason[] = [
  'ipv4-truncated',
  'ipv4-bad-version',
  'ipv4-bad-ihl',
  'ipv4-bad-total-length',
  'ipv4-bad-checksum',
  'ipv4-fragment',
  'not-tcp',
  'tcp-truncated',
  'tcp-bad-data-offset',
  'tcp-bad-checksum',
  'tcp-bad-option',
  // Stray ICMP (fuzz.ts sends other protocols): the ICMP parser's drops (wire/icmp.ts).
  'icmp-truncated',
  'icmp-bad-checksum',
  'icmp-not-error',
  'icmp-bad-quote',
  'icmp-not-tcp',
];

function dropsOf(s: StackStats, reasons: readonly DropReason[]): number {
  return reasons.reduce((n, r) => n + (s.drops[r] ?? 0), 0);
}

function fixIpChecksum(p: Uint8Array): Uint8Array {
  p[10] = 0;
  p[11] = 0;
  const sum = internetChecksum(p, 0, 20);
  p[10] = sum >>> 8;
  p[11] = sum & 0xff;
  return p;
}

type FuzzKind = 'garbage' | 'flip' | 'blind' | 'stray' | 'replay';
const KINDS: FuzzKind[] = ['garbage', 'flip', 'blind', 'stray', 'replay'];

describe(`packet fuzzer against live connections (seed ${SEED})`, () => {
  it('random and mutated packets: nothing throws, both streams exact, counters account for the drops', () => {
    console.log(`live fuzz seed ${SEED} (set FTCP_FUZZ_LIVE_SEED to reproduce another)`);
    const r = new Prng(SEED);
    const sent: Record<FuzzKind, number> = { garbage: 0, flip: 0, blind: 0, stray: 0, replay: 0 };
    /** Parse-level drops that the garbage and bit-flipped packets caused, measured around each. */
    let parseDropped = 0;
    let total = 0;
    /** Real packets seen on the wire, toward each side (a ring of the last 2048). */
    const history: { to: Side; bytes: Uint8Array }[] = [];
    const stray = parseIpv4Addr('203.0.113.9');
    const attack = (p: Pair, c: { ca: number; sb: number }): void => {
      for (const w of p.wire) {
        history.push({ to: w.from === 'a' ? 'b' : 'a', bytes: w.bytes });
        if (history.length > 4096) history.splice(0, 2048);
      }
      for (let i = 0; i < PER_TICK && total < BUDGET; i++) {
        const kind = KINDS[r.below(KINDS.length)]!;
        const to: Side = r.below(2) === 0 ? 'a' : 'b';
        const victim = p.stack(to);
        const info = victim.info(to === 'a' ? c.ca : c.sb);
        const tuple = { src: info.remoteAddress, dst: info.localAddress, srcPort: info.remotePort, dstPort: info.localPort };
        let pkt: Uint8Array;
        switch (kind) {
          case 'garbage':
            pkt = bytes(r.below(80), r.nextU32());
            if (pkt.length >= 20 && r.below(2) === 0) pkt[0] = 0x45; // past the version check, mostly
            break;
          case 'flip': {
            if (history.length === 0) continue;
            const h = history[r.below(history.length)]!;
            pkt = h.bytes.slice();
            const bit = r.below(pkt.length * 8);
            pkt[bit >>> 3]! ^= 0x80 >>> (bit & 7);
            // RFC 1071: one flipped bit always changes the sum; sent where the original went.
            break;
          }
          case 'blind':
            if (r.below(2) === 0) {
              // Anything, at a random place in the sequence space.
              pkt = craft({ ...tuple, seq: r.nextU32(), ack: r.nextU32(), flags: r.below(256), window: r.below(65536), options: randomOptions(r), payload: bytes(r.below(3) === 0 ? r.below(1400) : 0, r.nextU32()) });
            } else {
              // Near the window but with an ACK far out of range (so that it cannot be an
              // acceptable segment, RFC 5961 §5.2), no text, no FIN, and never a RST at RCV.NXT.
              const flags = r.below(256) & ~0x01;
              let seq = (info.rcvNxt + r.below(2_000_000) - 1_000_000) >>> 0;
              if (seq === info.rcvNxt) seq = (seq + 1) >>> 0;
              pkt = craft({ ...tuple, seq, ack: (info.sndUna + 0x8000_0000 + r.below(1 << 20)) >>> 0, flags, window: r.below(65536), options: randomOptions(r) });
            }
            break;
          case 'stray': {
            const v = r.below(6);
            const base = craft({ ...tuple, dstPort: v === 0 ? 0 : v === 1 ? 1 + r.below(1000) : tuple.dstPort, dst: v === 2 ? stray : tuple.dst, seq: r.nextU32(), ack: r.nextU32(), flags: r.below(256) });
            if (v === 3) pkt = fixIpChecksum(Object.assign(base, { 9: 17 })); // UDP
            else if (v === 4) pkt = fixIpChecksum(Object.assign(base, { 6: 0x20 })); // more fragments
            else if (v === 5) {
              // An option of length 1 (RFC 9293 §3.1: length counts kind and length); the
              // data byte compensates so that the checksum stays right.
              pkt = craft({ ...tuple, seq: info.rcvNxt, ack: info.sndUna, flags: 0x10, options: [{ kind: 'unknown', type: 30, data: new Uint8Array(2) }] });
              pkt[20 + 21] = 1;
              pkt[20 + 23] = 3;
            } else pkt = base;
            break;
          }
          default: {
            if (history.length === 0) continue;
            const h = history[r.below(history.length)]!;
            if (h.to !== to) continue;
            pkt = h.bytes;
          }
        }
        sent[kind]++;
        total++;
        const before = kind === 'garbage' || kind === 'flip' ? dropsOf(victim.stats(), [...PARSE_REASONS, 'not-for-us', 'bad-port']) : 0;
        victim.handlePacket(p.now, pkt); // must never throw
        if (kind === 'garbage' || kind === 'flip') parseDropped += dropsOf(victim.stats(), [...PARSE_REASONS, 'not-for-us', 'bad-port']) - before;
      }
      p.flush();
    };
    const run = hostileTransfer({ bytes: BYTES, seed: SEED, attack });
    const sa = run.p.a.stats();
    const sb = run.p.b.stats();
    const both = (reason: DropReason): number => (sa.drops[reason] ?? 0) + (sb.drops[reason] ?? 0);
    const drops: Record<string, number> = {};
    for (const s of [sa, sb]) for (const [k, v] of Object.entries(s.drops)) drops[k] = (drops[k] ?? 0) + v;
    console.log(`live fuzz: sent ${JSON.stringify(sent)} over ${run.steps} ticks; drops ${JSON.stringify(drops)}; resets sent ${sa.resetsSent + sb.resetsSent}, challenge ACKs ${(sa.challengeAcks ?? 0) + (sb.challengeAcks ?? 0)}`);
    expect(run.errors).toEqual([]);
    expect(run.completed).toBe(true);
    for (const d of [run.aToB, run.bToA]) {
      expect(d.mismatchedBytes).toBe(0);
      expect(d.sha256Received).toBe(d.sha256Sent);
    }
    // Every garbage and bit-flipped packet was dropped, and counted once.
    expect(parseDropped).toBe(sent.garbage + sent.flip);
    expect(total).toBe(BUDGET);
    // The counters moved for each kind of bad input.
    for (const reason of ['ipv4-truncated', 'ipv4-bad-checksum', 'ipv4-fragment', 'not-tcp', 'tcp-bad-checksum', 'tcp-bad-option', 'not-for-us', 'bad-port'] as const) {
      expect(both(reason), reason).toBeGreaterThan(0);
    }
    for (const reason of ['unacceptable-segment', 'rst-ignored', 'syn-ignored', 'bad-ack', 'paws', 'no-ack-flag'] as const) {
      expect(both(reason), reason).toBeGreaterThan(0);
    }
    expect(sa.duplicateSegments + sb.duplicateSegments).toBeGreaterThan(0); // the replays
    expect(sa.resetsSent + sb.resetsSent).toBeGreaterThan(0); // segments for closed ports
  }, 60_000);
});
