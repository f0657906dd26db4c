/**
 * kernel.ratio of `ftcp bench`: the Linux kernel's own TCP as the client of a lone
 * ftcp server through the TUN bridge (src/lab/netns.ts), ÷ the kernel to itself in
 * the same network namespace. Both sides move `bytes` up and `bytes` down at once on one
 * connection with Node `net` (which is the kernel's TCP).
 *
 * As `ftcp demo failover --client kernel` does, the bench makes a namespace and runs itself
 * again inside it (`--netns-inner NAME`): there the switch, the arbiter and the server run on
 * the namespace's own loopback, socat's TUN device carries 192.0.2.0/24 to the switch, and the
 * bench process is the kernel client. The namespace, and every process left in it, is removed
 * by pid at the end.
 */
import { spawn } from 'node:child_process';
import { createServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { STEADY_PAIR, startCluster, stopCluster } from './bench-cluster.js';
import { FTCP_BIN } from './children.js';
import { benchKernelInnerArgv, loopback } from './launch.js';
import { DEFAULT_TUN_MTU, KERNEL_ADDRESS, kernelModeMissing, Netns, NetnsError, TUN_BRIDGE_PORT, TunBridge } from './netns.js';

export interface KernelBenchResult {
  tunMBps: number;
  kernelMBps: number;
  ratio: number;
  bytesEachWay: number;
  tunMtu: number;
}

/** Uploads `bytes` and half-closes on `socket`, reads to its end; MB/s of both directions. */
function bulkOver(socket: Socket, bytes: number, timeoutMs: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x6b);
  const start = performance.now();
  return new Promise((resolve, reject) => {
    let down = 0;
    let sent = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`kernel bulk transfer not done in ${timeoutMs} ms (${sent} up, ${down} down)`));
    }, timeoutMs);
    socket.on('data', (d: Buffer) => (down += d.length));
    socket.on('end', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve((sent + down) / 1e6 / ((performance.now() - start) / 1000));
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void socket.once('drain', pump);
      }
      socket.end();
    };
    pump();
  });
}

function connectTo(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Kernel to kernel on this namespace's loopback: a server that sinks the upload and sends `bytes`. */
async function kernelToKernel(bytes: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x6c);
  const server = createServer((s) => {
    let sent = 0;
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
      }
      s.on('end', () => s.end());
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const socket = await connectTo('127.0.0.1', (server.address() as AddressInfo).port);
    return await bulkOver(socket, bytes, 120_000);
  } finally {
    server.close();
  }
}

/** Inside the namespace: the lone server, the TUN bridge, both transfers. */
export async function kernelInner(bytes: number, say: (s: string) => void): Promise<KernelBenchResult> {
  const kernelMBps = await kernelToKernel(bytes);
  say(`    kernel -> kernel in the namespace: ${kernelMBps.toFixed(1)} MB/s`);
  // The switch sends what is for the kernel's address to socat (as `demo failover --client kernel`).
  const r = await startCluster('bulk', bytes, false, STEADY_PAIR, undefined, { static: [{ address: KERNEL_ADDRESS, host: loopback(TUN_BRIDGE_PORT) }] });
  let bridge: TunBridge | undefined;
  try {
    bridge = await TunBridge.start({ switchPort: r.cluster.switchPort, mtu: DEFAULT_TUN_MTU });
    const socket = await connectTo('192.0.2.10', 7070);
    const tunMBps = await bulkOver(socket, bytes, 120_000);
    say(`    kernel -> TUN -> ftcp (lone server): ${tunMBps.toFixed(1)} MB/s`);
    return { tunMBps, kernelMBps, ratio: tunMBps / kernelMBps, bytesEachWay: bytes, tunMtu: DEFAULT_TUN_MTU };
  } finally {
    await bridge?.stop();
    await stopCluster(r.cluster);
  }
}

/**
 * From outside: makes the namespace, runs `ftcp bench --only kernel --netns-inner NAME --json`
 * in it, and returns its figures; or the reason it cannot (what the machine lacks).
 */
export async function kernelOuter(quick: boolean, say: (s: string) => void): Promise<KernelBenchResult | { skipped: string }> {
  const missing = kernelModeMissing();
  if (missing.length > 0) return { skipped: `needs ${missing.join('; ')}` };
  let ns: Netns;
  try {
    ns = Netns.create('ftcp-bench');
  } catch (error) {
    return { skipped: error instanceof NetnsError ? error.message : String(error) };
  }
  try {
    const [cmd, args] = ns.wrap(process.execPath, [FTCP_BIN, ...benchKernelInnerArgv({ netnsInner: ns.name, quick })]);
    const inner = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    inner.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    inner.stderr!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.startsWith('    ') || line.startsWith('error')) say(line);
    });
    await new Promise<void>((resolve) => inner.on('exit', () => resolve()));
    const last = stdout.trimEnd().split('\n').pop() ?? '';
    const out = JSON.parse(last) as Record<string, unknown>;
    const k = (out['details'] as Record<string, unknown> | undefined)?.['kernel'] as KernelBenchResult | undefined;
    if (k === undefined) return { skipped: `the run inside the namespace measured nothing: ${JSON.stringify(out['errors'] ?? {})}` };
    return k;
  } finally {
    const { removed } = ns.destroy();
    if (!removed) say(`    warning: network namespace ${ns.name} was not removed`);
  }
}
