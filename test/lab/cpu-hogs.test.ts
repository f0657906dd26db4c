// --cpu-hogs: busy processes for the length of a run, gone after it however it ends, and
// gone by themselves when the process that started them is killed -9.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startCpuHogs, withCpuHogs } from '../../src/lab/cpu-hogs.js';
import { until } from '../helpers/net.js';
import { describeWithDist } from '../helpers/process.js';

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
const quietIo = { stdout: () => {}, stderr: () => {}, nowMs: () => 0 };
const bin = join(import.meta.dirname, '../../bin/ftcp.js');

describe('cpu hogs', () => {
  it('run beside the work and are stopped after it, also when it throws', async () => {
    let seen: number[] = [];
    const lines: string[] = [];
    await expect(
      withCpuHogs(2, { ...quietIo, stderr: (t) => void lines.push(t) }, () => {
        seen = readChildren();
        throw new Error('the run failed');
      }),
    ).rejects.toThrow('the run failed');
    expect(seen).toHaveLength(2);
    expect(lines[0]).toMatch(/^cpu hogs: 2 busy process\(es\) beside the run \(pids \d+, \d+\)/);
    for (const pid of seen) expect(alive(pid)).toBe(false);
  });

  it('none for 0: the run alone', async () => {
    expect(await withCpuHogs(0, quietIo, async () => readChildren().length)).toBe(0);
  });

  it('a hog whose parent was killed -9 exits by itself', async () => {
    const parent = spawn(process.execPath, ['--input-type=module', '-e', `import { startCpuHogs } from ${JSON.stringify(join(import.meta.dirname, '../../dist/lab/cpu-hogs.js'))}; const h = startCpuHogs(1); console.log(h.pids[0]); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    expect(alive(pid)).toBe(true);
    parent.kill('SIGKILL');
    await until(() => !alive(pid), 10_000, 'the orphaned hog to exit');
  });

  it('the run takes the cluster priority (nice -10) and its hogs stay at nice 0', () => {
    // In a child process, so the test runner keeps its own priority.
    const code = [
      "import { readFileSync } from 'node:fs';",
      `import { withCpuHogs } from ${JSON.stringify(join(import.meta.dirname, '../../dist/lab/cpu-hogs.js'))};`,
      "const nice = (pid) => Number(readFileSync('/proc/' + pid + '/stat', 'utf8').split(') ')[1].split(' ')[16]);",
      "const children = () => readFileSync('/proc/' + process.pid + '/task/' + process.pid + '/children', 'utf8').trim().split(' ').map(Number);",
      'const io = { stdout: () => {}, stderr: (t) => process.stderr.write(t), nowMs: () => 0 };',
      'const seen = await withCpuHogs(2, io, async () => ({ run: nice(process.pid), hogs: children().map(nice) }));',
      'console.log(JSON.stringify(seen));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const seen = JSON.parse(r.stdout) as { run: number; hogs: number[] };
    if (process.getuid?.() === 0) expect(seen.run).toBe(-10);
    else expect(r.stderr).toMatch(/could not raise the scheduling priority/);
    expect(seen.hogs).toEqual([0, 0]);
  });

  it('startCpuHogs gives their pids', async () => {
    const hogs = startCpuHogs(1);
    try {
      expect(hogs.pids).toHaveLength(1);
      expect(readFileSync(`/proc/${hogs.pids[0]}/cmdline`, 'utf8')).toContain('process.kill(parent, 0)');
    } finally {
      await hogs.stop();
    }
  });
});

describeWithDist('--cpu-hogs on the command line', ['cli/main', 'lab/cpu-hogs'], () => {
  it('is refused with --sim and out of range, one line each', () => {
    for (const [args, re] of [
      [['demo', 'failover', '--sim', '--cpu-hogs', '2'], /--cpu-hogs loads the machine for real processes; drop --sim/],
      [['chaos', '--cpu-hogs', '65'], /--cpu-hogs must be an integer from 0 to 64/],
      [['bench', '--cpu-hogs', 'x'], /--cpu-hogs must be an integer from 0 to 64/],
    ] as const) {
      const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')[0]).toMatch(re);
    }
  });
});

/** This process's children that are hogs (their command line holds the hog's program), read from /proc. */
function readChildren(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('process.kill(parent, 0)')) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
