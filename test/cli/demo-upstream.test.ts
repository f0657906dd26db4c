// `ftcp demo failover --app http`: an HTTP server upstream of each replica, in the
// simulator (the fake) and with real processes (Node's http on loopback, kill -9 of the
// primary). The JSON report carries `divergences`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-demo-upstream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const timing = ['--heartbeat-ms', String(TEST_TIMING.heartbeatMs), '--failure-timeout-ms', String(TEST_TIMING.failureTimeoutMs)];

describe('ftcp demo failover --sim --app http', () => {
  it('--json: every keep-alive stream intact across the kill, divergences 0', async () => {
    const r = await cli(['demo', 'failover', '--sim', '--seed', '8', '--app', 'http', '--connections', '3', '--capture-dir', dir, '--json']);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(report.problems).toEqual([]);
    expect(r.code).toBe(0);
    expect(report).toMatchObject({ ok: true, app: 'http', streams: { intact: 3, broken: 0 }, resets: 0, divergences: 0, divergenceList: [] });
    expect(r.stdout).toMatch(/upstream app: 0 divergence\(s\)/);
  });

  // --app http --client kernel runs curl (test/lab/kernel-tools.test.ts); the node client speaks no http.
  it('--app http with --client kernel --kernel-tool node is a usage error', async () => {
    const r = await cli(['demo', 'failover', '--app', 'http', '--client', 'kernel', '--kernel-tool', 'node']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--kernel-tool node does not speak http; use --kernel-tool curl/);
  });
});

describeWithDist('ftcp demo failover --app http (real processes)', [...LIVE_SOURCES, 'cli/demo', 'lab/demo/live', 'lab/demo/report', 'lab/live-cluster', 'net/upstream-sockets', 'lab/upstream-servers'], () => {
  it('--json: Node HTTP servers behind both replicas, kill -9, every response once and in order', async () => {
    const r = await cli(['demo', 'failover', '--seed', '9', '--app', 'http', '--connections', '3', '--kill-after-ms', '150', '--capture-dir', dir, '--json', ...timing]);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(report.problems, r.stdout).toEqual([]);
    expect(r.code).toBe(0);
    expect(report).toMatchObject({ ok: true, app: 'http', streams: { intact: 3, broken: 0 }, resets: 0, splitBrain: 0, divergences: 0, failover: { killed: 'a', by: 'b', epoch: 2 } });
  }, 240_000);
});
