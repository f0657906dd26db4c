// `ftcp soak`: its flags (no processes), and a short run with real processes on loopback
// (arbiter, switch, replicas as children, the load client in-process) that leaves soak.json
// and report.html in its run directory. Timing: D 300 ms
// (TEST_TIMING) on this shared machine; no durations are asserted.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { parseDuration } from '../../src/cli/soak.js';
import { rssVerdict } from '../../src/lab/soak-rss.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-soak-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ftcp soak: flags', () => {
  it('reads 90s, 10m and 1h', () => {
    expect([parseDuration('90s'), parseDuration('10m'), parseDuration('1h')]).toEqual([90, 600, 3600]);
  });

  it.each([['5x'], ['1.5h'], ['5s'], ['25h'], ['-3m'], ['']])('refuses --duration %j with one line and exit 2', async (d) => {
    const r = await cli(['soak', '--duration', d]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--duration must be/);
  });

  it('refuses the counter app, a bad interval and D not above H', async () => {
    expect((await cli(['soak', '--app', 'counter'])).stderr).toMatch(/--app must be one of echo, bulk, kv/);
    expect((await cli(['soak', '--interval-ms', 'soon'])).code).toBe(2);
    expect((await cli(['soak', '--heartbeat-ms', '50', '--failure-timeout-ms', '40'])).code).toBe(2);
  });

  it('--help names the faults and the exit codes', async () => {
    const r = await cli(['soak', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/kill-primary, kill-backup, pause-primary, pause-backup, arbiter-restart/);
    expect(r.stdout).toMatch(/--duration <d>/);
    expect(r.stdout).toMatch(/130 interrupted/);
    expect(r.stdout).toMatch(/--no-report/);
  });

  it('RSS is flat when the last window is within 10 % of the first after warm-up', () => {
    const series = (f: (t: number) => number) => Array.from({ length: 61 }, (_, t) => ({ atS: t, pairKiB: f(t), byReplica: {} }));
    expect(rssVerdict(series(() => 100_000), 60).flat).toBe(true);
    expect(rssVerdict(series((t) => 100_000 + t * 1000), 60).flat).toBe(false);
    expect(rssVerdict(series(() => 1), 60)).toMatchObject({ warmUpS: 6, windowS: 10 });
    expect(rssVerdict([], 60).flat).toBe(null);
  });
});

describeWithDist('ftcp soak (real processes)', [...LIVE_SOURCES, 'cli/soak', 'lab/soak', 'lab/soak-rss', 'lab/soak-uploads', 'lab/live-cluster', 'lab/report/soak-html', 'lab/report/write-run'], () => {
  // Every round is a new client against the same server, past the few dozen rounds a fresh
  // server sees: kv's store outlives a round, so each round takes keys of its own (a GET of
  // an earlier round's key would break the stream); bulk's server connection numbers grow
  // with every round, and the client must still tell which server stream it reads.
  // kv runs with --no-report, bulk without: soak.json in the run directory either way, report.html only in bulk's.
  it.each([['kv'], ['bulk']])('40 s of %s: faults happened, redundancy was restored after each, 0 broken streams, 0 resets', async (app) => {
    const noReport = app === 'kv' ? ['--no-report'] : [];
    const r = await cli(['soak', '--duration', '40s', '--seed', '3', '--app', app, '--interval-ms', '1500', '--dir', join(dir, app), '--json', ...noReport, '--heartbeat-ms', String(TEST_TIMING.heartbeatMs), '--failure-timeout-ms', String(TEST_TIMING.failureTimeoutMs)]);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    const runDir = join(dir, app, 'soak-seed3');
    expect(JSON.parse(readFileSync(join(runDir, 'soak.json'), 'utf8'))).toEqual(report);
    if (app === 'kv') {
      expect(existsSync(join(runDir, 'report.html'))).toBe(false);
      expect(r.stdout + r.stderr).not.toMatch(/^report: /m);
    } else {
      // With --json the path goes to stderr: stdout stays the summary and one JSON object.
      expect(r.stderr).toContain(`report: ${join(runDir, 'report.html')}\n`);
      const page = readFileSync(join(runDir, 'report.html'), 'utf8');
      expect(page).toContain('<svg id="rss"');
      expect(page.match(/<line class="fault"/g)).toHaveLength(report.faults.length);
    }
    expect(report.problems, r.stdout).toEqual([]);
    expect(r.code).toBe(0);
    expect(report.faults.length).toBeGreaterThanOrEqual(3);
    expect(report.faultsSurvived).toBe(report.faults.length);
    for (const f of report.faults) {
      expect(f.restoredAfterMs, JSON.stringify(f)).toBeGreaterThan(0);
      expect(f.primary).not.toBe(f.backup);
    }
    // A replica fault leaves a new backup (a joiner) behind it.
    const replicaFaults = report.faults.filter((f: { fault: string }) => f.fault !== 'arbiter-restart');
    expect(new Set(replicaFaults.map((f: { backup: string }) => f.backup)).size).toBe(replicaFaults.length);
    expect(report.streams.broken).toBe(0);
    expect(report.streams.intact).toBeGreaterThan(0);
    expect(report.loadRounds).toBeGreaterThan(app === 'bulk' ? 40 : 1);
    expect(report.resets).toBe(0);
    expect(report.falseFailovers).toBe(0);
    expect(report.rss.samples.length).toBeGreaterThan(5);
    // bulk: every upload compared with the digests of the primary of its time; the others upload nothing.
    expect(report.uploads).toEqual(app === 'bulk' ? { checked: report.streams.intact, broken: 0, unchecked: 0 } : { checked: 0, broken: 0, unchecked: 0 });
    if (app === 'bulk') expect(r.stdout).toMatch(new RegExp(`uploads checked against the server app's digests: ${report.streams.intact} \\(0 wrong\\), 0 not checked`));
    // One progress line per fault.
    expect(r.stdout.match(/^ok +fault \d+ at [\d.]+ s: [a-z-]+; restored after \d+ ms: .*; streams so far \d+ intact, 0 broken$/gm)).toHaveLength(report.faults.length);
    expect(r.stdout).not.toMatch(/^BROKEN/m);
  }, 180_000);
});
