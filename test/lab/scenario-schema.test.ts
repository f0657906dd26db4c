// The scenario file's whole-file check (names, keys, lines) and the nearest-word helper its
// messages use; the CLI's exit code and one-line messages are test/cli/scenario.test.ts's.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { editDistance, nearestWord } from '../../src/lab/nearest-word.js';
import { loadScenario } from '../../src/lab/scenario.js';
import { root } from '../helpers/process.js';

describe('nearestWord', () => {
  it('measures edits', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('live', 'live')).toBe(0);
  });
  it('finds the closest word, ignoring case', () => {
    expect(nearestWord('heartbeatMS', ['heartbeatMs', 'failureTimeoutMs'])).toBe('heartbeatMs');
    expect(nearestWord('liev', ['live', 'lost', 'won'])).toBe('live');
  });
  it('offers nothing for a word unlike any valid one', () => {
    expect(nearestWord('frobnicate', ['seed', 'mtu', 'app'])).toBeUndefined();
  });
});

describe('the example scenarios pass the whole-file check', () => {
  it.each(readdirSync(join(root, 'scenarios')))('%s', (file) => {
    const s = loadScenario(join(root, 'scenarios', file));
    expect(s.steps.length).toBeGreaterThan(0);
  });
  it('alone: true reaches the start step', async () => {
    const { parseScenario } = await import('../../src/lab/scenario.js');
    const s = parseScenario({ steps: [{ start: 'network' }, { start: { replica: 'a', role: 'primary', peer: 'b', alone: true } }] });
    expect(s.steps[1]!.step).toMatchObject({ kind: 'start-replica', alone: true });
  });
});
