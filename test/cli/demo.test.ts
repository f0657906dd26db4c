// `ftcp demo failover --sim`, run in-process through runCli.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli as runCliInProcess } from './cli-helpers.js';
import { readPcapng } from '../../src/pcap/reader.js';

/** The CLI in-process, with a fixed wall clock. */
const cli = (args: string[]) => runCliInProcess(args, () => 1_700_000_000_123);

const dir = mkdtempSync(join(tmpdir(), 'ftcp-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ftcp demo failover', () => {
  it('prints a timeline and, with --json, the report as the last line; writes five captures', async () => {
    const r = await cli(['demo', 'failover', '--sim', '--seed', '3', '--app', 'kv', '--connections', '2', '--json', '--capture-dir', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const report = JSON.parse(lines[lines.length - 1]!);
    expect(report).toMatchObject({ ok: true, seed: 3, app: 'kv', connections: 2, streams: { intact: 2, broken: 0 }, resets: 0, splitBrain: 0 });
    for (const k of ['detectedMs', 'liveMs', 'clientResumedMs']) expect(typeof report.failover[k]).toBe('number');
    expect(report.failover.detectedMs).toBeLessThanOrEqual(report.failover.liveMs);
    expect(report.failover.liveMs).toBeLessThanOrEqual(report.failover.clientResumedMs);
    expect(typeof report.reemitted.segments).toBe('number');
    expect(typeof report.reemitted.identicalToPrimary).toBe('number');
    expect(typeof report.client.duplicateSegmentsDropped).toBe('number');
    expect(Object.keys(report.captures).sort()).toEqual(['backup', 'client', 'log', 'primary', 'shadow']);
    for (const path of Object.values(report.captures) as string[]) {
      expect(existsSync(path)).toBe(true);
      expect(readPcapng(new Uint8Array(readFileSync(path))).packets.length).toBeGreaterThan(0);
    }
    expect(r.stdout).toMatch(/kill: replica a crashes/);
    expect(r.stdout).toMatch(/b: LIVE in epoch 2/);
    expect(r.stdout).toMatch(/reproduce: ftcp demo failover --sim --seed 3 --app kv --connections 2 --capture-dir \S+$/m);
  });

  it('--profile linux gives the replicas Linux\'s choices (other captures, the same outcome); a bad profile or --network lan is one line', async () => {
    const run = async (extra: string[]) => {
      const d = mkdtempSync(join(dir, 'profile-'));
      const r = await cli(['demo', 'failover', '--sim', '--seed', '11', '--app', 'counter', '--json', '--capture-dir', d, ...extra]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(report).toMatchObject({ ok: true, splitBrain: 0 });
      return readFileSync(report.captures.primary as string);
    };
    expect((await run(['--profile', 'linux'])).equals(await run([]))).toBe(false);
    expect((await run(['--profile', 'rfc'])).equals(await run([]))).toBe(true);
    const bad = await cli(['demo', 'failover', '--sim', '--profile', 'bsd']);
    expect([bad.code, bad.stderr]).toEqual([2, 'error: --profile must be rfc or linux, got bsd\n']);
    const lan = await cli(['demo', 'failover', '--network', 'lan', '--profile', 'linux']);
    expect(lan.code).toBe(2);
    expect(lan.stderr).toMatch(/^error: --profile is for --sim and --network loopback/);
  });

  it('without --json prints no JSON', async () => {
    const r = await cli(['demo', 'failover', '--sim', '--seed', '3', '--connections', '1', '--capture-dir', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/^\{/m);
    expect(r.stdout).toMatch(/result: ok/);
  });

  it('prints what the simulated client did with each re-sent segment, and says why when nothing was re-sent', async () => {
    const r = await cli(['demo', 'failover', '--sim', '--seed', '11', '--json', '--capture-dir', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(report.resent.length).toBe(report.reemitted.segments);
    expect(report.reemitted.segments).toBeGreaterThan(0);
    expect(report.reemitted.droppedByClient).toBeGreaterThan(0);
    const dropped = report.resent.find((s: { identical: boolean; answer: string }) => s.identical && (s.answer === 'd-sack' || s.answer === 'duplicate-ack'));
    expect(dropped.answerRef).toMatch(/^client\.pcapng#\d+$/);
    expect(dropped.ref).toMatch(/^backup\.pcapng#\d+$/);
    // the answer is the client's own segment in its capture, acknowledging past the re-sent bytes
    const frame = Number(dropped.answerRef.split('#')[1]);
    const answer = readPcapng(new Uint8Array(readFileSync(report.captures.client))).packets[frame - 1]!;
    expect(answer.data[12]).toBe(192); // from 192.0.2.x, the client
    expect(answer.data[15]).not.toBe(10);
    expect(r.stdout).toMatch(/what the client did with each re-sent segment \(from the captures; [1-9]\d* it had and dropped as duplicates\):\n {4}backup\.pcapng#\d+ to 192\.0\.2\.\d+:\d+, seq \d+, \d+ byte\(s\): byte-identical to what a sent; the client had it and dropped it: (duplicate ACK \d+|ACK \d+ with a D-SACK for it) \(client\.pcapng#\d+\)/);

    const none = await cli(['demo', 'failover', '--sim', '--seed', '3', '--app', 'kv', '--connections', '2', '--json', '--capture-dir', dir]);
    const quiet = JSON.parse(none.stdout.trim().split('\n').pop()!);
    expect(quiet.reemitted.segments).toBe(0);
    expect(quiet.resent).toEqual([]);
    expect(quiet.reemitted.whyNoDuplicate).toMatch(/^nothing to re-send: b had been told \(r = \d+\)/);
    expect(none.stdout).toContain(`  ${quiet.reemitted.whyNoDuplicate}\n`);
  });

  it('unsafe mode exits non-zero and says what broke', async () => {
    const r = await cli(['demo', 'failover', '--sim', '--seed', '1', '--unsafe-no-output-rule', '--json', '--capture-dir', dir]);
    expect(r.code).not.toBe(0);
    const lines = r.stdout.trim().split('\n');
    const report = JSON.parse(lines[lines.length - 1]!);
    expect(report.ok).toBe(false);
    expect(report.unsafe).toBe(true);
    expect(r.stdout).toMatch(/UNSAFE: no output rule/);
  });

  it.each([
    [['demo', 'failover', '--seed', '1', '--kill-after-ms', 'soon'], /--kill-after-ms must be a number of milliseconds/],
    [['demo', 'failover', '--seed', '1', '--bytes', 'lots'], /--bytes must be a whole number of bytes/],
    [['demo', 'failover', '--seed', '1', '--mtu', '65500'], /--mtu must be an integer from 68 to 65414 on a replica .*, got 65500/],
    [['demo', 'failover', '--seed', '1', '--heartbeat-ms', '50', '--failure-timeout-ms', '20'], /--failure-timeout-ms \(20\) must be longer than --heartbeat-ms \(50\)/],
    [['demo', 'failover', '--seed', '1', '--failure-timeout-start-ms', '20'], /^error: --failure-timeout-start-ms \(20\) must be at least --failure-timeout-ms \(50\)\n$/],
    [['demo', 'failover', '--seed', '1', '--failure-timeout-max-ms', '300', '--failure-timeout-start-ms', '200'], /^error: --failure-timeout-start-ms \(200\) must be at least --failure-timeout-max-ms \(300\)\n$/],
    [['demo', 'failover', '--seed', '1', '--failure-timeout-start-ms', 'soon'], /^error: --failure-timeout-start-ms must be a number of milliseconds from 0 to 600000, got soon\n$/],
    [['demo', 'failover', '--app', 'memcached'], /--app must be one of echo, counter, kv, bulk, http, redis, got memcached/],
    [['demo', 'failover', '--sim', '--app', 'redis'], /--app redis runs real redis-server processes; drop --sim/],
    [['demo', 'failover', '--sim', '--connections', '0'], /--connections must be an integer from 1 to 1000, got 0/],
    [['demo', 'failover', '--sim', '--connections', '2.5'], /--connections must be an integer from 1 to 1000, got 2.5/],
    [['demo', 'failover', '--sim', '--seed', '-4'], /--seed must be an integer from 0 to 4294967295/],
    [['demo', 'failover', '--sim', '--frobnicate'], /unknown option '--frobnicate'/],
  ])('rejects %j with a clear message and exit code 2', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
