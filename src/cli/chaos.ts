/**
 * `ftcp chaos`: the fault campaign with real processes.
 *
 *   ftcp chaos --trials N [--seed S] [--only T] [--json] [--app A] [--faults K,...] ...
 *
 * Each trial (src/lab/chaos-trial.ts) starts its own arbiter, switch, primary, backup and
 * load client, injects one fault drawn from the trial's seed (kill -9 of the primary or of
 * the backup, the backup's kill followed by a join and the primary's kill, or a SIGSTOP of
 * the primary past the failure timeout then SIGCONT), and checks the streams byte for byte,
 * split brain, double grants, and what a resumed old primary emitted. While a trial drains
 * after its fault, the next one starts its processes. One line per trial, a table by fault
 * kind, and with --json one JSON object as the last line of stdout.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CHAOS_APPS, CHAOS_FAULTS, ChaosTrial, DEFAULT_FAULTS, JOIN_LOAD_FACTOR, planTrial, type ChaosApp, type ChaosFault, type ChaosOptions, type FailureKind, type TrialResult } from '../lab/chaos-trial.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { DEMO_MTU } from '../lab/live-cluster.js';
import { MAX_LOGGED_PACKET_BYTES } from '../replica/primary.js';
import { parsePositiveMs, parseReplicaMtu } from './replica.js';
import { parseByteCount, parseIntegerFlag, parseMilliseconds, parseSeed } from './validate.js';

interface ChaosFlags {
  trials: string;
  seed?: string;
  only?: string;
  app: string;
  connections: string;
  bytes: string;
  mtu: string;
  faults: string;
  momentMaxMs: string;
  heartbeatMs: string;
  failureTimeoutMs: string;
  captureDir: string;
  keep?: boolean;
  json?: boolean;
}

export function registerChaosCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('chaos')
    .summary('fault campaign with real processes: kill -9 and SIGSTOP of replicas under load, every byte checked')
    .description(
      'Runs N trials. Each starts an arbiter, a switch, a primary and a backup and a load client (uploads and\n' +
        'downloads, every byte checked) as processes on loopback, and at a moment drawn from the trial\'s seed:\n' +
        '  kill-primary      kill -9 of the primary (the backup must go live)\n' +
        '  kill-backup       kill -9 of the backup (the primary must carry on alone)\n' +
        '  kill-backup-join  kill -9 of the backup, a new backup joins, then kill -9 of the primary\n' +
        '  pause-primary     SIGSTOP of the primary until the backup has taken over, then SIGCONT: the old\n' +
        '                    primary must lose the test-and-set and stop, and whatever it emits after the\n' +
        '                    SIGCONT must be byte-identical to what the new primary sent for that sequence range\n' +
        '  pause-backup      SIGSTOP of the backup until the primary serves alone, then SIGCONT: the old backup\n' +
        '                    must lose the test-and-set, stop, and put nothing on the wire\n' +
        '  pause-race        (only with --faults) SIGSTOP of the primary for 50..200 % of D, then SIGCONT\n' +
        '                    whatever happened: it races the backup for the test-and-set; the loser must step down\n' +
        'Checked on every trial: no stream broken (no byte lost, duplicated or corrupted, no reset), no two\n' +
        'replicas live in one epoch, no epoch granted twice by the arbiter, re-emitted segments identical.',
    )
    .option('--trials <n>', 'how many trials, 1..100000', '10')
    .option('--seed <s>', 'run seed, 0..4294967295: fixes every trial\'s fault, moments and data (default: from the wall clock, printed)')
    .option('--only <t>', 'run trial T of the seed alone (how a failure is reproduced)')
    .option('--app <name>', `the built-in app under load: ${CHAOS_APPS.join(', ')} (bulk: uploads and downloads)`, 'bulk')
    .option('--connections <n>', 'client connections per trial, 1..100', '2')
    .option('--bytes <n>', `bulk: bytes each way per connection (kill-backup-join: ${JOIN_LOAD_FACTOR} times as many)`, '300K')
    .option('--mtu <bytes>', `the replicas' and the client's link MTU, 68..${MAX_LOGGED_PACKET_BYTES} (MSS = mtu - 40; 1500 keeps many segments in flight at each fault)`, String(DEMO_MTU))
    .option('--faults <kinds>', `comma-separated fault kinds to draw from: ${CHAOS_FAULTS.join(', ')}`, DEFAULT_FAULTS.join(','))
    .option('--moment-max-ms <ms>', 'the fault comes 0..this long after the load started', '400')
    .option('--heartbeat-ms <ms>', 'H, the log channel\'s heartbeat', '20')
    .option('--failure-timeout-ms <ms>', 'D, silence before the arbiter is asked (the product\'s 50 ms makes false failovers on a busy machine)', '300')
    .option('--capture-dir <dir>', 'write each trial\'s captures and event lines to <dir>/chaos-seed<S>/trial-<T>/ (kept for failed trials and false failovers)', 'captures')
    .option('--keep', 'keep the run directories of trials that passed too (default: off)')
    .option('--json', 'print one JSON object with the totals as the last line of stdout')
    .addHelpText(
      'after',
      '\nExit codes: 0 every trial passed; 1 a stream broke, split brain, or a non-identical emission;\n' +
        '2 bad usage; 3 liveness only (nobody went live, a process did not stop).\n\n' +
        'Examples:\n  ftcp chaos --trials 100 --json\n  ftcp chaos --seed 7 --only 12',
    )
    .action(async (flags: ChaosFlags) => {
      setExitCode(await runChaos(flags, io));
    });
}

function parseFaults(text: string): ChaosFault[] {
  const kinds = text.split(',').map((k) => k.trim()).filter((k) => k !== '');
  for (const k of kinds) if (!(CHAOS_FAULTS as readonly string[]).includes(k)) throw new UsageError(`--faults: unknown kind ${k}; the kinds are ${CHAOS_FAULTS.join(', ')}`);
  if (kinds.length === 0) throw new UsageError(`--faults needs at least one of ${CHAOS_FAULTS.join(', ')}`);
  return [...new Set(kinds)] as ChaosFault[];
}

interface Totals {
  trials: number;
  passed: number;
  /** Streams broken, over all trials. */
  broken: number;
  /** Epochs with two live replicas or two grants, over all trials. */
  splitBrain: number;
  nonIdentical: number;
  liveness: number;
  notFaulted: number;
  /** Trials in which a failure detector fired where no fault was (safe; the trial then tested less than planned). */
  falseFailovers: number;
  faults: Record<ChaosFault, number>;
  failedByFault: Record<ChaosFault, number>;
  pausedSteppedDown: number;
  pausedSegmentsAfterCont: number;
  failures: Array<{ trial: number; seed: number; fault: ChaosFault; momentMs: number; failures: TrialResult['failures']; dir: string; command: string }>;
}

export async function runChaos(flags: ChaosFlags, io: CliIo): Promise<number> {
  const trials = parseIntegerFlag('--trials', flags.trials, 1, 100_000);
  const seedFromClock = flags.seed === undefined;
  const seed = flags.seed === undefined ? Math.floor(io.nowMs()) % 0x1_0000_0000 : parseSeed('--seed', flags.seed);
  const only = flags.only === undefined ? undefined : parseIntegerFlag('--only', flags.only, 1, 100_000);
  if (!(CHAOS_APPS as readonly string[]).includes(flags.app)) throw new UsageError(`--app must be one of ${CHAOS_APPS.join(', ')}, got ${flags.app}`);
  const heartbeatMs = parsePositiveMs('--heartbeat-ms', flags.heartbeatMs);
  const failureTimeoutMs = parsePositiveMs('--failure-timeout-ms', flags.failureTimeoutMs);
  if (failureTimeoutMs <= heartbeatMs) throw new UsageError(`--failure-timeout-ms (${failureTimeoutMs}) must be longer than --heartbeat-ms (${heartbeatMs})`);
  const bytes = parseByteCount('--bytes', flags.bytes);
  if (bytes < 1) throw new UsageError(`--bytes must be at least 1, got ${flags.bytes}`);
  const o: ChaosOptions = {
    seed,
    app: flags.app as ChaosApp,
    connections: parseIntegerFlag('--connections', flags.connections, 1, 100),
    bytes,
    faults: parseFaults(flags.faults),
    momentMaxMs: parseMilliseconds('--moment-max-ms', flags.momentMaxMs, 60_000),
    heartbeatMs,
    failureTimeoutMs,
    mtu: parseReplicaMtu(flags.mtu),
    dir: join(flags.captureDir, `chaos-seed${seed}`),
  };
  mkdirSync(o.dir, { recursive: true });
  const numbers = only !== undefined ? [only] : Array.from({ length: trials }, (_, i) => i + 1);
  const flagsText = `--app ${o.app} --connections ${o.connections} --bytes ${bytes} --mtu ${o.mtu} --faults ${o.faults.join(',')} --moment-max-ms ${o.momentMaxMs} --heartbeat-ms ${heartbeatMs} --failure-timeout-ms ${failureTimeoutMs}`;
  const command = (t: number) => `ftcp chaos --seed ${seed} --only ${t} ${flagsText}`;
  io.stdout(`chaos: ${numbers.length} trial(s), seed ${seed}${seedFromClock ? ' (from the wall clock)' : ''}; ${o.app} load, ${o.connections} connection(s); faults ${o.faults.join(', ')}; H ${heartbeatMs} ms, D ${failureTimeoutMs} ms; runs in ${o.dir}\n`);

  const totals: Totals = {
    trials: 0,
    passed: 0,
    broken: 0,
    splitBrain: 0,
    nonIdentical: 0,
    liveness: 0,
    notFaulted: 0,
    falseFailovers: 0,
    faults: Object.fromEntries(CHAOS_FAULTS.map((k) => [k, 0])) as Record<ChaosFault, number>,
    failedByFault: Object.fromEntries(CHAOS_FAULTS.map((k) => [k, 0])) as Record<ChaosFault, number>,
    pausedSteppedDown: 0,
    pausedSegmentsAfterCont: 0,
    failures: [],
  };
  let current: ChaosTrial | undefined;
  let next: ChaosTrial | undefined;
  let interrupted: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
    io.stderr(`chaos: interrupted by ${signal}: stopping every child\n`);
    void current?.cluster.stop();
    void next?.cluster.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const startMs = io.nowMs();
  const make = (t: number) => new ChaosTrial(planTrial(o, t), o);
  try {
    for (let i = 0; i < numbers.length && interrupted === undefined; i++) {
      current = next ?? make(numbers[i]!);
      next = undefined;
      // The next trial starts its processes once this one's fault is over (it then only drains).
      const following = numbers[i + 1];
      const r = await current.run(() => {
        if (following === undefined || interrupted !== undefined) return;
        next = make(following);
        next.prepare().catch(() => undefined); // its run() reports the failure
      });
      addTrial(totals, r, command(r.plan.trial));
      io.stdout(`${trialLine(r, numbers.length)}\n`);
      // Kept: failed trials, and those with a false failover (to see why the detector fired).
      if (r.ok && !r.falseFailover && flags.keep !== true) rmSync(r.dir, { recursive: true, force: true });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await next?.cluster.stop();
  }
  const durationS = Number(((io.nowMs() - startMs) / 1000).toFixed(1));
  io.stdout(summary(totals, durationS));
  if (flags.json === true) {
    const { failures, ...rest } = totals;
    io.stdout(`${JSON.stringify({ ok: failures.length === 0 && interrupted === undefined, seed, ...rest, durationS, failures: failures.slice(0, 100), command: `ftcp chaos --trials ${trials} --seed ${seed} ${flagsText}` })}\n`);
  }
  if (interrupted !== undefined) return 130;
  if (totals.broken > 0 || totals.splitBrain > 0 || totals.nonIdentical > 0) return EXIT.correctness;
  return totals.failures.length > 0 ? EXIT.liveness : EXIT.ok;
}

function addTrial(t: Totals, r: TrialResult, command: string): void {
  t.trials++;
  t.faults[r.plan.fault]++;
  if (!r.faulted && r.failures.length === 0) t.notFaulted++;
  const count = (k: FailureKind) => r.failures.filter((f) => f.kind === k).length;
  t.broken += r.failures.some((f) => f.kind === 'broken') ? Math.max(1, r.streams?.broken ?? 0) : 0;
  if (r.falseFailover) t.falseFailovers++;
  t.splitBrain += r.splitBrainEpochs.length + r.doubleGrants.length;
  t.nonIdentical += count('nonIdentical');
  t.liveness += count('liveness');
  if (r.paused !== null) {
    if (r.paused.steppedDown) t.pausedSteppedDown++;
    t.pausedSegmentsAfterCont += r.paused.segments;
  }
  if (r.ok) {
    t.passed++;
    return;
  }
  t.failedByFault[r.plan.fault]++;
  t.failures.push({ trial: r.plan.trial, seed: r.plan.seed, fault: r.plan.fault, momentMs: r.plan.momentMs, failures: r.failures, dir: r.dir, command });
}

function trialLine(r: TrialResult, of: number): string {
  const p = r.plan;
  const parts = [`trial ${p.trial}${of > 1 ? `/${of}` : ''}: ${p.fault} at ${p.momentMs} ms`];
  const f = r.failover;
  if (!r.faulted) parts.push(r.failures.length > 0 ? 'no fault (the trial failed before it)' : r.falseFailover ? 'no fault (a false failover came first)' : 'no fault (the load finished first)');
  else if (f.by !== null) parts.push(`${f.by} ${p.fault === 'kill-backup' || p.fault === 'pause-backup' || (p.fault === 'pause-race' && f.by === 'a') || (p.fault === 'kill-backup-join' && f.by !== 'c') ? 'alone' : 'live'} in epoch ${f.epoch} after ${f.afterMs} ms`);
  if (r.paused !== null) parts.push(`${r.paused.who} paused ${r.paused.pausedMs} ms, ${r.paused.steppedDown ? 'stepped down' : 'DID NOT STEP DOWN'}, ${r.paused.segments} segment(s) after SIGCONT (${r.paused.identical} identical, ${r.paused.noData} without data, ${r.paused.nonIdentical} NOT identical)`);
  if (r.reemitted !== null) parts.push(`re-emitted ${r.reemitted.segments}`);
  parts.push(r.streams === null ? 'streams not judged' : `streams ${r.streams.intact}/${r.streams.intact + r.streams.broken} intact`);
  const head = `${r.ok ? 'ok    ' : 'FAILED'} ${parts.join('; ')} (${(r.durationMs / 1000).toFixed(1)} s)`;
  const extra = [...r.notes.map((n) => `  note: ${n}`), ...r.failures.slice(0, 8).map((x) => `  ${x.kind}: ${x.text}`)];
  if (!r.ok || r.falseFailover) extra.push(`  run directory: ${r.dir}`);
  return [head, ...extra].join('\n');
}

function summary(t: Totals, durationS: number): string {
  const lines = [`chaos: ${t.trials} trial(s) in ${durationS} s`, `  ${'fault'.padEnd(18)} ${'trials'.padStart(7)} ${'failed'.padStart(7)}`];
  for (const k of CHAOS_FAULTS) if (t.faults[k] > 0) lines.push(`  ${k.padEnd(18)} ${String(t.faults[k]).padStart(7)} ${String(t.failedByFault[k]).padStart(7)}`);
  lines.push(`  broken streams ${t.broken}, split brain ${t.splitBrain}, non-identical emissions ${t.nonIdentical}, liveness failures ${t.liveness}`);
  const pauses = t.faults['pause-primary'] + t.faults['pause-backup'];
  if (pauses > 0) lines.push(`  paused replicas that stepped down after SIGCONT: ${t.pausedSteppedDown}/${pauses}; client segments they emitted after it: ${t.pausedSegmentsAfterCont}`);
  if (t.falseFailovers > 0) lines.push(`  ${t.falseFailovers} trial(s) had a false failover (a failure detector fired where no fault was; see their notes)`);
  if (t.notFaulted > 0) lines.push(`  ${t.notFaulted} trial(s) had no fault: the load finished before the moment, or a false failover came first`);
  if (t.failures.length === 0) lines.push(`ok: ${t.trials} trial(s), 0 failed`);
  else for (const f of t.failures.slice(0, 30)) lines.push(`FAILED trial ${f.trial} (${f.fault}): ${f.failures[0]?.kind}: ${f.failures[0]?.text}\n  reproduce: ${f.command}`);
  return `${lines.join('\n')}\n`;
}
