/**
 * `ftcp sim sweep`: the simulator's fault campaign (src/sim/sweep.ts) over many seeds,
 * optionally on several worker threads.
 *
 *   ftcp sim sweep [--seeds N] [--first-seed S] [--jobs J] [--json] [--progress]
 *
 * Prints a table of the faults injected and every invariant violation, each with its seed
 * and the command that reproduces it. With --json the last line of stdout is one object:
 * seeds, passed, faults (count by kind), seedsWith, byApp, byScenario, violations.
 */
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { addToTotals, emptyTotals, LIVENESS_BOUND_US, SWEEP_FAULT_KINDS, type SweepRunResult, type SweepTotals } from '../sim/sweep.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { runSweepSeeds, sweepWorkerPath } from '../lab/sweep-pool.js';
import { parseIntegerFlag, parseSeed } from './validate.js';
import { helpAfter } from './help-layout.js';

interface SweepFlags {
  seeds: string;
  firstSeed: string;
  jobs: string;
  json?: boolean;
  progress?: boolean;
}

const MAX_SEEDS = 10_000_000;

export function registerSweepCommand(sim: Command, io: CliIo, setExitCode: (code: number) => void): void {
  sim
    .command('sweep')
    .summary('fault campaign: one replicated-cluster run per seed, every fault kind, invariants checked')
    .description(
      'Runs the simulated cluster (clients, switch, primary, backup, arbiter) once per seed. Each seed draws\n' +
        'its faults: client-link loss, duplication, reordering and corruption; log-channel partitions and\n' +
        'delays; a slow arbiter; a crash of the primary, of the backup, of the arbiter (restarted from its\n' +
        'state), of the live replica after a new backup joined, or of a backup while it joins. A safety phase\n' +
        `with the faults is followed by a liveness phase with a clean network that must converge within ${LIVENESS_BOUND_US / 1e6} s.\n` +
        'Checked on every seed: each client stream is exactly the expected bytes, no connection is reset, no\n' +
        'epoch has two live replicas, the counter answers 1..n, no replication fault.',
    )
    .option('--seeds <n>', `how many seeds, 1..${MAX_SEEDS}`, '100')
    .option('--first-seed <s>', 'the first seed (0..4294967295); seeds are consecutive', '1')
    .option('--jobs <j>', `worker threads, 1..${availableParallelism()} (this machine's cores)`, '1')
    .option('--json', 'print one JSON object with the totals as the last line of stdout')
    .option('--progress', 'show progress on stderr even when it is not a terminal (shown on a terminal by default)')
    .addHelpText(
      'after',
      helpAfter('\nA violation prints its seed and the command that repeats that seed alone; the same seed always\n' +
        'makes the same run. Exit codes: 0 no violation; 1 correctness (bytes, split brain, replication fault);\n' +
        '2 bad usage; 3 liveness (a stream stalled, nobody went live); 4 a connection was reset; 5 a run threw.\n\n' +
        'Example:\n  ftcp sim sweep --seeds 10000 --jobs 2')
    )
    .action(async (flags: SweepFlags) => {
      setExitCode(await simSweep(flags, io));
    });
}

export async function simSweep(flags: SweepFlags, io: CliIo): Promise<number> {
  const seeds = parseIntegerFlag('--seeds', flags.seeds, 1, MAX_SEEDS);
  const first = parseSeed('--first-seed', flags.firstSeed);
  if (first + seeds - 1 > 0xffff_ffff) throw new UsageError(`--first-seed ${first} + --seeds ${seeds} runs past seed 4294967295`);
  let jobs = parseIntegerFlag('--jobs', flags.jobs, 1, availableParallelism());
  const json = flags.json === true;
  const say = (s: string) => (json ? io.stderr(s) : io.stdout(s));
  if (jobs > 1 && sweepWorkerPath() === undefined) {
    io.stderr('sim sweep: the compiled worker (dist/lab/sweep-worker.js) is not there, so the seeds run in this thread; run `npm run build` for --jobs\n');
    jobs = 1;
  }
  jobs = Math.min(jobs, seeds);
  say(`sim sweep: ${seeds} seed(s) from ${first}, ${jobs} job(s); repeat one seed with: ftcp sim sweep --first-seed S --seeds 1\n`);

  const totals = emptyTotals();
  const startMs = io.nowMs();
  const showProgress = io.stderrIsTty || flags.progress === true;
  let lastProgressMs = startMs;
  const onResult = (r: SweepRunResult) => {
    addToTotals(totals, r);
    if (!r.ok) say(`VIOLATION seed ${r.seed} (${r.app}, ${r.scenario}): ${r.violation?.kind}: ${firstLine(r.violation?.message ?? '')}\n  reproduce: ${r.command}\n`);
    const nowMs = io.nowMs();
    if (showProgress && (nowMs - lastProgressMs >= 1000 || totals.seeds === seeds)) {
      lastProgressMs = nowMs;
      const line = `sim sweep: ${totals.seeds}/${seeds} seeds, ${totals.violations.length} violation(s), ${((nowMs - startMs) / 1000).toFixed(1)} s`;
      io.stderr(io.stderrIsTty ? `\r\x1b[K${line}${totals.seeds === seeds ? '\n' : ''}` : `${line}\n`);
    }
  };

  await runSweepSeeds(first, seeds, jobs, onResult);
  const wallS = (io.nowMs() - startMs) / 1000;
  if (json) io.stdout(`${JSON.stringify({ ok: totals.violations.length === 0, ...totals, wallSeconds: Number(wallS.toFixed(1)) })}\n`);
  else io.stdout(report(totals, wallS));
  const worst = totals.violations[0];
  return worst === undefined ? EXIT.ok : EXIT[worst.kind];
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

function report(t: SweepTotals, wallS: number): string {
  const lines: string[] = [];
  lines.push(`faults injected over ${t.seeds} seed(s) (${wallS.toFixed(1)} s wall):`);
  lines.push(`  ${'kind'.padEnd(20)} ${'count'.padStart(9)} ${'seeds'.padStart(7)}`);
  for (const k of SWEEP_FAULT_KINDS) lines.push(`  ${k.padEnd(20)} ${String(t.faults[k]).padStart(9)} ${String(t.seedsWith[k]).padStart(7)}`);
  lines.push('  (client-link kinds count packets; the others count occurrences)');
  lines.push(`apps: ${Object.entries(t.byApp).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`scenarios: ${Object.entries(t.byScenario).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (t.violations.length === 0) {
    lines.push(`ok: ${t.seeds} seed(s), 0 violations`);
  } else {
    lines.push(`FAILED: ${t.violations.length} violation(s) in ${t.seeds} seed(s):`);
    for (const v of t.violations.slice(0, 50)) lines.push(`  seed ${v.seed} (${v.app}) ${v.kind}: ${firstLine(v.message)}\n    reproduce: ${v.command}`);
    if (t.violations.length > 50) lines.push(`  ... and ${t.violations.length - 50} more`);
  }
  return `${lines.join('\n')}\n`;
}
