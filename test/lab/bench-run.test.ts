// The bench report's pieces (src/lab/bench-run.ts): the JSON object of --json and one human line.
import { describe, expect, it } from 'vitest';
import { benchJson, figureLine, type Figure } from '../../src/lab/bench-run.js';

const fig = (key: string, value: number, extra: Partial<Figure> = {}): Figure => ({ key, what: key, value, unit: '', command: `ftcp bench --only x`, ...extra });

describe('the bench report', () => {
  it('puts every figure under its key, with its command and the missed targets', () => {
    const out = benchJson(
      [fig('stack.ratio65535', 0.3), fig('failover.p50Ms', 40.123456), fig('failover.broken', 0), fig('replicated.latencyOverheadP50Us', 900, { verdict: 'MISSED' }), fig('scale.bytesPerConnection', NaN)],
      { quick: true },
    );
    expect(out['stack.ratio65535']).toBe(0.3);
    expect(out['failover.p50Ms']).toBe(40.12);
    expect(out['failover.broken']).toBe(0);
    expect(out['scale.bytesPerConnection']).toBeNull();
    expect(out['quick']).toBe(true);
    expect(out['missed']).toEqual(['stack.ratio65535', 'replicated.latencyOverheadP50Us']);
    expect((out['commands'] as Record<string, string>)['failover.p50Ms']).toBe('ftcp bench --only x');
  });

  it('prints the target next to a figure and says when it is missed', () => {
    expect(figureLine(fig('failover.p99Ms', 250, { unit: 'ms' }))).toMatch(/failover\.p99Ms\s+250 ms\s+target <= 100 ms: MISSED\s+\$ ftcp bench --only x/);
    expect(figureLine(fig('failover.p50Ms', 40, { unit: 'ms' }))).toContain('target <= 50 ms: met');
    expect(figureLine(fig('stack.ratio1500', 0.1234))).not.toContain('target');
    expect(figureLine(fig('scale.bytesPerConnection', NaN))).toContain('n/a');
  });
});
