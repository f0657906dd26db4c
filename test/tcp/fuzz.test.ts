/**
 * Never throw on network input: random garbage, mutated real packets, and well-formed
 * segments with random fields are fed to stacks holding connections in many states.
 * Seeded; the seed is printed (override with FTCP_FUZZ_SEED=<n>).
 */
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/tcp/prng.js';
import type { Stack } from '../../src/tcp/stack.js';
import { seqDiff } from '../../src/wire/seq.js';
import { parseTcpPacket } from '../../src/wire/packet.js';
import { established, finWait2, state } from './fixtures.js';
import { randomOptions } from './hostile.js';
import { A_ADDR, B_ADDR, bytes, craft, MS, type Pair } from './harness.js';

const SEED = Number(process.env.FTCP_FUZZ_SEED ?? 20261125);

/** Check what must hold whatever came in. */
function checkInvariants(s: Stack): void {
  for (const id of s.sockets()) {
    const i = s.info(id);
    if (i.kind === 'listener') continue;
    expect(seqDiff(i.sndNxt, i.sndUna)).toBeGreaterThanOrEqual(0);
    expect(i.rcvWnd).toBeGreaterThanOrEqual(0);
    // RFC 7323 §2.3: a window field scaled by our shift; and never more than the buffer can
    // take (RCV.BUFF, default 1 MiB).
    expect(i.rcvWnd).toBeLessThanOrEqual(65535 * 2 ** (i.rcvWscale ?? 0));
    expect(i.rcvWnd + i.readable).toBeLessThanOrEqual(1_048_576);
    expect(i.readable).toBeGreaterThanOrEqual(0);
  }
  const t = s.pollTimeout();
  if (t !== undefined) expect(Number.isFinite(t)).toBe(true);
}

function drain(p: Pair): void {
  for (const s of [p.a, p.b]) {
    while (s.pollTransmit() !== undefined) {
      /* discard */
    }
    while (s.pollEvent() !== undefined) {
      /* discard */
    }
  }
}

describe(`never throw on network input (seed ${SEED})`, () => {
  it('random garbage bytes', () => {
    console.log(`fuzz seed ${SEED} (set FTCP_FUZZ_SEED to reproduce another)`);
    const r = new Prng(SEED);
    const { p } = established();
    for (let i = 0; i < 5000; i++) {
      const len = r.below(120);
      const b = bytes(len, r.nextU32());
      if (len > 0 && r.chance(0.5)) b[0] = 0x45; // look like IPv4 more often
      p.b.handlePacket(p.now + i, b);
    }
    drain(p);
    checkInvariants(p.b);
    const st = p.b.stats();
    expect(st.packetsIn).toBeGreaterThanOrEqual(5000);
    expect(Object.values(st.drops).reduce((a, b) => a + b!, 0)).toBeGreaterThanOrEqual(5000);
  });

  it('mutated real packets (bit flips, truncation, extension)', () => {
    const r = new Prng(SEED + 1);
    const { p, ca } = established();
    p.a.write(p.now, ca, bytes(30_000));
    p.settle();
    const corpus = p.wire.map((w) => w.bytes);
    for (let i = 0; i < 20_000; i++) {
      const orig = corpus[r.below(corpus.length)]!;
      let m = orig.slice();
      const kind = r.below(4);
      if (kind === 0) {
        for (let k = 0; k <= r.below(4); k++) m[r.below(m.length)]! ^= 1 << r.below(8);
      } else if (kind === 1) {
        m = m.subarray(0, r.below(m.length));
      } else if (kind === 2) {
        const e = new Uint8Array(m.length + 1 + r.below(40));
        e.set(m);
        m = e;
      } else {
        m[r.below(Math.min(m.length, 60))] = r.below(256);
      }
      const to = r.chance(0.5) ? p.a : p.b;
      to.handlePacket(p.now, m);
      if (i % 100 === 0) {
        drain(p);
        checkInvariants(to);
      }
    }
    drain(p);
  });

  it('well-formed segments with random fields against listeners, connections in several states, and closed ports', () => {
    const r = new Prng(SEED + 2);
    const fixtures = [established(), finWait2(), established({ b: { recvBufferBytes: 2000, reassemblyLimitBytes: 500 } })];
    let now = 0;
    for (let i = 0; i < 30_000; i++) {
      const { p, ca, sb } = fixtures[r.below(fixtures.length)]!;
      now = Math.max(now, p.now) + r.below(3) * MS;
      p.now = now;
      const toB = r.chance(0.5);
      const target = toB ? p.b : p.a;
      const id = toB ? sb : ca;
      let info;
      try {
        info = target.info(id);
      } catch {
        info = undefined;
      }
      const near = (x: number): number => (x + r.below(200_000) - 100_000) >>> 0;
      const ports = [80, info?.localPort ?? 80, r.below(65536), 0];
      const pkt = craft({
        src: toB ? A_ADDR : B_ADDR,
        dst: r.chance(0.97) ? (toB ? B_ADDR : A_ADDR) : r.nextU32(),
        srcPort: r.chance(0.8) && info ? info.remotePort : r.below(65536),
        dstPort: ports[r.below(ports.length)]!,
        seq: info && r.chance(0.7) ? near(info.rcvNxt) : r.nextU32(),
        ack: info && r.chance(0.7) ? near(info.sndNxt) : r.nextU32(),
        flags: r.below(256),
        window: r.below(65536),
        options: randomOptions(r),
        payload: bytes(r.chance(0.5) ? 0 : r.below(3000), r.nextU32()),
      });
      target.handlePacket(now, pkt);
      if (r.chance(0.05)) target.handleTimeout(target.pollTimeout() ?? now);
      if (r.chance(0.02) && info && info.state !== 'CLOSED') {
        try {
          target.read(now, id);
          if (r.chance(0.5)) target.write(now, id, bytes(r.below(5000)));
        } catch {
          /* the connection may be closing: API errors are fine here */
        }
      }
      for (let x = target.pollTransmit(); x !== undefined; x = target.pollTransmit()) {
        expect(parseTcpPacket(x).ok).toBe(true); // whatever we send is well-formed
      }
      while (target.pollEvent() !== undefined) {
        /* discard */
      }
      if (i % 50 === 0) checkInvariants(target);
    }
    // The listeners still accept a new connection after all that.
    const { p, lb } = fixtures[0]!;
    drain(p);
    const c = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: 80, localPort: 40000 });
    p.runUntil(() => state(p, 'a', c) === 'ESTABLISHED' || state(p, 'a', c) === 'CLOSED');
    p.settle();
    expect(p.b.accept(lb)).toBeDefined();
  });
});
