// `ftcp bench` (src/cli/bench.ts, the run in src/lab/bench-run.ts): a usage error, a run of the
// in-process group (`--only stack --quick --json`), and the whole `--quick --json` run against the
// built CLI (its keys exist and are numbers). No timing assertions: a benchmark reports.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FTCP_BIN } from '../../src/lab/children.js';
import { cli } from './cli-helpers.js';

describe('ftcp bench', () => {
  it('refuses an unknown group', async () => {
    const r = await cli(['bench', '--only', 'stack,nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--only');
  });

  it('--only stack --quick --json: the last line of stdout is the JSON object with the stack keys as numbers', async () => {
    const r = await cli(['bench', '--only', 'stack', '--quick', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const out = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    for (const key of ['stack.ratio1500', 'stack.ratio65535', 'kernel.loopbackMBps']) expect(typeof out[key]).toBe('number');
    expect(out['quick']).toBe(true);
    expect(r.stderr).toContain('$ ftcp bench --only stack --quick');
  }, 120_000);
});

// The whole quick run against the built CLI: some twenty child processes, ~30-60 s on a busy
// 2-core machine. Skipped (with the reason) when the CLI is not built.
const built = existsSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli', 'main.js'));
if (!built) console.warn('bench --quick --json (built CLI): skipped, dist/cli/main.js is missing: run `npm run build`');

describe('ftcp bench --quick --json (built CLI)', () => {
  it.skipIf(!built)('prints one JSON object with every key as a number', async () => {
    const r = spawnSync(process.execPath, [FTCP_BIN, 'bench', '--quick', '--json'], { encoding: 'utf8', timeout: 240_000 });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const out = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    const keys = [
      'stack.ratio1500',
      'stack.ratio65535',
      'replicated.throughputRatio',
      'replicated.latencyOverheadP50Us',
      'logRttP50Us',
      'failover.p50Ms',
      'failover.p99Ms',
      'failover.trials',
      'failover.broken',
      'failover.fromNewPrimary',
      'log.bytesPerClientByte',
      'scale.connections',
      'scale.bytesPerConnection',
    ];
    for (const key of keys) expect(typeof out[key], key).toBe('number');
    // Where the CPU went, per MB moved (Linux /proc): the pair's total is more than the lone server's.
    if (process.platform === 'linux') {
      for (const key of ['replicated.aloneCpuMsPerMB', 'replicated.pairCpuMsPerMB', 'replicated.cpuRatio']) expect(out[key], key).toBeGreaterThan(0);
      expect(out['replicated.pairCpuMsPerMB']).toBeGreaterThan(out['replicated.aloneCpuMsPerMB'] as number);
    }
    // survived is not measured when the pair split while the connections were opened (null then).
    expect(out).toHaveProperty('scale.survived');
    expect(out).toHaveProperty('kernel.ratio');
    expect(out['errors']).toEqual({});
    // kernel.ratio: a number when root, socat and the TUN bridge are here; null and the reason otherwise.
    if (out['kernel.ratio'] === null) expect(r.stderr).toContain('kernel.ratio skipped');
    else expect(typeof out['kernel.ratio']).toBe('number');
  }, 300_000);
});
