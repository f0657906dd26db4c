// The bench's lan group (src/lab/bench-lan.ts) is not part of --quick: it says so and adds
// no figure, so `ftcp bench --quick` stays a smoke run without namespaces. (The group
// itself is a benchmark: it reports figures and asserts nothing; `ftcp bench --only lan`.)
import { expect, it } from 'vitest';
import { benchLan } from '../../src/lab/bench-lan.js';
import type { BenchContext, Figure } from '../../src/lab/bench-run.js';
import { BENCH_GROUPS } from '../../src/lab/bench-run.js';

it('--quick: the lan group is skipped with a line saying how to run it, no figure', async () => {
  const lines: string[] = [];
  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  const c: BenchContext = {
    o: { groups: ['lan'], quick: true, json: false, trials: 3, trialsGiven: false, connections: 500, connectionsGiven: false },
    say: (s) => lines.push(s),
    add: (f) => figures.push(f),
    cmd: (g) => `ftcp bench --only ${g}`,
    details,
    interrupted: undefined,
    replicatedMBps: NaN,
  };
  await benchLan(c);
  expect(figures).toEqual([]);
  expect(lines).toEqual(['lan: skipped with --quick (each trial builds a LAN of network namespaces); run it with `ftcp bench --only lan`']);
  expect(details['lanSkipped']).toBe('quick');
  expect(BENCH_GROUPS).toContain('lan');
});
