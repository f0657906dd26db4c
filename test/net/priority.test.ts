// Scheduling priority of the cluster processes: every thread set (Linux keeps nice per
// thread), a refusal is one line and no failure, and --nice on the command line.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyNice, raiseOwnPriority, type PriorityOs } from '../../src/net/priority.js';
import { until } from '../helpers/net.js';
import { bin, describeWithDist, root } from '../helpers/process.js';

function fakeOs(threads: number[], refuse: (tid: number) => boolean): PriorityOs & { calls: [number, number][] } {
  const calls: [number, number][] = [];
  return {
    calls,
    threads: () => threads,
    set: (tid, nice) => {
      calls.push([tid, nice]);
      if (refuse(tid)) throw new Error(`EACCES for ${tid}`);
    },
    get: () => 0,
  };
}

/** The nice value of every thread of `pid` (field 19 of /proc/<pid>/task/<tid>/stat). */
function threadNices(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
}

describe('applyNice', () => {
  it('sets the calling thread, then every other thread of the process', () => {
    const os = fakeOs([process.pid, 101, 102], () => false);
    expect(applyNice(-7, os)).toEqual({ nice: -7, set: 3, failed: 0 });
    expect(os.calls).toEqual([[0, -7], [101, -7], [102, -7]]);
  });

  it('refused for the main thread: one line, the other threads untried, no throw', () => {
    const os = fakeOs([process.pid, 101], (tid) => tid === 0);
    const lines: string[] = [];
    const r = raiseOwnPriority('replica a', -10, (l) => void lines.push(l), os);
    expect(r).toMatchObject({ set: 0, failed: 1, error: 'EACCES for 0' });
    expect(os.calls).toEqual([[0, -10]]);
    expect(lines).toEqual(['replica a: could not raise the scheduling priority to nice -10 (EACCES for 0); running at nice 0, so CPU-bound neighbours can delay its heartbeats\n']);
  });

  it('a thread that ended meanwhile is counted, and is no refusal', () => {
    const os = fakeOs([101, 102], (tid) => tid === 101);
    const lines: string[] = [];
    expect(raiseOwnPriority('arbiter', -10, (l) => void lines.push(l), os)).toMatchObject({ set: 2, failed: 1 });
    expect(lines).toEqual([]);
  });

  it('really sets every thread of a process (lowering the priority needs no privilege)', () => {
    const code = `import { applyNice } from ${JSON.stringify(join(root, 'dist/net/priority.js'))}; const r = applyNice(7); const tasks = (await import('node:fs')).readdirSync('/proc/self/task').length; console.log(JSON.stringify({ r, tasks }));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', code + ' setTimeout(() => {}, 0);'], { encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const { r, tasks } = JSON.parse(child.stdout) as { r: { set: number; failed: number }; tasks: number };
    expect(tasks).toBeGreaterThan(1); // node has helper threads; all of them must be set
    expect(r.set).toBe(tasks);
    expect(r.failed).toBe(0);
  });
});

describeWithDist('--nice on the command line', ['cli/main', 'cli/nice-flag', 'net/priority', 'cli/arbiter'], () => {
  let dir: string | undefined;
  const pids: number[] = [];
  afterEach(() => {
    for (const pid of pids.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('bad values are one line and exit 2, for each process', () => {
    for (const [cmd, value] of [['replica', '-21'], ['arbiter', '20'], ['switch', 'high']] as const) {
      const r = spawnSync(process.execPath, [bin, cmd, `--nice=${value}`], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([`error: --nice must be an integer from -20 to 19, got ${value}`]);
    }
  });

  /** Starts an arbiter with `prefix` before node, waits for its listening line; its pid and stderr. */
  async function arbiter(prefix: string[], nice: string): Promise<{ pid: number; stderr: () => string }> {
    dir = mkdtempSync(join(tmpdir(), 'ftcp-nice-'));
    const argv = [...prefix, process.execPath, bin, 'arbiter', '--init', '--state', join(dir, 'a.json'), '--listen', '127.0.0.1:0', '--insecure', '--json', `--nice=${nice}`];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    pids.push(child.pid!);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await until(() => out.includes('"listening"'), 20_000, `the arbiter's listening line (stderr: ${err})`);
    return { pid: child.pid!, stderr: () => err };
  }

  it('the arbiter runs with every thread at the nice value asked for', async () => {
    const a = await arbiter([], '5');
    expect(new Set(threadNices(a.pid))).toEqual(new Set([5]));
    expect(a.stderr()).not.toMatch(/could not raise/);
  });

  const setpriv = spawnSync('setpriv', ['--version']).status === 0;
  if (!setpriv) console.warn('skipped: the refusal case needs setpriv(1) to drop CAP_SYS_NICE, and it is not installed');
  it.skipIf(!setpriv)('without CAP_SYS_NICE: one line, and the arbiter serves at nice 0', async () => {
    const a = await arbiter(['setpriv', '--bounding-set', '-sys_nice', '--inh-caps', '-sys_nice'], '-10');
    expect(a.stderr()).toMatch(/^arbiter: could not raise the scheduling priority to nice -10 \(.*EACCES.*\); running at nice 0/m);
    expect(new Set(threadNices(a.pid))).toEqual(new Set([0]));
  });
});
