/**
 * A real `redis-server` (Debian's package) as the upstream app of one replica:
 * started on 127.0.0.1 on a free port with persistence off, no config file and a working
 * directory of its own (removed when it exits), stopped by its pid (SIGTERM, then SIGKILL)
 * by whoever started it, in every exit path. If this process exits without stopping it, an
 * `exit` handler kills it; if this process is killed (kill -9), a watchdog shell around the
 * server kills it when the pipe from this process closes (WATCHDOG), as ftcp's own children
 * stop with their orchestrator (docs/decisions.md).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoint } from '../net/endpoint.js';
import { freePort } from './etcd-cluster.js';
import { RedisConnection } from '../net/redis-connection.js';
import { bulkText, describeValue } from '../net/resp.js';

export const REDIS_INSTALL_HINT = 'redis-server not installed: apt-get install -y redis-server';

/** The redis-server binary: $REDIS_SERVER if set, else `redis-server` on PATH. */
export function redisServerPath(): string {
  return process.env['REDIS_SERVER'] || 'redis-server';
}

/** The redis-cli binary: $REDIS_CLI if set, else `redis-cli` on PATH. */
export function redisCliPath(): string {
  return process.env['REDIS_CLI'] || 'redis-cli';
}

/** The first line of `redis-server --version`, or null when it cannot be run. */
export function redisVersion(): string | null {
  const r = spawnSync(redisServerPath(), ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return r.error || r.status !== 0 ? null : (r.stdout.split('\n')[0] ?? '').trim();
}

const live = new Set<RedisServer>();
let exitHook = false;
function killLeftovers(): void {
  for (const s of live) s.kill();
}

/**
 * The shell around redis-server ($0 is its path): it prints the server's pid on fd 3, and a
 * watchdog reading the shell's stdin kills the server at EOF, which comes when the process
 * that started it ends, however it ends (kill -9 too: the pipe closes). The shell exits when
 * the server does; the watchdog then removes the server's directory. (Background jobs of a
 * script read /dev/null unless told otherwise: hence fd 4.)
 */
const WATCHDOG =
  'exec 4<&0; "$0" "$@" 3>&- 4<&- </dev/null & r=$!; echo "$r" >&3; exec 3>&-; ' +
  '(while read -r _; do :; done; kill "$r" 2>/dev/null; while kill -0 "$r" 2>/dev/null; do sleep 0.1; done; ' +
  'case "$FTCP_REDIS_DIR" in */ftcp-redis-*) rm -rf "$FTCP_REDIS_DIR" ;; esac) <&4 & exec 4<&-; wait "$r"';

/**
 * Commands whose replies differ between two redis-server instances holding the same data,
 * turned off (renamed to nothing: the error reply is the same everywhere). COMMAND's replies
 * list the command table in the order of a dict hashed with a seed each process draws at
 * start, so two instances answer `COMMAND DOCS` (which redis-cli 7 sends first on every
 * connection, for its hints) with the same entries in another order: a divergence on every
 * redis-cli connection, and a garbled reply if a failover fell inside one. redis-cli falls
 * back to its built-in help when COMMAND fails.
 */
export const NONDETERMINISTIC_OFF = ['--rename-command', 'COMMAND', ''] as const;

export class RedisServer {
  private exitedFlag = false;
  readonly exited: Promise<void>;
  private output = '';

  private constructor(
    readonly name: string,
    readonly port: number,
    /** The watchdog shell (WATCHDOG); it exits when the server does. */
    proc: ChildProcess,
    /** redis-server's own pid (what it is stopped by). */
    readonly pid: number,
    /** Its own working directory: a replica's full sync writes an RDB file there, and a server loads one found there at start. */
    readonly dir: string,
    /** The network namespace it runs in (its 127.0.0.1 is that namespace's), or undefined: this one's. */
    readonly netns?: string,
  ) {
    live.add(this);
    this.exited = new Promise((resolve) =>
      proc.once('exit', () => {
        this.exitedFlag = true;
        live.delete(this);
        proc.stdin?.destroy();
        rmSync(dir, { recursive: true, force: true });
        resolve();
      }),
    );
    proc.stdout?.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
  }

  /** SIGKILL by pid, at once (this process is exiting). */
  kill(): void {
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // gone
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  get endpoint(): Endpoint {
    return { host: '127.0.0.1', port: this.port };
  }

  get running(): boolean {
    return !this.exitedFlag;
  }

  /** The last lines redis-server printed (for error messages). */
  get log(): string {
    return this.output;
  }

  /**
   * Starts one server and waits until it answers on its port, as itself (INFO's process_id;
   * when another process got the port first, it tries another port). No RDB, no AOF; diskless full syncs
   * with no delay (a joining replica copies the data at once: redis-adapter.ts). With `netns`
   * it runs in that namespace (`ip netns exec`, which execs: the pids stay ours) on `port`
   * there, and is asked through redis-cli run in the namespace.
   */
  static async start(name: string, opts: { timeoutMs?: number; netns?: string; port?: number } = {}): Promise<RedisServer> {
    const timeoutMs = opts.timeoutMs ?? 20_000;
    let lastError = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = opts.port ?? (await freePort());
      const dir = mkdtempSync(join(tmpdir(), `ftcp-redis-${name}-`));
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'no', '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--loglevel', 'warning', '--dir', dir, ...NONDETERMINISTIC_OFF];
      const shell = ['/bin/sh', '-c', WATCHDOG, redisServerPath(), ...args];
      const [cmd, argv] = opts.netns === undefined ? [shell[0]!, shell.slice(1)] : ['ip', ['netns', 'exec', opts.netns, ...shell]];
      const proc = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: { ...process.env, FTCP_REDIS_DIR: dir } });
      proc.stderr?.on('data', (d: Buffer) => (lastError = d.toString().trim().split('\n').pop() ?? ''));
      const pid = await new Promise<number | undefined>((resolve) => {
        let text = '';
        const fd3 = proc.stdio[3] as NodeJS.ReadableStream | null;
        fd3?.on('data', (d: Buffer) => (text += d.toString()));
        fd3?.on('end', () => resolve(/^\d+/.test(text) ? Number(text.trim()) : undefined));
        proc.once('error', () => resolve(undefined));
      });
      if (pid === undefined) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`could not start redis-server through /bin/sh${lastError !== '' ? ` (${lastError})` : ''}; ${REDIS_INSTALL_HINT}`);
      }
      if (!exitHook) {
        exitHook = true;
        process.once('exit', killLeftovers);
      }
      const server = new RedisServer(name, port, proc, pid, dir, opts.netns);
      const deadline = Date.now() + timeoutMs;
      while (server.running && Date.now() < deadline) {
        // The server on that port must be this one (another may have taken the port first).
        const answered = await server.processId();
        if (answered === String(server.pid)) return server;
        if (answered !== undefined) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      lastError ||= server.log.trim().split('\n').pop() ?? '';
      await server.stop();
      if (opts.port !== undefined) break;
    }
    throw new Error(`redis-server ${name} did not start${lastError !== '' ? `: ${lastError}` : ''}`);
  }

  /** INFO's process_id of whatever answers on the port, or undefined when nothing does. */
  private async processId(): Promise<string | undefined> {
    if (this.netns !== undefined) {
      const r = spawnSync('ip', ['netns', 'exec', this.netns, redisCliPath(), '-p', String(this.port), 'INFO', 'server'], { encoding: 'utf8', timeout: 5000 });
      return /process_id:(\d+)/.exec(r.stdout ?? '')?.[1];
    }
    try {
      const c = await RedisConnection.open(this.endpoint, 1000);
      try {
        return (await c.info('server')).get('process_id');
      } finally {
        c.close();
      }
    } catch {
      return undefined; // not listening yet
    }
  }

  /** GET of each key (null: no such key), on a connection of its own (redis-cli's MGET in its namespace). */
  async mget(keys: readonly string[]): Promise<Array<string | null>> {
    if (keys.length === 0) return [];
    if (this.netns !== undefined) {
      const r = spawnSync('ip', ['netns', 'exec', this.netns, redisCliPath(), '-p', String(this.port), '--json', 'MGET', ...keys], { encoding: 'utf8', timeout: 10_000, maxBuffer: 64 << 20 });
      if (r.status !== 0) throw new Error(`redis-cli MGET in ${this.netns} failed: ${(r.stderr || r.error?.message || '').trim()}`);
      const values = JSON.parse(r.stdout) as unknown;
      if (!Array.isArray(values) || values.length !== keys.length) throw new Error(`redis-cli MGET in ${this.netns}: unexpected answer ${r.stdout.slice(0, 80)}`);
      return values.map((v) => (v === null ? null : String(v)));
    }
    const c = await RedisConnection.open(this.endpoint);
    try {
      const v = await c.ok(['MGET', ...keys]);
      if (v.type !== 'array' || v.value === null) throw new Error(`MGET answered ${describeValue(v)}`);
      return v.value.map((x) => bulkText(x));
    } finally {
      c.close();
    }
  }

  /** SIGTERM by pid, SIGKILL after `graceMs`; resolves once it has exited. Stopping twice is harmless. */
  async stop(graceMs = 2000): Promise<void> {
    if (!this.running) return;
    const signal = (s: NodeJS.Signals) => {
      try {
        process.kill(this.pid, s);
      } catch {
        // gone
      }
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
