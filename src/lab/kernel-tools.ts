/**
 * Kernel clients that nobody here wrote: `curl` and `nc` (netcat-openbsd), run in
 * the project's network namespace by `ftcp kernel-client --tool curl|nc`, each checking
 * every byte it gets back, with the same surface as the Node `net` load (kernel-client.ts),
 * so `ftcp kernel-client` prints the same lines whichever tool carries the load.
 *
 * - curl, for the http app (an HTTP server upstream of each replica; it answers
 *   `GET /path` with the body `/path\n`): one curl per connection fetches K URLs
 *   (`/kernel-curl/c<i>/r[1-K]`, curl's URL globbing) paced by `--rate`, and writes after
 *   each body a line `~ftcp <status> <num_connects> <size>`. Checked: every body is its
 *   URL's path, every status 200, and the first transfer opened the only connection
 *   (num_connects 1, then 0): one keep-alive connection carried all K requests.
 * - nc, for the echo app: one `nc -N` per connection, its stdin fed a seeded byte stream
 *   (streamBytes) in requests of 1..2000 bytes with think time between them, then closed
 *   (-N: nc half-closes the connection); what nc prints must be exactly that stream.
 *
 * Neither tool says "reset" reliably in a way the load can read (curl does, as its error
 * 56 with "Connection reset by peer"; nc does not), so the demo also counts the RST
 * segments tcpdump saw on the TUN device (rstOnDevice, netns.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { streamBytes, streamMismatch } from '../proxy/stream.js';
import { deriveSeed } from '../tcp/seed.js';
import { Prng } from '../tcp/prng.js';
import type { KernelConnResult, KernelLoadOptions } from './kernel-client.js';

export const KERNEL_TOOLS = ['node', 'curl', 'nc'] as const;
export type KernelTool = (typeof KERNEL_TOOLS)[number];

/** The app each tool speaks; node speaks every built-in app (kernel-client.ts). */
export const TOOL_APPS: Record<Exclude<KernelTool, 'node'>, string> = { curl: 'http', nc: 'echo' };

/** The load options a kernel tool takes: those of the node client without app and bulk sizes. */
export type ToolLoadOptions = Pick<KernelLoadOptions, 'host' | 'port' | 'connections' | 'seed' | 'requests' | 'thinkMs'>;

export interface ToolLoadResult {
  ok: boolean;
  tool: 'curl' | 'nc';
  streams: { intact: number; broken: number };
  resets: number;
  problems: string[];
  bytesReceived: number;
  conns: KernelConnResult[];
  /** curl: connections opened in all (one per curl when keep-alive held). */
  connectionsOpened?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One tool process per connection: stdout bytes counted, stderr kept, killed by pid when destroyed. */
abstract class ToolLoad {
  bytesReceived = 0;
  settled = 0;
  protected readonly results: KernelConnResult[] = [];
  private readonly running = new Map<number, { child: ChildProcess; r: KernelConnResult }>();
  private watch: (() => void) | undefined;
  abstract readonly tool: 'curl' | 'nc';

  constructor(readonly o: ToolLoadOptions) {}

  watchReads(fn: () => void): void {
    this.watch = fn;
  }

  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.o.connections }, (_, i) => sleep(i * 10).then(() => this.runConn(i))));
  }

  protected range(rng: Prng, [lo, hi]: [number, number]): number {
    return lo + (hi > lo ? rng.nextU32() % (hi - lo + 1) : 0);
  }

  /** Spawns the tool for connection `index`; `onData` sees stdout as it comes; resolves at its exit. */
  protected spawnTool(index: number, cmd: string, args: string[], onData: (d: Buffer) => void): { child: ChildProcess; r: KernelConnResult; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
    const r: KernelConnResult = { index, localPort: null, intact: false, reset: false, bytesReceived: 0, requests: 0 };
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.running.set(index, { child, r });
    let stderr = '';
    child.stdin!.on('error', () => undefined); // a tool that died: its exit says so
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      r.bytesReceived += d.length;
      this.bytesReceived += d.length;
      const w = this.watch;
      this.watch = undefined;
      w?.();
      onData(d);
    });
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
      child.on('error', (e) => resolve({ code: null, signal: null, stderr: `${cmd}: ${e.message}` }));
      child.on('close', (code, signal) => resolve({ code, signal, stderr: stderr.trim() }));
    });
    return { child, r, done };
  }

  protected finish(index: number, r: KernelConnResult): void {
    this.running.delete(index);
    this.results.push(r);
    this.settled++;
  }

  protected abstract runConn(index: number): Promise<void>;

  /** Kills the tools still running, by pid (a timeout). */
  destroyAll(): void {
    for (const { child } of this.running.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  result(): ToolLoadResult {
    const unfinished = [...this.running.values()].map(({ r }) => ({ ...r, error: `stalled: ${this.tool} still running after ${r.bytesReceived} bytes received` }));
    const conns = [...this.results, ...unfinished].sort((a, b) => a.index - b.index);
    for (let i = 0; i < this.o.connections; i++) if (!conns.some((c) => c.index === i)) conns.push({ index: i, localPort: null, intact: false, reset: false, bytesReceived: 0, requests: 0, error: 'stalled: never started' });
    const problems = conns.filter((c) => !c.intact).map((c) => `connection ${c.index} (${this.tool}): ${c.error ?? 'not intact'}`);
    const intact = conns.filter((c) => c.intact).length;
    return { ok: problems.length === 0, tool: this.tool, streams: { intact, broken: conns.length - intact }, resets: conns.filter((c) => c.reset).length, problems, bytesReceived: this.bytesReceived, conns, ...this.extra() };
  }

  protected extra(): Partial<ToolLoadResult> {
    return {};
  }
}

/** The write-out line curl prints after each body (`-w`; it must not start with @). */
const CURL_WRITE_OUT = '~ftcp %{http_code} %{num_connects} %{size_download}\\n';

/** curl: K keep-alive requests per connection against the http app, every body checked. */
export class CurlLoad extends ToolLoad {
  readonly tool = 'curl' as const;
  private connectionsOpened = 0;

  protected async runConn(index: number): Promise<void> {
    const rng = new Prng(deriveSeed(this.o.seed, 'kernel-curl', index));
    const n = this.range(rng, this.o.requests);
    const meanThinkMs = (this.o.thinkMs[0] + this.o.thinkMs[1]) / 2;
    const path = `/kernel-curl/c${index}/r`;
    const args = ['-sS', '--http1.1', '--no-buffer', '-w', CURL_WRITE_OUT, ...(meanThinkMs > 0 ? ['--rate', `${Math.max(1, Math.round(1000 / meanThinkMs))}/s`] : []), `http://${this.o.host}:${this.o.port}${path}[1-${n}]`];
    let out = '';
    const { r, done } = this.spawnTool(index, 'curl', args, (d) => (out += d.toString('latin1')));
    const exit = await done;
    // Every transfer: its body, then the write-out line.
    const re = /^([^\n]*)\n~ftcp (\d+) (\d+) (\d+)\n/;
    let rest = out;
    const bad: string[] = [];
    for (let j = 1; j <= n && bad.length === 0; j++) {
      const m = re.exec(rest);
      if (m === null) {
        bad.push(`response ${j} of ${n} missing or malformed${rest.length > 0 ? `: ${JSON.stringify(rest.slice(0, 80))}` : ''}`);
        break;
      }
      rest = rest.slice(m[0].length);
      const [body, status, connects] = [m[1]!, m[2]!, Number(m[3])];
      this.connectionsOpened += connects;
      if (status !== '200') bad.push(`request ${j}: status ${status}`);
      else if (body !== `${path}${j}`) bad.push(`request ${j}: body ${JSON.stringify(body)}, want ${JSON.stringify(`${path}${j}`)}`);
      else if (connects !== (j === 1 ? 1 : 0)) bad.push(`request ${j} opened ${connects} connection(s): the keep-alive connection did not carry it`);
      else r.requests++;
    }
    if (bad.length === 0 && rest.length > 0) bad.push(`${rest.length} unexpected bytes after the last response`);
    if (exit.code !== 0) bad.unshift(`curl exited ${exit.code ?? exit.signal}${exit.stderr !== '' ? `: ${exit.stderr.split('\n')[0]}` : ''}`);
    r.reset = /reset by peer/i.test(exit.stderr);
    r.intact = bad.length === 0;
    if (!r.intact) r.error = bad[0];
    this.finish(index, r);
  }

  protected override extra(): Partial<ToolLoadResult> {
    return { connectionsOpened: this.connectionsOpened };
  }
}

/** nc: a seeded byte pattern through the echo app, compared byte for byte. */
export class NcLoad extends ToolLoad {
  readonly tool = 'nc' as const;

  protected async runConn(index: number): Promise<void> {
    const rng = new Prng(deriveSeed(this.o.seed, 'kernel-nc', index));
    const seed = deriveSeed(this.o.seed, 'kernel-nc-stream', index);
    const sizes = Array.from({ length: this.range(rng, this.o.requests) }, () => this.range(rng, [1, 2000]));
    const total = sizes.reduce((a, b) => a + b, 0);
    let received = 0;
    let mismatch: string | undefined;
    const { child, r, done } = this.spawnTool(index, 'nc', ['-N', this.o.host, String(this.o.port)], (d) => {
      if (mismatch === undefined) {
        const at = streamMismatch(seed, received, d);
        if (at >= 0) mismatch = `byte ${received + at} came back different`;
        else if (received + d.length > total) mismatch = `${received + d.length - total} bytes more than the ${total} sent`;
      }
      received += d.length;
    });
    let exited = false;
    void done.then(() => (exited = true));
    let offset = 0;
    for (const size of sizes) {
      if (exited) break;
      child.stdin!.write(Buffer.from(streamBytes(seed, offset, size)));
      offset += size;
      r.requests++;
      await sleep(this.range(rng, this.o.thinkMs));
    }
    child.stdin!.end();
    const exit = await done;
    const bad: string[] = [];
    if (mismatch !== undefined) bad.push(mismatch);
    if (exit.code !== 0) bad.push(`nc exited ${exit.code ?? exit.signal}${exit.stderr !== '' ? `: ${exit.stderr.split('\n')[0]}` : ''}`);
    if (received !== total) bad.push(`${received} of ${total} bytes came back`);
    r.reset = /reset by peer/i.test(exit.stderr);
    r.intact = bad.length === 0;
    if (!r.intact) r.error = bad.join('; ');
    this.finish(index, r);
  }
}
