// Child processes of the built CLI (node bin/ftcp.js ...) for process-level tests: start,
// wait for a line, stop by pid (SIGTERM or SIGKILL), and always kill what is left in teardown.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const bin = join(root, 'bin', 'ftcp.js');

function inCi(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * Why dist/ cannot be used for these sources (missing, or older than one of them), or
 * undefined when it is fresh. `sources` are paths under src/ without the extension.
 */
export function distProblem(sources: readonly string[]): string | undefined {
  for (const s of sources) {
    const built = join(root, 'dist', `${s}.js`);
    const src = join(root, 'src', `${s}.ts`);
    if (!existsSync(built)) return `dist/${s}.js is missing; run \`npm run build\` first`;
    if (statSync(built).mtimeMs < statSync(src).mtimeMs) return `dist/${s}.js is older than src/${s}.ts; run \`npm run build\` first`;
  }
  return undefined;
}

/**
 * describe() for tests that run the built CLI: when dist/ is missing or stale it skips
 * with a printed reason, and under CI (where `npm ci` builds it) fails instead.
 */
export function describeWithDist(name: string, sources: readonly string[], body: () => void): void {
  const problem = distProblem(sources);
  if (problem === undefined) {
    describe(name, body);
    return;
  }
  if (inCi()) {
    describe(name, () => {
      it('needs a fresh dist/ (npm ci builds it)', () => {
        throw new Error(`${problem}; under CI this is a failure, not a skip`);
      });
    });
    return;
  }
  console.warn(`[skip] ${name}: ${problem}`);
  describe.skip(name, body);
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first match of `re` in stdout; rejects on exit or after timeoutMs. */
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
}

const started = new Set<Proc>();

/** Starts `node bin/ftcp.js ...args`. */
export function startCli(args: readonly string[], opts: { cwd?: string } = {}): Proc {
  return startProcess(process.execPath, [bin, ...args], opts);
}

/** Starts any command (stdin piped when asked), tracked like startCli's children. */
export function startProcess(cmd: string, args: readonly string[], opts: { cwd?: string; stdin?: 'ignore' | 'pipe' } = {}): Proc {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? root, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const l of [...listeners]) l();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      for (const l of [...listeners]) l();
    }),
  );
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  const proc: Proc = {
    child,
    pid: child.pid,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (re, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(out);
          if (m) {
            done();
            resolve(m);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`process exited (${child.exitCode ?? child.signalCode}) before printing ${re}; stdout: ${out} stderr: ${err}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${re} within ${timeoutMs} ms; stdout: ${out} stderr: ${err}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      }),
  };
  started.add(proc);
  void exited.then(() => started.delete(proc));
  return proc;
}

/** Sends `signal` to the process by pid and waits for it to exit. */
export async function stopProc(p: Proc, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (p.child.exitCode === null && p.child.signalCode === null) process.kill(p.pid, signal);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`pid ${p.pid} did not exit within ${timeoutMs} ms of ${signal}`)), timeoutMs);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Which of `pids` still exist (signal 0). */
export function stillRunning(pids: readonly number[]): number[] {
  return pids.filter(alive);
}

/** Whether a process with this pid exists (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Teardown: SIGKILL, by pid, every process started here that is still running. */
export async function killAll(): Promise<void> {
  const left = [...started];
  for (const p of left) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  await Promise.all(left.map((p) => p.exited));
}
