// `ftcp experiment modes --real`: the output modes with real replica processes on loopback
// (src/lab/experiment-modes-real.ts), run in-process through runCli (the replicas, the switch
// and the arbiter are children of the built CLI). The output rule shows no anomaly across a
// kill -9 of the primary with the log lagging; --json is one object of the documented shape;
// the unsafe replicas warn. What the unsafe mode showed is printed, not asserted: on real
// processes it is counted over trials. Flags of the wrong kind are refused in one line.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { describeWithDist } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-experiment-real-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const COUNTS = ['brokenStreams', 'resets', 'outputLostBytes', 'inputLostBytes', 'missingConnections', 'counterRepeats', 'counterGaps'] as const;

describeWithDist('ftcp experiment modes --real', ['cli/main', 'cli/replica', 'net/replica-host', 'lab/experiment-modes-real'], () => {
  it('--json: one object; the output rule shows no anomaly after the kill; the unsafe replicas warn', async () => {
    // Generous timing: the machine is shared, and a false failover is not what this tests.
    const r = await cli(['experiment', 'modes', '--real', '--trials', '2', '--workloads', 'counter', '--modes', 'output-rule,async', '--heartbeat-ms', '30', '--failure-timeout-ms', '300', '--capture-dir', dir, '--json']);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const report = JSON.parse(r.stdout);
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(report).sort()).toEqual(['dir', 'notes', 'options', 'rows', 'why']);
    expect(report.options).toMatchObject({ modes: ['output-rule', 'async'], workloads: ['counter'], trials: 2, heartbeatMs: 30, failureTimeoutMs: 300, loseMs: 135 });
    expect(report.rows.map((x: { workload: string; mode: string }) => `${x.workload}/${x.mode}`)).toEqual(['counter/output-rule', 'counter/async']);
    for (const row of report.rows) {
      for (const k of [...COUNTS, 'trials', 'invalidTrials', 'anomalyTrials', 'throughputKBps', 'requestsPerS', 'p50Ms', 'p99Ms']) expect(typeof row[k], `${row.mode}.${k}`).toBe('number');
      expect(row.trials + row.invalidTrials).toBe(2);
    }
    const rule = report.rows[0];
    expect(rule.trials, 'at least one trial of the output rule was measured').toBeGreaterThan(0);
    expect({ anomalyTrials: rule.anomalyTrials, first: rule.first }).toEqual({ anomalyTrials: 0, first: undefined });
    for (const k of COUNTS) expect(rule[k], k).toBe(0);
    expect(rule.liveMs).toBeGreaterThan(0);
    expect(report.why['output-rule']).toMatch(/^safe/);
    const unsafe = report.rows[1];
    console.log(`experiment modes --real: async showed an anomaly in ${unsafe.anomalyTrials} of ${unsafe.trials} trial(s): out lost ${unsafe.outputLostBytes} B, in lost ${unsafe.inputLostBytes} B, ${unsafe.brokenStreams} stream(s) broken; ${unsafe.first ?? ''}`);
    // The unsafe replicas said so, each on its stderr; the output rule's did not.
    expect(readFileSync(join(report.dir, 'counter-async-1', 'replica-a.stderr'), 'utf8')).toMatch(/^warning: ftcp replica a: UNSAFE output mode async, for experiments only: /m);
    expect(readFileSync(join(report.dir, 'counter-async-1', 'replica-b.stderr'), 'utf8')).toMatch(/^warning: ftcp replica b: UNSAFE output mode async/m);
    expect(() => readFileSync(join(report.dir, 'counter-output-rule-1', 'replica-a.stderr'), 'utf8')).toThrow(/ENOENT/);
  }, 300_000);
});

describe('ftcp experiment modes: --real and the simulator each refuse the other\'s flags; the unsafe modes stay out of serve', () => {
  it.each([
    [['experiment', 'modes', '--real', '--seeds', '1-3'], /^error: --seeds is for the simulator; --real runs real processes \(use --trials\)\n$/],
    [['experiment', 'modes', '--real', '--log-loss', '0.2'], /^error: --log-loss is for the simulator/],
    [['experiment', 'modes', '--trials', '3'], /^error: --trials is for --real \(real processes\); add --real or drop it\n$/],
    [['experiment', 'modes', '--real', '--trials', '0'], /^error: --trials must be an integer from 1 to 50, got 0\n$/],
    [['experiment', 'modes', '--real', '--heartbeat-ms', '100', '--failure-timeout-ms', '150'], /^error: --failure-timeout-ms \(150\) must be more than twice --heartbeat-ms \(100\)/],
    [['experiment', 'modes', '--real', '--workloads', 'kv'], /^error: --workloads: kv is not one of counter, upload\n$/],
    [['replica', '--role', 'primary', '--name', 'a', '--unsafe-output-mode', 'output-rule'], /^error: --unsafe-output-mode must be one of async, acks-at-once, ack-on-receipt, got output-rule \(the output rule is the default: leave the flag out\)\n$/],
    [['replica', '--role', 'primary', '--name', 'a', '--unsafe-output-mode', 'async', '--unsafe-no-output-rule'], /^error: --unsafe-output-mode and --unsafe-no-output-rule both choose the output mode/],
    [['serve', '--unsafe-output-mode', 'async'], /^error: unknown option '--unsafe-output-mode'/],
  ])('%j', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});
