/**
 * The Redis load with `redis-cli` as the client (`ftcp kernel-client --app
 * redis`, `ftcp demo failover --app redis --client kernel`): one redis-cli process per
 * connection, inside the network namespace, on the kernel's TCP; one long connection each,
 * fed one command per line through its stdin, one reply per line on its stdout (redis-cli's
 * raw output when stdout is not a terminal: `42`, `OK`, the value, an empty line for nil).
 *
 * The requests and checks are the ftcp client's (RedisChecks in redis-load.ts): the same
 * seeds give the same commands. One command at a time, a seeded think time between requests.
 * redis-cli reports a lost connection on stderr ("Error: Connection reset by peer", "Server
 * closed the connection") and then carries on with a new one: any stderr line breaks the
 * connection's check, and a reset counts as a reset.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { deriveSeed } from '../tcp/seed.js';
import { Prng } from '../tcp/prng.js';
import type { KernelConnResult } from './kernel-client.js';
import { RedisChecks, type RedisConnState } from './redis-load.js';
import type { ToolLoadOptions } from './kernel-tools.js';

export const REDIS_CLI_INSTALL_HINT = 'redis-cli not installed: apt-get install -y redis-tools (redis-server brings it)';

/** As the other kernel tools' (curl, nc), plus the binary. */
export interface RedisCliLoadOptions extends ToolLoadOptions {
  /** The redis-cli binary (default $REDIS_CLI or `redis-cli`). */
  redisCli?: string;
}

class CliConn {
  readonly proc: ChildProcess;
  private lines: string[] = [];
  private partial = '';
  private waiter: (() => void) | undefined;
  stderr = '';
  exited = false;
  bytesReceived = 0;

  constructor(cmd: string, o: RedisCliLoadOptions, onBytes: (n: number) => void) {
    this.proc = spawn(cmd, ['-h', o.host, '-p', String(o.port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => {
      this.bytesReceived += d.length;
      onBytes(d.length);
      this.partial += d.toString('latin1');
      let nl: number;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        this.lines.push(this.partial.slice(0, nl));
        this.partial = this.partial.slice(nl + 1);
      }
      this.wake();
    });
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      this.wake();
    });
    this.proc.stdin!.on('error', () => undefined); // a dead redis-cli: reported by its exit
    this.proc.on('error', (e) => {
      this.stderr += `${e.message}\n`;
      this.exited = true;
      this.wake();
    });
    this.proc.on('exit', () => {
      this.exited = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The next reply line; rejects when redis-cli complains or exits first. */
  async line(): Promise<string> {
    for (;;) {
      if (this.stderr !== '') throw new Error(`redis-cli: ${this.stderr.trim().split('\n')[0]}`);
      const l = this.lines.shift();
      if (l !== undefined) return l;
      if (this.exited) throw new Error('redis-cli exited before the reply');
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  send(words: string[]): void {
    this.proc.stdin!.write(`${words.join(' ')}\n`);
  }

  async finish(): Promise<void> {
    this.proc.stdin!.end();
    if (!this.exited) await new Promise<void>((r) => this.proc.once('exit', () => r()));
  }

  kill(): void {
    if (!this.exited && this.proc.pid !== undefined) {
      try {
        process.kill(this.proc.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

export class RedisCliLoad {
  readonly counterAnswers: number[] = [];
  private readonly conns: CliConn[] = [];
  private readonly results: KernelConnResult[] = [];
  private readonly states: RedisConnState[] = [];
  private resumed: (() => void) | undefined;
  bytesReceived = 0;
  settled = 0;

  constructor(readonly o: RedisCliLoadOptions) {}

  /** Calls `fn` once, at the next reply byte read on any connection. */
  watchReads(fn: () => void): void {
    this.resumed = fn;
  }

  async run(): Promise<void> {
    const starts = new Prng(deriveSeed(this.o.seed, 'client-starts'));
    await Promise.all(
      Array.from({ length: this.o.connections }, async (_, i) => {
        await sleep(starts.below(51));
        await this.runConn(i);
      }),
    );
  }

  private async runConn(index: number): Promise<void> {
    // The ftcp client's seeds (ClientLoad, RequestConn): the same commands for the same run seed.
    const rng = new Prng(deriveSeed(this.o.seed, 'client-conn', index));
    const [lo, hi] = this.o.requests;
    const total = lo + rng.below(hi - lo + 1);
    const checks = new RedisChecks(index, rng, this.counterAnswers);
    this.states.push(checks.state);
    const conn = new CliConn(this.o.redisCli ?? (process.env['REDIS_CLI'] || 'redis-cli'), this.o, (n) => {
      this.bytesReceived += n;
      const f = this.resumed;
      this.resumed = undefined;
      f?.();
    });
    this.conns.push(conn);
    const r: KernelConnResult = { index, localPort: null, intact: false, reset: false, bytesReceived: 0, requests: 0 };
    try {
      for (let n = 1; n <= total; n++) {
        r.requests = n;
        for (const command of checks.next(n)) {
          conn.send(command);
          const line = await conn.line();
          const why = checks.reply({ int: /^-?\d+$/.test(line) ? Number(line) : undefined, text: line === '' ? null : line, shown: JSON.stringify(line) });
          if (why !== undefined) throw new Error(`redis: request ${n}: ${why}`);
        }
        const [tlo, thi] = this.o.thinkMs;
        await sleep(tlo + rng.below(thi - tlo + 1));
      }
      await conn.finish();
      if (conn.stderr !== '') throw new Error(`redis-cli: ${conn.stderr.trim().split('\n')[0]}`);
      r.intact = true;
    } catch (error) {
      r.error = error instanceof Error ? error.message : String(error);
      r.reset = /reset/i.test(r.error);
      conn.kill();
    } finally {
      r.bytesReceived = conn.bytesReceived;
      this.results.push(r);
      this.settled++;
    }
  }

  /** Kills the redis-cli processes still running (a timeout), by pid. */
  destroyAll(): void {
    for (const c of this.conns) c.kill();
  }

  /** The result line's fields, as the ftcp client's (counter, redis) so the demo checks either. */
  result(): { ok: boolean; streams: { intact: number; broken: number }; resets: number; counter: { count: number; consecutive: boolean }; redis: { conns: RedisConnState[] }; problems: string[]; bytesReceived: number; conns: KernelConnResult[] } {
    const conns = [...this.results].sort((a, b) => a.index - b.index);
    for (let i = 0; i < this.o.connections; i++) if (!conns.some((c) => c.index === i)) conns.push({ index: i, localPort: null, intact: false, reset: false, bytesReceived: 0, requests: 0, error: 'stalled: not finished' });
    const problems = conns.filter((c) => !c.intact).map((c) => `connection ${c.index} (redis-cli): ${c.error ?? 'not intact'}`);
    const sorted = [...this.counterAnswers].sort((x, y) => x - y);
    const consecutive = sorted.every((v, i) => v === i + 1);
    if (!consecutive) problems.push(`counter: the answers are not exactly 1..${sorted.length}`);
    const intact = conns.filter((c) => c.intact).length;
    return {
      ok: problems.length === 0,
      streams: { intact, broken: conns.length - intact },
      resets: conns.filter((c) => c.reset).length,
      counter: { count: sorted.length, consecutive },
      redis: { conns: [...this.states].sort((a, b) => a.index - b.index) },
      problems,
      bytesReceived: this.bytesReceived,
      conns,
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
