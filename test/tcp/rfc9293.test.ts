/**
 * RFC 9293 Appendix B requirements that no other test or conformance script pins down
 * (docs/conformance.md maps every MUST to its test). Each test names its MUST.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/tcp/config.js';
import { Stack } from '../../src/tcp/stack.js';
import { StackError } from '../../src/tcp/types.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { TCP_SYN } from '../../src/wire/tcp.js';
import { A_ADDR, B_ADDR, craft, drainEvents, drainSegments } from './harness.js';

function listening(): Stack {
  const s = new Stack({ addresses: [B_ADDR], seed: 1 });
  s.listen(0, { port: 80 });
  return s;
}

describe('RFC 9293 Appendix B', () => {
  it('MUST-28, MUST-25: keep-alive idle time defaults to 2 hours (and keep-alive is off per socket)', () => {
    const cfg = resolveConfig({ addresses: [B_ADDR], seed: 1 });
    expect(cfg.keepAliveIdleMs).toBeGreaterThanOrEqual(2 * 3600 * 1000);
  });

  it('MUST-40: a delayed-ACK timeout of 0.5 s or more is refused', () => {
    expect(resolveConfig({ addresses: [B_ADDR], seed: 1, delayedAckMs: 499 }).delayedAckMs).toBe(499);
    expect(() => new Stack({ addresses: [B_ADDR], seed: 1, delayedAckMs: 500 })).toThrow(StackError);
  });

  it('MUST-63: a SYN from a broadcast, multicast or zero source address is dropped without an answer', () => {
    for (const src of ['224.0.0.5', '239.1.2.3', '255.255.255.255', '0.0.0.0']) {
      const s = listening();
      s.handlePacket(0, craft({ src: parseIpv4Addr(src), dst: B_ADDR, srcPort: 4000, dstPort: 80, seq: 1, flags: TCP_SYN }));
      expect(drainSegments(s), src).toEqual([]);
      expect(drainEvents(s), src).toEqual([]);
      expect(s.stats().connectionsPassive, src).toBe(0);
    }
  });

  it('MUST-57: a SYN sent to a broadcast or multicast address is dropped silently', () => {
    for (const dst of ['255.255.255.255', '192.0.2.255', '224.0.0.1']) {
      const s = listening();
      s.handlePacket(0, craft({ src: A_ADDR, dst: parseIpv4Addr(dst), srcPort: 4000, dstPort: 80, seq: 1, flags: TCP_SYN }));
      expect(drainSegments(s), dst).toEqual([]);
      expect(s.stats().drops['not-for-us'], dst).toBe(1);
    }
  });

  it('MUST-46: connect() to a broadcast or multicast address fails with EINVAL', () => {
    const s = new Stack({ addresses: [B_ADDR], seed: 1 });
    for (const ra of ['255.255.255.255', '224.0.0.1', '0.0.0.0']) {
      expect(() => s.connect(0, { remoteAddress: parseIpv4Addr(ra), remotePort: 80 }), ra).toThrow(StackError);
    }
  });

  it('MUST-41, MUST-42: a listener keeps listening while a connection on its port is half-open', () => {
    const s = listening();
    expect(() => s.listen(0, { port: 80 })).toThrow(StackError); // a second passive OPEN does not disturb the first
    s.handlePacket(0, craft({ src: A_ADDR, dst: B_ADDR, srcPort: 4000, dstPort: 80, seq: 1, flags: TCP_SYN }));
    s.handlePacket(0, craft({ src: A_ADDR, dst: B_ADDR, srcPort: 4001, dstPort: 80, seq: 1, flags: TCP_SYN }));
    const out = drainSegments(s);
    expect(out.map((x) => x.dstPort)).toEqual([4000, 4001]);
    expect(s.stats().connectionsPassive).toBe(2);
  });
});
