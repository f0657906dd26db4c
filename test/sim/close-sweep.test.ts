// The primary killed at every instant around a connection's close (src/sim/close-sweep.ts):
// client-first, server-first and simultaneous closes, with the counter, echo and kv loads.
// Every run must go live with every stream intact and no RST on the client link either way.
// Before go-live stopped re-emitting the pure ACKs a finished client would answer
// (src/replica/go-live.ts reemitOutputs), every client-first and server-first case here had
// a RST: the regressions below are two of those runs.
//
// With a hold (the live demo's in-flight moment, placed at the close): before the primary
// stopped sending repeats (src/replica/repeats.ts), every client-first and server-first hold
// with the FIN inside it drew a RST, with and without a kill.
import { describe, expect, it } from 'vitest';
import { runCluster, type ClusterOptions } from '../../src/sim/cluster.js';
import { CLOSE_ORDERS, closeCaseOptions, runCloseCase, type CloseCase, type CloseOrder } from '../../src/sim/close-sweep.js';

const SEEDS = [1, 2, 3];
const cases: CloseCase[] = [];
for (const order of CLOSE_ORDERS) {
  for (const app of ['counter', 'echo', 'kv'] as const) {
    // The fake upstream that closes first counts an echo answer per segment: line apps only.
    if (order !== 'client-first' && app === 'echo') continue;
    for (const seed of SEEDS) cases.push({ order, app, seed });
  }
}

describe('close-time failover campaign', () => {
  it(`${cases.length} cases, a kill at every kill point around the close: every stream intact, no RST`, () => {
    const failures: string[] = [];
    let runs = 0;
    let reemitted = 0;
    let crossed = 0;
    const resets = { fromClient: 0, toClient: 0 };
    for (const c of cases) {
      const r = runCloseCase(c);
      runs += r.runs;
      reemitted += r.reemitted;
      if (c.order === 'simultaneous' && r.finsCrossed === true) crossed++;
      // A case that covers the close: kills from before its first FIN to after it.
      if (r.firstFinUs === null || r.killsFromUs === null || r.killsToUs === null || r.killsFromUs >= r.firstFinUs || r.killsToUs <= r.firstFinUs) {
        failures.push(`${c.order} ${c.app} seed ${c.seed}: the kills (${r.killsFromUs}..${r.killsToUs} µs) do not span the first FIN (${r.firstFinUs} µs)`);
      }
      resets.fromClient += r.resets.fromClient;
      resets.toClient += r.resets.toClient;
      failures.push(...r.failures.map((f) => `${c.order} ${c.app} seed ${c.seed}: ${f}`));
    }
    console.log(`close campaign: ${cases.length} cases, ${runs} runs with a kill, ${reemitted} segments re-emitted, ${crossed} simultaneous case(s) with crossing FINs, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(resets).toEqual({ fromClient: 0, toClient: 0 });
    expect(runs).toBeGreaterThan(cases.length * 10);
    expect(reemitted).toBeGreaterThan(0);
    expect(crossed).toBeGreaterThan(0);
  }, 600_000);

  // Two runs that drew a RST before the fix; each names what the go-live used to re-emit.
  const regressions: Array<{ why: string; options: ClusterOptions; reemitted: number }> = [
    {
      why: 'client closed first and is in TIME-WAIT: the re-emitted ACK and FIN|ACK drew two ACKs, the first ended LAST-ACK, the second drew a RST to the client',
      options: { ...closeCaseOptions({ order: 'client-first', app: 'counter', seed: 1 }), faults: { ...closeCaseOptions({ order: 'client-first', app: 'counter', seed: 1 }).faults, crashAtUs: 94_926 }, crashAtPoint: 6 },
      reemitted: 1,
    },
    {
      why: 'server closed first: the re-emitted last ACK reached a client already CLOSED, which answered with a RST',
      options: { ...closeCaseOptions({ order: 'server-first', app: 'counter', seed: 1 }), faults: { ...closeCaseOptions({ order: 'server-first', app: 'counter', seed: 1 }).faults, crashAtUs: 89_205 }, crashAtPoint: 17 },
      reemitted: 0,
    },
  ];
  it.each(regressions.map((r) => [r.why, r] as const))('regression: %s', (_why, reg) => {
    const r = runCluster(reg.options);
    expect(r.problems).toEqual([]);
    expect(r.failovers.length).toBe(1);
    expect(r.clientLink.resets).toEqual({ fromClient: 0, toClient: 0 });
    expect(r.streams).toEqual({ intact: 1, broken: 0 });
    // The kill fell in the window where the backup still shadowed the close's output (r stale).
    const live = r.timeline.find((t) => t.text.includes('LIVE in epoch'))?.text ?? '';
    expect(live).toMatch(/of 1 entries above r/);
    expect(r.reemitted.segments).toBe(reg.reemitted);
  });

  // The hold outlasts the tail loss probe (300 ms) or also the retransmission timer twice
  // (800 ms); it starts 3 ms before the first FIN (the FIN is made in it) or 15 ms (the last
  // answer too).
  const holdCases: CloseCase[] = [];
  for (const order of CLOSE_ORDERS) for (const leadMs of [3, 15]) for (const ms of [300, 800]) holdCases.push({ order, app: 'counter', seed: 1, hold: { leadMs, ms } });
  it(`${holdCases.length} cases with the acknowledgements held at the close, no kill and a kill at every point after: every stream intact, no RST`, () => {
    const failures: string[] = [];
    let runs = 0;
    let reemitted = 0;
    for (const c of holdCases) {
      const r = runCloseCase(c);
      runs += r.runs;
      reemitted += r.reemitted;
      if (r.killsFromUs === null || r.killsToUs === null || r.killsToUs <= r.killsFromUs) failures.push(`${c.order} hold ${c.hold!.leadMs}/${c.hold!.ms} ms: no kills after the hold`);
      failures.push(...r.failures.map((f) => `${c.order} hold ${c.hold!.leadMs}/${c.hold!.ms} ms: ${f}`));
      expect(r.resets).toEqual({ fromClient: 0, toClient: 0 });
    }
    console.log(`close campaign with a hold: ${holdCases.length} cases, ${runs} runs with a kill, ${reemitted} segments re-emitted, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(runs).toBeGreaterThan(holdCases.length * 10);
    expect(reemitted).toBeGreaterThan(0);
  }, 600_000);

  /** A case's options with the hold placed as runCloseCase places it, and optionally the demo's loss and a kill at `point`. */
  function holdRun(order: CloseOrder, leadMs: number, ms: number, point?: number): ClusterOptions {
    const base = closeCaseOptions({ order, app: 'counter', seed: 1, hold: { leadMs, ms } });
    const probe = runCluster({ ...base, noCrash: true });
    const fromUs = Math.min(...probe.clientLink.fins.map((f) => f.timeUs)) - leadMs * 1000;
    const toUs = fromUs + ms * 1000;
    if (point === undefined) return { ...base, noCrash: true, faults: { ...base.faults, logHold: { fromUs, toUs } } };
    return { ...base, faults: { ...base.faults, logHold: { fromUs, toUs, thenLose: true }, crashAtUs: toUs }, crashAtPoint: point };
  }
  const holdRegressions: Array<{ why: string; options: () => ClusterOptions; serverFins: number | null; failovers: number }> = [
    {
      why: 'client first, 300 ms hold: the probe of the FIN was made in the hold and left with it; the client in TIME-WAIT answered both, the second answer found the connection CLOSED: RST to the client',
      options: () => holdRun('client-first', 3, 300),
      serverFins: 1,
      failovers: 0,
    },
    {
      why: 'client first, 800 ms hold: the retransmission timer, counted from the FIN\'s making, fired again 8 ms after it left: the same two answers and RST',
      options: () => holdRun('client-first', 3, 800),
      serverFins: 1,
      failovers: 0,
    },
    {
      why: 'server first, 300 ms hold: the client retransmitted its FIN for want of our held ACK; TIME-WAIT answered each copy, the second ACK reached a client CLOSED: RST from it',
      options: () => holdRun('server-first', 3, 300),
      serverFins: null,
      failovers: 0,
    },
    {
      why: 'server first, 800 ms hold: a FIN of the client crossed our released ACK; TIME-WAIT answered it 8 ms after the first ACK left: RST from the client',
      options: () => holdRun('server-first', 3, 800),
      serverFins: null,
      failovers: 0,
    },
    {
      why: 'client first, the demo\'s moment: hold, loss of the primary\'s frames, kill; the new primary re-emitted the FIN and its probe, both above r: RST to the client',
      options: () => holdRun('client-first', 3, 300, 0),
      serverFins: 1,
      failovers: 1,
    },
  ];
  it.each(holdRegressions.map((r) => [r.why, r] as const))('regression: %s', (_why, reg) => {
    const r = runCluster(reg.options());
    expect(r.problems).toEqual([]);
    expect(r.failovers.length).toBe(reg.failovers);
    expect(r.clientLink.resets).toEqual({ fromClient: 0, toClient: 0 });
    expect(r.streams).toEqual({ intact: 1, broken: 0 });
    // The hold made the client retransmit its FIN at least once (so the hold did cover the close).
    expect(r.clientLink.fins.filter((f) => f.fromClient).length).toBeGreaterThan(1);
    if (reg.serverFins !== null) expect(r.clientLink.fins.filter((f) => !f.fromClient).length).toBe(reg.serverFins);
  });
});
