// The primary killed at every instant around a connection's close (src/sim/close-sweep.ts):
// client-first, server-first and simultaneous closes, with the counter, echo and kv loads.
// Every run must go live with every stream intact and no RST on the client link either way.
// Before go-live stopped re-emitting the pure ACKs a finished client would answer
// (src/replica/go-live.ts reemitOutputs), every client-first and server-first case here had
// a RST: the regressions below are two of those runs.
import { describe, expect, it } from 'vitest';
import { runCluster, type ClusterOptions } from '../../src/sim/cluster.js';
import { CLOSE_ORDERS, closeCaseOptions, runCloseCase, type CloseCase } from '../../src/sim/close-sweep.js';

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
});
