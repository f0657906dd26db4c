// Scenario files with the Linux kernel as the client: `ftcp scenario run FILE
// --client kernel`, or `client: kernel` in the file, runs the scenario inside a network
// namespace made for it, the load on kernel sockets through socat's TUN device. Checked:
// every expectation holds (with the on-the-wire `resets: 0` added from tcpdump's capture),
// the kernel's report is in the result, the namespace is gone afterwards, also after SIGINT;
// kernelTool nc from the file; without root or socat the command says what is missing and
// exits 2; bad kernel settings are refused before anything starts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { destroyNetns, listNetns } from '../../src/lab/netns.js';
import { cli } from '../cli/cli-helpers.js';
import { describeKernel } from '../helpers/kernel.js';
import { bin, describeWithDist, killAll, root, startCli, stillRunning, type Proc } from '../helpers/process.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-kernel-scenario-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const outers: Proc[] = [];
afterEach(async () => {
  await killAll();
  for (const p of outers.splice(0)) for (const name of listNetns().filter((n) => n.startsWith(`ftcp-${p.pid}-`))) destroyNetns(name);
});

const timing = ['--heartbeat-ms', String(TEST_TIMING.heartbeatMs), '--failure-timeout-ms', String(TEST_TIMING.failureTimeoutMs)];
const SOURCES = [...LIVE_SOURCES, 'cli/scenario', 'lab/scenario', 'lab/demo/kernel', 'lab/netns-run', 'cli/kernel-client', 'lab/kernel-client', 'lab/kernel-tools', 'lab/netns', 'net/switch', 'cli/switch'];

const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

interface Result {
  ok: boolean;
  error?: string;
  client: string;
  checks: Array<{ check: string; ok: boolean; detail: string }>;
  kernel: { netns: string; mtu: number; nstat: { delta: { TcpExtTCPDSACKOldSent: number } }; resets: { fromKernel: number; toKernel: number }; tcpdump: { captured: number } };
  netns: { name: string; removed: boolean };
  timeline: Array<{ text: string }>;
}

async function scenario(args: string[]): Promise<{ code: number | null; result: Result }> {
  const p = startCli(['scenario', 'run', ...args, '--capture-dir', dir, '--json', ...timing]);
  outers.push(p);
  const exit = await p.exited;
  const last = p.stdout().trim().split('\n').pop() ?? '';
  try {
    return { code: exit.code, result: JSON.parse(last) as Result };
  } catch {
    throw new Error(`no result (exit ${exit.code ?? exit.signal}); stdout: ${p.stdout().slice(-2000)} stderr: ${p.stderr().slice(-2000)}`);
  }
}

function expectAllHeld(code: number | null, r: Result): void {
  expect(r.error, JSON.stringify(r.timeline.slice(-5))).toBeUndefined();
  expect(r.checks.filter((c) => !c.ok)).toEqual([]);
  expect(code).toBe(0);
  expect(r.ok).toBe(true);
  expect(r.client).toBe('kernel');
  expect(r.checks).toContainEqual(expect.objectContaining({ check: 'resets: 0 (on the wire)', ok: true }));
  expect(r.kernel.resets).toEqual({ fromKernel: 0, toKernel: 0 });
  expect(r.kernel.tcpdump.captured).toBeGreaterThan(0);
  expect(r.netns.removed).toBe(true);
  expect(r.netns.name).toBe(r.kernel.netns);
  expect(listNetns()).not.toContain(r.netns.name);
}

describeKernel('scenario files with the kernel as the client', () => {
  describeWithDist('ftcp scenario run --client kernel', SOURCES, () => {
    it('scenarios/failover.yaml --client kernel: every expectation holds on kernel sockets', async () => {
      const { code, result: r } = await scenario([join(root, 'scenarios', 'failover.yaml'), '--client', 'kernel']);
      expectAllHeld(code, r);
      expect(r.checks.map((c) => c.check)).toEqual(expect.arrayContaining(['streams: intact', 'counter: consecutive', 'live: b']));
      expect(r.timeline.some((l) => l.text.includes("on the kernel's TCP (node)"))).toBe(true);
    }, 240_000);

    it('client: kernel and kernelTool: nc in the file: echo through nc across a kill -9', async () => {
      const file = write(
        'nc.yaml',
        [
          'name: nc failover',
          'app: echo',
          'seed: 5',
          'client: kernel',
          'kernelTool: nc',
          'tunMtu: 4000',
          'steps:',
          '  - start: network',
          '  - start: { replica: a, role: primary, peer: b }',
          '  - start: { replica: b, role: backup, peer: a, logPeer: a }',
          '  - load: { connections: 2, requests: 150-200, thinkMs: 2-6 }',
          '  - wait: mid-stream',
          '  - kill: a',
          '  - wait: { event: live, replica: b }',
          '  - wait: load-done',
          '  - expect: { streams: intact, resets: 0, splitBrain: 0, live: b }',
          '',
        ].join('\n'),
      );
      const { code, result: r } = await scenario([file]);
      expectAllHeld(code, r);
      expect(r.timeline.some((l) => l.text.includes("on the kernel's TCP (nc)"))).toBe(true);
      expect(r.kernel.mtu).toBe(4000); // tunMtu from the file
    }, 240_000);

    it('SIGINT in the middle: exit 130, every process stopped, the namespace removed', async () => {
      const file = write('long.yaml', ['app: echo', 'steps:', '  - start: network', '  - start: { replica: a, role: primary, peer: b }', '  - start: { replica: b, role: backup, peer: a, logPeer: a }', '  - load: { connections: 1, requests: 100000, thinkMs: 5 }', '  - wait: load-done', ''].join('\n'));
      const p = startCli(['scenario', 'run', file, '--client', 'kernel', '--capture-dir', dir, ...timing]);
      outers.push(p);
      const ns = (await p.waitFor(/in network namespace (ftcp-\d+-\d+)/, 60_000))[1]!;
      await p.waitFor(/client started/, 60_000);
      expect(listNetns()).toContain(ns);
      process.kill(p.pid, 'SIGINT');
      const exit = await p.exited;
      expect(exit.code).toBe(130);
      expect(p.stdout()).toContain(`network namespace ${ns}: removed`);
      expect(listNetns()).not.toContain(ns);
      // The inner run was told (SIGTERM), stopped its children and still reported the kernel side.
      expect(p.stdout()).toContain('interrupted by SIGTERM');
      expect(p.stdout()).toMatch(/tcpdump on ftcp0 .*RST segments: 0 from the kernel, 0 to it/);
    }, 120_000);
  });
});

describeWithDist('ftcp scenario run: SIGINT', [...LIVE_SOURCES, 'cli/scenario', 'lab/scenario'], () => {
  it('stops every child, prints the result and exits 130', async () => {
    const file = write('long-ftcp.yaml', ['app: echo', 'steps:', '  - start: network', '  - start: { replica: a, role: primary, peer: b }', '  - start: { replica: b, role: backup, peer: a, logPeer: a }', '  - load: { connections: 1, requests: 100000, thinkMs: 5 }', '  - wait: load-done', ''].join('\n'));
    const p = startCli(['scenario', 'run', file, '--capture-dir', dir, ...timing]);
    await p.waitFor(/client started/, 60_000);
    const pids = [...p.stdout().matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    expect(pids.length).toBeGreaterThanOrEqual(2);
    process.kill(p.pid, 'SIGINT');
    const exit = await p.exited;
    expect(exit.code).toBe(130);
    expect(p.stdout()).toContain('interrupted by SIGINT');
    expect(p.stdout()).toMatch(/result: FAILED/);
    expect(stillRunning(pids)).toEqual([]);
  }, 120_000);
});

describeWithDist('ftcp scenario run --client kernel: what it needs, and bad settings', ['cli/main'], () => {
  it('without socat and ip on PATH: names what is missing and exits 2', () => {
    const empty = mkdtempSync(join(dir, 'path-'));
    const r = spawnSync(process.execPath, [bin, 'scenario', 'run', join(root, 'scenarios', 'failover.yaml'), '--client', 'kernel', '--capture-dir', dir], { encoding: 'utf8', env: { ...process.env, PATH: empty }, timeout: 60_000 });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/ftcp scenario run --client kernel needs .*socat \(apt-get install -y socat\)/);
  }, 60_000);

  it.each([
    ['client.yaml', 'client: tun\nsteps: [ { start: network } ]\n', [], /client must be ftcp or kernel, got "tun"/],
    ['tool.yaml', 'client: kernel\napp: counter\nkernelTool: nc\nsteps: [ { start: network } ]\n', [], /kernelTool nc speaks the echo app only, not counter/],
    ['curl.yaml', 'client: kernel\nkernelTool: curl\nsteps: [ { start: network } ]\n', [], /kernelTool must be node or nc, got "curl"/],
    ['mtu.yaml', 'client: kernel\ntunMtu: 100\nsteps: [ { start: network } ]\n', [], /tunMtu must be a number >= 576/],
    ['flag.yaml', 'steps: [ { start: network } ]\n', ['--client', 'bogus'], /--client must be ftcp or kernel, got bogus/],
    ['ftcp.yaml', 'steps: [ { start: network } ]\n', ['--tun-mtu', '9000'], /--kernel-tool and --tun-mtu need the kernel as the client/],
  ])('%s', async (name, text, flags, message) => {
    const r = await cli(['scenario', 'run', write(name, text), '--capture-dir', dir, ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
