/**
 * Child ftcp processes for orchestrators (`ftcp demo failover`, scenarios): start
 * `node bin/ftcp.js ...` with --json, follow its stdout line by line as JSON events, wait
 * for an event, kill it by pid, and stop every child that is left (by pid) on exit, on
 * error and on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { EXIT_WITH_PARENT_ENV } from '../net/signals.js';
import { parseChildEvent, type ChildEvent } from '../net/events.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/ftcp.js, from src/lab (vitest) or dist/lab (the built CLI). */
export const FTCP_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'ftcp.js');

export type { ChildEvent } from '../net/events.js';

/**
 * Extra node options for every child, space-separated, from FTCP_CHILD_NODE_ARGS: for
 * profiling (`--cpu-prof --cpu-prof-dir=DIR`, which NODE_OPTIONS does not allow).
 */
export const CHILD_NODE_ARGS_ENV = 'FTCP_CHILD_NODE_ARGS';

/**
 * How a child is run: `node bin/ftcp.js ...` as given, or wrapped (`ip netns exec NS node ...`,
 * lan.ts's wrap). The wrapper must exec the command, so that the pid is the child's own.
 */
export type Wrap = (cmd: string, args: readonly string[]) => [string, string[]];

export class Child {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly events: ChildEvent[] = [];
  stderr = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly listeners = new Set<() => void>();
  private partial = '';

  constructor(
    readonly label: string,
    readonly args: readonly string[],
    onEvent?: (c: Child, e: ChildEvent) => void,
    env: Record<string, string> = {},
    wrap?: Wrap,
  ) {
    // Children stop by themselves if this process dies without stopping them (kill -9).
    const nodeArgs = (process.env[CHILD_NODE_ARGS_ENV] ?? '').split(' ').filter((a) => a !== '');
    const [command, argv] = (wrap ?? ((c, a) => [c, [...a]]))(process.execPath, [...nodeArgs, FTCP_BIN, ...args]);
    this.child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, [EXIT_WITH_PARENT_ENV]: '1' } });
    if (this.child.pid === undefined) throw new Error(`could not start ${label}`);
    this.pid = this.child.pid;
    this.child.stdout!.on('data', (d: Buffer) => {
      this.partial += d.toString();
      let nl: number;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        const line = this.partial.slice(0, nl);
        this.partial = this.partial.slice(nl + 1);
        // A line that is not an event (not JSON, or not fitting net/events.ts) is kept as text, with why.
        const parsed = parseChildEvent(line);
        const e: ChildEvent = parsed.ok ? parsed.event : parsed.reason === 'not JSON' ? { event: 'text', text: line } : { event: 'text', text: line, reason: parsed.reason };
        this.events.push(e);
        onEvent?.(this, e);
        this.notify();
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    // 'exit' can come before the last lines are read from stdout (a replica's exit line
    // with its statistics): a child counts as exited once both the process has exited and
    // its stdout has closed, or 1 s after the exit if a grandchild holds stdout open.
    this.exited = new Promise((resolve) => {
      let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let outputClosed = false;
      const finish = () => {
        if (status === undefined || this.exit !== undefined) return;
        this.exit = status;
        resolve(status);
        this.notify();
      };
      this.child.stdout!.once('close', () => {
        outputClosed = true;
        finish();
      });
      this.child.on('exit', (code, signal) => {
        status = { code, signal };
        this.reaped = true;
        if (outputClosed) finish();
        else setTimeout(finish, 1000).unref();
      });
    });
  }

  /** The process is gone (its pid may be reused): never signal it again. */
  private reaped = false;

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Resolves with the first event (already seen or to come) that matches; rejects on exit or timeout. */
  waitFor<T extends ChildEvent>(match: (e: ChildEvent) => e is T, timeoutMs: number, what: string): Promise<T>;
  waitFor(match: (e: ChildEvent) => boolean, timeoutMs: number, what: string): Promise<ChildEvent>;
  waitFor(match: (e: ChildEvent) => boolean, timeoutMs: number, what: string): Promise<ChildEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const e = this.events.find(match);
        if (e !== undefined) {
          done();
          resolve(e);
        } else if (this.exit !== undefined) {
          done();
          reject(new Error(`${this.label} exited (${this.exit.code ?? this.exit.signal}) before ${what}${this.stderrLine()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label}: no ${what} within ${timeoutMs} ms${this.stderrLine()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Its first error line, for messages. */
  stderrLine(): string {
    const lines = this.stderr.split('\n').filter((l) => l.trim() !== '');
    const line = lines.find((l) => /^error:|Error\b/.test(l)) ?? lines[0];
    return line === undefined ? '' : `: ${line.trim()}`;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.reaped) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone
    }
  }

  /**
   * What stop() sends first. A replica is stopped with SIGINT, at once: SIGTERM of a primary
   * with a backup is a planned switchover, which a cluster being stopped as a whole must not start.
   */
  stopSignal: NodeJS.Signals = 'SIGTERM';

  /** stopSignal, then SIGKILL if it has not exited after graceMs. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exit !== undefined) return;
    this.signal(this.stopSignal);
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

/** Every child of an orchestrator, stopped together; SIGKILLs what is left if the parent exits. */
export class Children {
  readonly all: Child[] = [];
  private readonly onExit = () => {
    for (const c of this.all) if (c.running) c.signal('SIGKILL');
  };

  /** `env`: added to every child's environment (secrets such as the cluster key go here, never in argv). */
  constructor(
    private readonly onEvent?: (c: Child, e: ChildEvent) => void,
    private readonly env: Record<string, string> = {},
  ) {
    process.on('exit', this.onExit);
  }

  /** `wrap`: run it through a wrapper that execs it (another network namespace). */
  start(label: string, args: readonly string[], wrap?: Wrap): Child {
    const c = new Child(label, args, this.onEvent, this.env, wrap);
    this.all.push(c);
    return c;
  }

  async stopAll(graceMs = 3000): Promise<void> {
    await Promise.all(this.all.map((c) => c.stop(graceMs)));
    process.off('exit', this.onExit);
  }
}

/** Leaves each child's lines in <dir>/<label>.jsonl (stderr in <label>.stderr when any); a label seen again gets -2, -3, ... */
export function saveChildLines(children: readonly Child[], dir: string): void {
  const seen = new Map<string, number>();
  for (const c of children) {
    const n = seen.get(c.label) ?? 0;
    seen.set(c.label, n + 1);
    const base = join(dir, `${c.label.replace(/\s+/g, '-')}${n > 0 ? `-${n + 1}` : ''}`);
    writeFileSync(`${base}.jsonl`, c.events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    if (c.stderr !== '') writeFileSync(`${base}.stderr`, c.stderr);
  }
}
