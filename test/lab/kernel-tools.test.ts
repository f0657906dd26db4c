// curl and nc as kernel clients, src/lab/kernel-tools.ts:
// - against servers on the host's loopback (no root needed): the checks catch what they
//   are there for: a wrong body, a connection that was not kept alive, an echoed byte that
//   differs, an echo cut short;
// - `ftcp demo failover --client kernel --app http` (curl) and `--app echo --kernel-tool nc`
//   across a kill -9 of the primary: streams intact, no reset (the load's and the kernel's
//   RST segments tcpdump saw on the TUN device), curl's requests all on one keep-alive connection each, the
//   duplicates the kernel dropped under `kernel`, the namespace removed;
// - usage: a tool that does not speak the app, --kernel-tool without --client kernel.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CurlLoad, NcLoad } from '../../src/lab/kernel-tools.js';
import { destroyNetns, listNetns } from '../../src/lab/netns.js';
import { cli } from '../cli/cli-helpers.js';
import { describeKernel, describeNeeding, toolsMissing } from '../helpers/kernel.js';
import { describeWithDist, killAll, startCli, type Proc } from '../helpers/process.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-kernel-tools-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const servers: Array<Server | HttpServer> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    if ('closeAllConnections' in s) s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** An HTTP server like the http app's upstream (`GET /p` -> `/p\n`), with a fault. */
async function httpServer(fault: 'none' | 'wrong-body' | 'close'): Promise<number> {
  let n = 0;
  const server = createHttpServer({ keepAlive: true }, (req, res) => {
    n++;
    const body = fault === 'wrong-body' && n === 3 ? `${req.url ?? '/'}X\n` : `${req.url ?? '/'}\n`;
    res.writeHead(200, { 'Content-Length': Buffer.byteLength(body), ...(fault === 'close' ? { Connection: 'close' } : {}) });
    res.end(body);
  });
  server.keepAliveTimeout = 0;
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** An echo server, with a fault: one byte flipped at offset 1000, or the connection closed after 500 bytes. */
async function echoServer(fault: 'none' | 'flip' | 'short'): Promise<number> {
  const server = createServer((socket) => {
    let seen = 0;
    socket.on('error', () => socket.destroy());
    socket.on('data', (d: Buffer) => {
      const out = Buffer.from(d);
      if (fault === 'flip' && seen <= 1000 && seen + d.length > 1000) out[1000 - seen]! ^= 0x01;
      seen += d.length;
      if (fault === 'short' && seen > 500) {
        socket.end(out.subarray(0, Math.max(0, out.length - (seen - 500))));
        return;
      }
      socket.write(out);
    });
    socket.on('end', () => socket.end());
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

const opts = (port: number) => ({ host: '127.0.0.1', port, connections: 2, seed: 7, requests: [20, 30] as [number, number], thinkMs: [0, 2] as [number, number] });

describeNeeding('curl and nc loads check every byte (host loopback)', toolsMissing(['curl', 'nc']).join('; '), () => {
  it('curl: every body right, one keep-alive connection per curl', async () => {
    const load = new CurlLoad(opts(await httpServer('none')));
    await load.run();
    const r = load.result();
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.streams).toEqual({ intact: 2, broken: 0 });
    expect(r.connectionsOpened).toBe(2);
    for (const c of r.conns) expect(c.requests).toBeGreaterThanOrEqual(20);
  }, 30_000);

  it('curl: a wrong body breaks the stream, naming the request', async () => {
    const load = new CurlLoad({ ...opts(await httpServer('wrong-body')), connections: 1 });
    await load.run();
    const r = load.result();
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatch(/request 3: body "\/kernel-curl\/c0\/r3X", want "\/kernel-curl\/c0\/r3"/);
  }, 30_000);

  it('curl: a server that closes after each answer is caught (keep-alive did not hold)', async () => {
    const load = new CurlLoad({ ...opts(await httpServer('close')), connections: 1 });
    await load.run();
    const r = load.result();
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatch(/request 2 opened 1 connection\(s\): the keep-alive connection did not carry it/);
  }, 30_000);

  it('nc: the byte pattern comes back exact', async () => {
    const load = new NcLoad(opts(await echoServer('none')));
    await load.run();
    const r = load.result();
    expect(r.problems).toEqual([]);
    expect(r.streams).toEqual({ intact: 2, broken: 0 });
    expect(r.bytesReceived).toBeGreaterThan(20 * 2);
  }, 30_000);

  it('nc: one flipped byte, and an echo cut short, are caught', async () => {
    const flip = new NcLoad({ ...opts(await echoServer('flip')), connections: 1 });
    await flip.run();
    expect(flip.result().problems[0]).toMatch(/byte 1000 came back different/);
    const short = new NcLoad({ ...opts(await echoServer('short')), connections: 1 });
    await short.run();
    expect(short.result().problems[0]).toMatch(/500 of \d+ bytes came back/);
  }, 30_000);
});

describe('--kernel-tool usage', () => {
  it.each([
    [['--client', 'kernel', '--app', 'counter', '--kernel-tool', 'nc'], /--kernel-tool nc speaks the echo app only, not counter/],
    [['--client', 'kernel', '--app', 'echo', '--kernel-tool', 'curl'], /--kernel-tool curl speaks the http app only, not echo/],
    [['--client', 'kernel', '--app', 'http', '--kernel-tool', 'node'], /--kernel-tool node does not speak http; use --kernel-tool curl/],
    [['--client', 'kernel', '--kernel-tool', 'wget'], /--kernel-tool must be one of node, curl, nc, got wget/],
    [['--kernel-tool', 'nc', '--app', 'echo'], /--kernel-tool needs --client kernel/],
  ])('demo failover %j', async (args, message) => {
    const r = await cli(['demo', 'failover', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

const SOURCES = [...LIVE_SOURCES, 'cli/demo', 'lab/demo/live', 'lab/demo/kernel', 'lab/netns-run', 'cli/kernel-client', 'lab/kernel-client', 'lab/kernel-tools', 'lab/netns', 'net/switch', 'cli/switch', 'lab/upstream-servers'];
const outers: Proc[] = [];
afterEach(async () => {
  await killAll();
  for (const p of outers.splice(0)) for (const name of listNetns().filter((n) => n.startsWith(`ftcp-${p.pid}-`))) destroyNetns(name);
});

interface Report {
  ok: boolean;
  streams: { intact: number; broken: number };
  resets: number;
  failover: { by: string | null };
  client: { tool: string; requests: number | null; connectionsOpened: number | null };
  kernel: { nstat: { delta: { TcpExtTCPDSACKOldSent: number } }; resets: { fromKernel: number; toKernel: number } };
  netns: { name: string; removed: boolean };
  reemitted: { sentByPrimary: number };
  problems: string[];
}

async function demo(args: string[]): Promise<{ code: number | null; report: Report }> {
  const p = startCli(['demo', 'failover', '--client', 'kernel', '--json', '--capture-dir', dir, '--heartbeat-ms', String(TEST_TIMING.heartbeatMs), '--failure-timeout-ms', String(TEST_TIMING.failureTimeoutMs), ...args]);
  outers.push(p);
  const exit = await p.exited;
  const last = p.stdout().trim().split('\n').pop() ?? '';
  try {
    return { code: exit.code, report: JSON.parse(last) as Report };
  } catch {
    throw new Error(`no report (exit ${exit.code ?? exit.signal}); stdout: ${p.stdout().slice(-2000)} stderr: ${p.stderr().slice(-2000)}`);
  }
}

function expectCleanFailover(code: number | null, r: Report, connections: number): void {
  expect(r.problems).toEqual([]);
  expect(code, JSON.stringify(r).slice(0, 2000)).toBe(0);
  expect(r.ok).toBe(true);
  expect(r.streams).toEqual({ intact: connections, broken: 0 });
  expect(r.resets).toBe(0);
  expect(r.kernel.resets).toEqual({ fromKernel: 0, toKernel: 0 });
  expect(r.failover.by).toBe('b');
  expect(r.netns.removed).toBe(true);
  expect(listNetns()).not.toContain(r.netns.name);
  if (r.reemitted.sentByPrimary > 0) expect(r.kernel.nstat.delta.TcpExtTCPDSACKOldSent).toBeGreaterThanOrEqual(1);
}

describeKernel(
  'curl and nc in the namespace, across a kill -9 of the primary',
  () => {
    describeWithDist('ftcp demo failover --client kernel --kernel-tool curl|nc', SOURCES, () => {
      it('--app http: curl fetches every URL on one keep-alive connection, every body checked', async () => {
        const { code, report: r } = await demo(['--app', 'http', '--connections', '2', '--seed', '11']);
        expectCleanFailover(code, r, 2);
        expect(r.client.tool).toBe('curl');
        expect(r.client.connectionsOpened).toBe(2);
        expect(r.client.requests).toBeGreaterThanOrEqual(200);
      }, 180_000);

      it('--app echo --kernel-tool nc: the byte pattern comes back exact', async () => {
        const { code, report: r } = await demo(['--app', 'echo', '--kernel-tool', 'nc', '--connections', '2', '--seed', '12']);
        expectCleanFailover(code, r, 2);
        expect(r.client.tool).toBe('nc');
        expect(r.client.requests).toBeGreaterThan(0);
      }, 180_000);
    });
  },
  ['curl', 'nc'],
);
