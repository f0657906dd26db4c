// `ftcp scenario run` and `ftcp chaos` write the page of their run (report.json and
// report.html) by default and print its path, not with --no-report; `ftcp report` reads the
// folders they wrote. Real processes, one short run each; timing as the other process tests.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist, root } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-run-reports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const timing = ['--heartbeat-ms', String(TEST_TIMING.heartbeatMs), '--failure-timeout-ms', String(TEST_TIMING.failureTimeoutMs)];

/** The page a run printed (`report: PATH`), checked to draw the kill and go-live; then `ftcp report` on its folder. */
async function checkPage(printed: string, killed: string): Promise<void> {
  const page = /^report: (.+)$/m.exec(printed)?.[1];
  expect(page, printed).toBeDefined();
  const html = readFileSync(page!, 'utf8');
  expect(html).toContain(`default-src 'none'`);
  expect(html).toMatch(new RegExp(`data-kind="kill"`));
  expect(html).toContain(`kill -9 replica ${killed}`);
  expect(html).toContain('data-kind="live"');
  const verdict = JSON.parse(readFileSync(join(dirname(page!), 'report.json'), 'utf8')) as { ok: boolean; failover: { killed: string } };
  expect(verdict.failover.killed).toBe(killed);
  rmSync(page!);
  const again = await cli(['report', dirname(page!)]);
  expect(again.code, again.stderr).toBe(0);
  expect(existsSync(page!)).toBe(true);
}

describeWithDist('run pages of scenario run and chaos', [...LIVE_SOURCES, 'lab/report/html', 'lab/report/verdicts', 'lab/chaos-run', 'cli/chaos'], () => {
  it('scenario run: writes report.html by default (path on stderr with --json), none with --no-report', async () => {
    const file = join(root, 'scenarios', 'failover.yaml');
    const r = await cli(['scenario', 'run', file, '--capture-dir', join(dir, 'scenario'), '--json', ...timing]);
    expect(r.code, r.stdout).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!).ok).toBe(true); // stdout stays one JSON object
    await checkPage(r.stderr, 'a');

    const quiet = await cli(['scenario', 'run', file, '--capture-dir', join(dir, 'quiet'), '--no-report', ...timing]);
    expect(quiet.code, quiet.stdout).toBe(0);
    expect(quiet.stdout + quiet.stderr).not.toMatch(/^report: /m);
    const runDir = /^captures and event logs: (.+)\/$/m.exec(quiet.stdout)?.[1];
    expect(runDir, quiet.stdout).toBeDefined();
    expect(existsSync(join(runDir!, 'a.pcapng'))).toBe(true);
    expect(existsSync(join(runDir!, 'report.html'))).toBe(false);
  }, 300_000);

  it('chaos: a kept trial gets its page, its path printed', async () => {
    const r = await cli(['chaos', '--trials', '1', '--seed', '5', '--faults', 'kill-primary', '--app', 'counter', '--keep', '--capture-dir', join(dir, 'chaos'), ...timing]);
    expect(r.code, r.stdout).toBe(0);
    await checkPage(r.stdout, 'a');
  }, 300_000);
});
