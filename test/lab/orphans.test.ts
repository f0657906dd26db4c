// A child of `ftcp demo failover` (or of a scenario) must not outlive an orchestrator that
// was killed with SIGKILL: with FTCP_EXIT_WITH_PARENT=1 it notices that its parent is gone
// and stops as if sent SIGTERM.
import { spawn } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { alive, bin, describeWithDist, root } from '../helpers/process.js';

const pids: number[] = [];
afterAll(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

describeWithDist('children of a killed orchestrator', ['net/signals', 'cli/switch'], () => {
  it.each([
    ['1', false],
    ['0', true],
  ])('FTCP_EXIT_WITH_PARENT=%s: the switch outlives its SIGKILLed parent: %s', async (flag, outlives) => {
    // A stand-in orchestrator: starts `ftcp switch`, prints the child's pid, then waits.
    const script =
      `const { spawn } = require('node:child_process');` +
      `const c = spawn(process.execPath, [${JSON.stringify(bin)}, 'switch', '--listen', '127.0.0.1:0', '--no-capture'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, FTCP_EXIT_WITH_PARENT: '${flag}' } });` +
      `c.stdout.once('data', () => console.log(c.pid));` +
      `setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    pids.push(parent.pid!);
    const childPid = await new Promise<number>((resolve, reject) => {
      parent.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      parent.once('exit', () => reject(new Error('the stand-in orchestrator exited early')));
    });
    pids.push(childPid);
    expect(alive(childPid)).toBe(true);
    parent.kill('SIGKILL');
    const gone = await waitUntil(() => !alive(childPid), 5_000);
    expect(gone).toBe(!outlives);
  }, 30_000);
});
