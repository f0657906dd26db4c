// `ftcp sim sweep`: in-process for the output and the flags, and the built CLI for --jobs
// (worker threads need the compiled worker).
import { afterAll, describe, expect, it } from 'vitest';
import { cli as runCliInProcess } from './cli-helpers.js';
import { SWEEP_FAULT_KINDS } from '../../src/sim/sweep.js';
import { describeWithDist, killAll, startCli } from '../helpers/process.js';

/** The CLI in-process, with a fixed wall clock. */
const cli = (args: string[]) => runCliInProcess(args, () => 1_700_000_000_000);

afterAll(killAll);

describe('ftcp sim sweep', () => {
  it('prints the fault table and the verdict; --json puts the totals on the last line', async () => {
    const human = await cli(['sim', 'sweep', '--seeds', '4', '--first-seed', '10']);
    expect(human.code, human.stdout + human.stderr).toBe(0);
    expect(human.stdout).toMatch(/faults injected over 4 seed\(s\)/);
    for (const k of SWEEP_FAULT_KINDS) expect(human.stdout).toContain(k);
    expect(human.stdout).toMatch(/ok: 4 seed\(s\), 0 violations/);

    const json = await cli(['sim', 'sweep', '--seeds', '4', '--first-seed', '10', '--json']);
    expect(json.code).toBe(0);
    const lines = json.stdout.trim().split('\n');
    expect(lines.length).toBe(1);
    const report = JSON.parse(lines[0]!);
    expect(report).toMatchObject({ ok: true, seeds: 4, passed: 4, violations: [] });
    expect(Object.keys(report.faults).sort()).toEqual([...SWEEP_FAULT_KINDS].sort());
    expect(report.faults['primary-crash'] + report.faults['backup-crash']).toBe(4);
  });

  it.each([
    [['--seeds', '0'], /--seeds must be an integer from 1/],
    [['--seeds', 'many'], /--seeds must be an integer/],
    [['--jobs', '999'], /--jobs must be an integer from 1 to \d+/],
    [['--first-seed', '-3'], /--first-seed/],
    [['--first-seed', '4294967295', '--seeds', '2'], /runs past seed 4294967295/],
  ])('refuses %j with one line and exit 2', async (extra, message) => {
    const r = await cli(['sim', 'sweep', ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
  });
});

describeWithDist('ftcp sim sweep --jobs (built CLI)', ['cli/sim-sweep', 'lab/sweep-pool', 'lab/sweep-worker', 'sim/sweep'], () => {
  it('two worker threads give the same totals as one thread', async () => {
    const run = async (jobs: string) => {
      const p = startCli(['sim', 'sweep', '--seeds', '12', '--first-seed', '100', '--jobs', jobs, '--json']);
      const { code } = await p.exited;
      expect(code, p.stderr()).toBe(0);
      const report = JSON.parse(p.stdout().trim().split('\n').pop()!);
      delete report.wallSeconds;
      return report;
    };
    const one = await run('1');
    const two = await run('2');
    expect(two).toEqual(one);
    expect(one.seeds).toBe(12);
  }, 120_000);
});
