// The transfer driver, hosts and mirroring, exercised with the toy FakeStack so that these
// pieces are tested independently of the real TCP stack (transfer.test.ts uses that).
import { describe, expect, it } from 'vitest';
import { Host } from '../../src/sim/host.js';
import { Network } from '../../src/sim/network.js';
import type { SansIoStack } from '../../src/sim/stack-api.js';
import { runTransfer, transferCommandLine, type StackFactory } from '../../src/sim/transfer.js';
import { Simulator } from '../../src/sim/world.js';
import type { StackEvent } from '../../src/tcp/types.js';
import { FakeStack, fakeStackFactory } from './fake-stack.js';

describe('runTransfer with a toy stack', () => {
  it('moves the bytes both ways on a clean link and checks them by SHA-256', () => {
    const r = runTransfer({ seed: 1, bytes: 100_000, stackFactory: fakeStackFactory });
    expect(r.failure).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.clientToServer).toMatchObject({ bytesSent: 100_000, bytesReceived: 100_000, match: true });
    expect(r.serverToClient.match).toBe(true);
    expect(r.clientToServer.sha256Sent).not.toBe(r.serverToClient.sha256Sent);
    // connect + accept + data: two one-way delays of 10 ms at least.
    expect(r.durationUs).toBeGreaterThanOrEqual(20_000);
    expect(r.captures.map((c) => c.name)).toEqual(['client', 'server']);
  });

  it('is deterministic: same seed, same captures; another seed, other bytes', () => {
    const a = runTransfer({ seed: 5, bytes: 20_000, stackFactory: fakeStackFactory, duplicate: 0.1, reorder: 0.1 });
    const b = runTransfer({ seed: 5, bytes: 20_000, stackFactory: fakeStackFactory, duplicate: 0.1, reorder: 0.1 });
    const c = runTransfer({ seed: 6, bytes: 20_000, stackFactory: fakeStackFactory, duplicate: 0.1, reorder: 0.1 });
    expect(Buffer.from(b.captures[0]!.bytes).equals(a.captures[0]!.bytes)).toBe(true);
    expect(Buffer.from(b.captures[1]!.bytes).equals(a.captures[1]!.bytes)).toBe(true);
    expect(c.clientToServer.sha256Sent).not.toBe(a.clientToServer.sha256Sent);
  });

  it('reports corrupted bytes that a checksum-less stack accepts as a correctness failure', () => {
    const r = runTransfer({ seed: 2, bytes: 100_000, stackFactory: fakeStackFactory, corrupt: 0.2 });
    expect(r.ok).toBe(false);
    expect(r.failure?.kind).toBe('correctness');
    expect(r.failure?.message).toMatch(/first difference at byte \d+/);
  });

  it('reports a run where nothing is left to happen as a liveness failure, with each side described', () => {
    const r = runTransfer({ seed: 3, bytes: 100_000, stackFactory: fakeStackFactory, loss: 1 });
    expect(r.failure?.kind).toBe('liveness');
    expect(r.failure?.message).toMatch(/nothing is scheduled/);
    expect(r.failure?.message).toMatch(/client: wrote 0\/100000 B/);
  });

  it('reports the event bound as a liveness failure', () => {
    const r = runTransfer({ seed: 3, bytes: 100_000, stackFactory: fakeStackFactory, maxEvents: 50 });
    expect(r.failure?.kind).toBe('liveness');
    expect(r.failure?.message).toMatch(/liveness bound/);
  });

  it('mirrors restored stacks without changing the run', () => {
    const plain = runTransfer({ seed: 4, bytes: 200_000, stackFactory: fakeStackFactory });
    const mirrored = runTransfer({ seed: 4, bytes: 200_000, stackFactory: fakeStackFactory, mirrorAtFraction: 0.1 });
    expect(mirrored.ok).toBe(true);
    expect(mirrored.mirror?.client.mismatch).toBeUndefined();
    expect(mirrored.mirror?.server.mismatch).toBeUndefined();
    expect(mirrored.mirror!.client.packetsCompared + mirrored.mirror!.server.packetsCompared).toBeGreaterThan(10);
    expect(Buffer.from(mirrored.captures[0]!.bytes).equals(plain.captures[0]!.bytes)).toBe(true);
  });

  it('catches a restore that loses state as a determinism failure', () => {
    const lossy: StackFactory = {
      create: fakeStackFactory.create,
      restore: (snapshot) => {
        const state = JSON.parse(new TextDecoder().decode(snapshot)) as { peer: number };
        state.peer ^= 1;
        return FakeStack.restore(new TextEncoder().encode(JSON.stringify(state)));
      },
    };
    const r = runTransfer({ seed: 4, bytes: 50_000, stackFactory: lossy, mirrorAtFraction: 0.3 });
    expect(r.failure?.kind).toBe('determinism');
    expect(r.failure?.message).toMatch(/restored from its snapshot diverged: call #\d+ pollTransmit\(\): bytes differ at offset 19/);
  });

  it('prints the command that reproduces a run', () => {
    expect(transferCommandLine({ seed: 9, bytes: 10_000_000, loss: 0.05, duplicate: 0.02, reorder: 0.05, corrupt: 0.01 }))
      .toBe('ftcp sim transfer --bytes 10000000 --seed 9 --loss 0.05 --dup 0.02 --reorder 0.05 --corrupt 0.01');
    expect(transferCommandLine({ seed: 1, bytes: 5, delayUs: 2500 })).toBe('ftcp sim transfer --bytes 5 --seed 1 --delay-ms 2.5');
  });
});

/** A stack whose deadline the test sets; records when it was woken. */
class TimerStack implements SansIoStack {
  deadlineUs: number | undefined;
  woken: number[] = [];
  out: Uint8Array[] = [];
  events: StackEvent[] = [];
  handlePacket(): void {}
  handleTimeout(nowUs: number): void {
    this.woken.push(nowUs);
    if (this.deadlineUs !== undefined && nowUs >= this.deadlineUs) this.deadlineUs = undefined;
  }
  pollTransmit(): Uint8Array | undefined {
    return this.out.shift();
  }
  pollEvent(): StackEvent | undefined {
    return this.events.shift();
  }
  pollTimeout(): number | undefined {
    return this.deadlineUs;
  }
}

describe('Host', () => {
  it('fires the timer at the latest deadline only, ignoring superseded ones', () => {
    const sim = new Simulator();
    const net = new Network(sim, 1);
    const stack = new TimerStack();
    const host = new Host(sim, net, 'h', 1, stack);
    host.act((s) => (s.deadlineUs = 5000));
    host.act((s) => (s.deadlineUs = 2000)); // earlier
    sim.run({ untilUs: 1000 });
    host.act((s) => (s.deadlineUs = 8000)); // later: the 2000 and 5000 tasks are now stale
    sim.run({});
    expect(stack.woken).toEqual([8000]);
    expect(host.timersFired).toBe(1);
    expect(host.timerUs).toBeUndefined();
  });

  it('fires a deadline already in the past at the current time', () => {
    const sim = new Simulator();
    const stack = new TimerStack();
    const host = new Host(sim, new Network(sim, 1), 'h', 1, stack);
    sim.run({ untilUs: 3000 });
    host.act((s) => (s.deadlineUs = 1000));
    sim.run({});
    expect(stack.woken).toEqual([3000]);
  });

  it('drains transmits before each event and lets handlers make calls re-entrantly', () => {
    const sim = new Simulator();
    const net = new Network(sim, 1);
    const sent: number[] = [];
    net.addTap({ onSend: (t) => sent.push(t.bytes[20]!) });
    const stack = new TimerStack();
    const pkt = (n: number): Uint8Array => Object.assign(new Uint8Array(21), { 20: n });
    const order: string[] = [];
    const host = new Host(sim, net, 'h', 1, stack, (h, event) => {
      order.push(`event ${event.socket} after ${sent.length} sent`);
      if (event.socket === 1) h.act((s) => s.out.push(pkt(9)));
    });
    host.act((s) => {
      s.out.push(pkt(1), pkt(2));
      s.events.push({ type: 'readable', socket: 1 }, { type: 'readable', socket: 2 });
    });
    expect(sent).toEqual([1, 2, 9]);
    expect(order).toEqual(['event 1 after 2 sent', 'event 2 after 3 sent']);
  });
});
