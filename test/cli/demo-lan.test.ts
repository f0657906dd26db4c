// `ftcp demo failover --network lan`, run in-process through runCli: the failover demo on a
// real Linux bridge (src/lab/demo/lan.ts): replicas behind TAP devices in their own network
// namespaces, the kernel client in another; kill -9 of the primary. --json's report says ok,
// names the new primary's gratuitous ARP in the bridge capture, the bridge's fdb entry on
// b's port and the client namespace's nstat counters; the run leaves no namespace behind.
// The flags that do not fit a LAN are refused in one line (these need no root).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { lanDemoMissing } from '../../src/lab/demo/lan.js';
import { listNetns } from '../../src/lab/netns.js';
import { describeNeeding } from '../helpers/kernel.js';
import { distProblem } from '../helpers/process.js';
import { checkCaptureWithTshark, TSHARK_INSTALL_HINT, tsharkAvailable, tsharkFields } from '../helpers/tshark.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-demo-lan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const missing = [...lanDemoMissing(), tsharkAvailable() ? '' : TSHARK_INSTALL_HINT, distProblem(['cli/main', 'cli/replica', 'cli/kernel-client', 'net/replica-host', 'net/service-link']) ?? ''].filter((m) => m !== '').join('; ');

/** tshark reads the bridge capture and every replica capture of the run with no malformed frame. */
function expectCapturesClean(report: { lan: { bridgeCapture: { file: string } }; captures: Record<string, string> }): void {
  const files = [report.lan.bridgeCapture.file, ...['primary', 'backup', 'shadow', 'log'].map((k) => report.captures[k]!).filter((f) => existsSync(f))];
  expect(files.length).toBeGreaterThanOrEqual(4);
  for (const file of files) {
    const check = checkCaptureWithTshark(file);
    expect({ file, malformed: check.malformed, exitCode: check.exitCode, cutShort: check.cutShort }, check.stderr).toEqual({ file, malformed: 0, exitCode: 0, cutShort: false });
    expect(check.packets, file).toBeGreaterThan(0);
  }
}

interface Resent {
  ref: string;
  client: string;
  seq: number;
  len: number;
  identical: boolean;
  answer: string;
  answerRef: string | null;
  answerAck: number | null;
}

/**
 * The client's kernel's answer to each re-sent segment: named by its frame in bridge.pcap,
 * which tshark confirms is the client's segment with that ACK (and a D-SACK when said so),
 * drawn on the report page at that frame, and printed one line per segment; or, with nothing
 * re-sent, the reason. `stdout`: the human lines, when the run printed them.
 */
function expectAnswersOnTheBridge(report: { resent: Resent[]; reemitted: { segments: number; droppedByClient: number; whyNoDuplicate?: string }; lan: { bridgeCapture: { file: string } }; captures: Record<string, string> }, stdout?: string): void {
  expect(report.resent.length).toBe(Math.min(100, report.reemitted.segments));
  const html = readFileSync(join(dirname(report.captures.primary!), 'report.html'), 'utf8');
  const dropped = report.resent.filter((s) => s.identical && (s.answer === 'd-sack' || s.answer === 'duplicate-ack'));
  expect(report.reemitted.droppedByClient).toBe(dropped.length);
  for (const s of report.resent) expect(html).toMatch(new RegExp(`data-kind="reemitted"[^>]*data-frame="${s.ref.replace('.', '\\.')}"`));
  for (const s of dropped) {
    expect(s.answerRef).toMatch(/^bridge\.pcap#\d+$/);
    const frame = Number(s.answerRef!.split('#')[1]);
    const row = tsharkFields(report.lan.bridgeCapture.file, ['ip.src', 'tcp.srcport', 'tcp.ack_raw', 'tcp.options.sack.dsack'], `frame.number == ${frame}`).rows[0];
    expect(row, s.answerRef!).toBeDefined();
    expect(`${row![0]![0]}:${row![1]![0]}`).toBe(s.client);
    expect(Number(row![2]![0])).toBe(s.answerAck);
    if (s.answer === 'd-sack') expect(row![3]!.length, `${s.answerRef} carries a D-SACK`).toBeGreaterThan(0);
    expect(html).toContain(`data-kind="answer" data-frame="${s.answerRef}"`);
    if (stdout !== undefined) expect(stdout).toContain(`${s.ref} to ${s.client}, seq ${s.seq}`);
  }
  if (dropped.length === 0) expect(typeof report.reemitted.whyNoDuplicate, `a run with no duplicate dropped says why: ${JSON.stringify({ reemitted: report.reemitted, resent: report.resent })}`).toBe('string');
  else if (stdout !== undefined) expect(stdout).toMatch(/what the client's kernel did with each re-sent segment \(from the captures, its answers by frame number in the bridge capture; [1-9]\d* it had and dropped as duplicates\):\n/);
  console.log(`LAN demo: ${report.reemitted.segments} re-sent segment(s), ${dropped.length} dropped by the client's kernel as duplicates${report.reemitted.whyNoDuplicate !== undefined ? ` (${report.reemitted.whyNoDuplicate})` : ''}`);
}

describeNeeding('ftcp demo failover --network lan', missing, () => {
  it('--json: ok, the GARP after the kill in the bridge capture, the service MAC on b`s port, nstat read', async () => {
    const r = await cli(['demo', 'failover', '--network', 'lan', '--seed', '4', '--app', 'counter', '--connections', '3', '--kill-after-ms', '300', '--heartbeat-ms', '25', '--failure-timeout-ms', '300', '--capture-dir', dir, '--json']);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(report.problems, r.stdout + r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    expect(report).toMatchObject({ ok: true, seed: 4, app: 'counter', connections: 3, streams: { intact: 3, broken: 0 }, resets: 0, splitBrain: 0, failover: { killed: 'a', by: 'b', epoch: 2 } });
    expect(report.counter).toMatchObject({ consecutive: true });
    expect(report.lan.garpAfterKill.frame).toBeGreaterThan(0);
    expect(report.lan.serviceMacAt.host).toBe('b');
    expect(report.lan.bridgeCapture.serviceResets).toBe(0);
    expect(Object.keys(report.lan.nstat.delta).sort()).toEqual(['TcpExtDelayedACKLost', 'TcpExtTCPDSACKOldSent']);
    expect(report.captures.client).toBe(report.lan.bridgeCapture.file);
    for (const name of ['client', 'primary', 'backup', 'log']) expect(existsSync(report.captures[name])).toBe(true);
    expect(report.command).toMatch(/^ftcp demo failover --network lan /);
    expect(listNetns().filter((n) => n.startsWith(`${report.lan.prefix}-`))).toEqual([]);
    expectCapturesClean(report);
    // --json keeps stdout for the report (the page's path goes to stderr); the human lines are the next test's.
    expect(r.stderr).toMatch(/^report: .*report\.html$/m);
    expectAnswersOnTheBridge(report);
  }, 180_000);

  it('without --json: one line per re-sent segment with the client kernel\'s answer in the bridge capture, drawn on the report page', async () => {
    const r = await cli(['demo', 'failover', '--network', 'lan', '--seed', '6', '--app', 'counter', '--connections', '3', '--kill-after-ms', '300', '--heartbeat-ms', '25', '--failure-timeout-ms', '300', '--capture-dir', join(dir, 'human')]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'human', 'failover-lan-counter-seed6', 'report.json'), 'utf8'));
    expect(r.stdout).toContain(`report: ${join(dir, 'human', 'failover-lan-counter-seed6', 'report.html')}`);
    expectAnswersOnTheBridge(report, r.stdout);
  }, 180_000);

  it('--link-delay-ms 5: netem where the kernel has it, else the delaying log relay; still ok, no RST, no split brain', async () => {
    const r = await cli(['demo', 'failover', '--network', 'lan', '--link-delay-ms', '5', '--seed', '5', '--app', 'counter', '--connections', '2', '--kill-after-ms', '400',
      '--heartbeat-ms', '25', '--failure-timeout-ms', '300', '--capture-dir', join(dir, 'delay'), '--json']);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(report.problems, r.stdout + r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    expect(report).toMatchObject({ ok: true, streams: { intact: 2, broken: 0 }, resets: 0, splitBrain: 0, failover: { killed: 'a', by: 'b' } });
    expect(report.lan.linkDelay.ms).toBe(5);
    expect(['netem', 'log-relay']).toContain(report.lan.linkDelay.by);
    expect(report.lan.garpAfterKill.frame).toBeGreaterThan(0);
    expect(report.lan.serviceMacAt.host).toBe('b');
    expect(report.lan.bridgeCapture.serviceResets).toBe(0);
    expect(Object.keys(report.lan.nstat.delta).sort()).toEqual(['TcpExtDelayedACKLost', 'TcpExtTCPDSACKOldSent']);
    expect(listNetns().filter((n) => n.startsWith(`${report.lan.prefix}-`))).toEqual([]);
    expectCapturesClean(report);
  }, 180_000);
});

describe('ftcp demo failover --network lan: refused flags', () => {
  it.each([
    [['--sim'], /^error: --network lan runs real processes on a Linux bridge; drop --sim\n$/],
    [['--client', 'ftcp'], /^error: --network lan has the kernel's TCP as the client; drop --client ftcp\n$/],
    [['--unsafe-no-output-rule'], /^error: --unsafe-no-output-rule is for --network loopback/],
  ])('%j', async (extra, message) => {
    const r = await cli(['demo', 'failover', '--network', 'lan', ...extra, '--capture-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('no socat on PATH (the TAP device cannot be made): one line naming it, exit 2, nothing built', () => {
    const bin = join(dir, 'path-without-socat');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['ip', 'tc', 'tcpdump']) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      if (found !== '') symlinkSync(found, join(bin, tool));
    }
    const r = spawnSync(process.execPath, [fileURLToPath(new URL('../../bin/ftcp.js', import.meta.url)), 'demo', 'failover', '--network', 'lan', '--capture-dir', dir], { encoding: 'utf8', env: { ...process.env, PATH: bin }, timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: ftcp demo failover --network lan needs [^\n]*socat[^\n]*\n$/);
  });

  it('--link-delay-ms needs --network lan; --network takes loopback or lan', async () => {
    expect((await cli(['demo', 'failover', '--link-delay-ms', '5', '--capture-dir', dir])).stderr).toBe('error: --link-delay-ms needs --network lan\n');
    expect((await cli(['demo', 'failover', '--network', 'wan', '--capture-dir', dir])).stderr).toBe('error: --network must be loopback or lan, got wan\n');
    expect((await cli(['demo', 'failover', '--arbiter', 'etcd', '--capture-dir', dir])).stderr).toMatch(/^error: --arbiter needs --network lan /);
    expect((await cli(['demo', 'failover', '--network', 'lan', '--arbiter', 'zookeeper', '--capture-dir', dir])).stderr).toBe('error: --arbiter must be embedded or etcd, got zookeeper\n');
  });

});
