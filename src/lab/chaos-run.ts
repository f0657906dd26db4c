/**
 * `ftcp chaos`: the fault campaign with real processes.
 *
 * Each trial (chaos-trial.ts) starts its own arbiter, switch, primary, backup and load
 * client, injects one fault drawn from the trial's seed (kill -9 of the primary or of the
 * backup, the backup's kill followed by a join and the primary's kill, or a SIGSTOP of the
 * primary past the failure timeout then SIGCONT), and checks the streams byte for byte,
 * split brain, double grants, and what a resumed old primary emitted. While a trial drains
 * after its fault, the next one starts its processes. One line per trial, a table by fault
 * kind, and with --json one JSON object as the last line of stdout.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { CHAOS_FAULTS, ChaosTrial, planTrial, type ChaosFault, type ChaosOptions, type FailureKind, type TrialResult } from './chaos-trial.js';
import { onStopSignal, type LabIo, type RunOutcome } from './io.js';
import { chaosTrialVerdict } from './report/verdicts.js';
import { writeRunReport } from './report/write-run.js';

export interface ChaosRunOptions extends ChaosOptions {
  trials: number;
  seedFromClock: boolean;
  /** Run this trial of the seed alone (how a failure is reproduced). */
  only?: number;
  /** Keep the run directories of trials that passed too. */
  keep: boolean;
  json: boolean;
  /** Skip report.json and report.html in the run directories kept (`--no-report`). */
  noReport?: boolean;
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

/** Runs the trials (the next one's processes start while this one drains), prints a line per trial and the totals. */
export async function runChaos(o: ChaosRunOptions, io: LabIo): Promise<RunOutcome> {
  mkdirSync(o.dir, { recursive: true });
  const numbers = o.only !== undefined ? [o.only] : Array.from({ length: o.trials }, (_, i) => i + 1);
  const flagsText = `--app ${o.app} --connections ${o.connections} --bytes ${o.bytes} --mtu ${o.mtu} --faults ${o.faults.join(',')} --moment-max-ms ${o.momentMaxMs} --heartbeat-ms ${o.heartbeatMs} --failure-timeout-ms ${o.failureTimeoutMs}${o.failureTimeoutMaxMs !== undefined ? ` --failure-timeout-max-ms ${o.failureTimeoutMaxMs}` : ''}${o.failureTimeoutStartMs !== undefined ? ` --failure-timeout-start-ms ${o.failureTimeoutStartMs}` : ''}`;
  io.stdout(`chaos: ${numbers.length} trial(s), seed ${o.seed}${o.seedFromClock ? ' (from the wall clock)' : ''}; ${o.app} load, ${o.connections} connection(s); faults ${o.faults.join(', ')}; H ${o.heartbeatMs} ms, D ${o.failureTimeoutMs} ms${o.failureTimeoutMaxMs !== undefined ? `, Dmax ${o.failureTimeoutMaxMs} ms` : ''}${o.failureTimeoutStartMs !== undefined ? `, S ${o.failureTimeoutStartMs} ms` : ''}; runs in ${o.dir}\n`);
  const totals = emptyTotals();
  const startMs = io.nowMs();
  const interrupted = await runTrials(o, numbers, io, (r) => {
    addTrial(totals, r, `ftcp chaos --seed ${o.seed} --only ${r.plan.trial} ${flagsText}`);
    io.stdout(`${trialLine(r, numbers.length)}\n`);
    // Kept: failed trials, and those with a false failover (to see why the detector fired); each with its page.
    if (r.ok && !r.falseFailover && !o.keep) rmSync(r.dir, { recursive: true, force: true });
    else if (o.noReport !== true) writeRunReport(r.dir, chaosTrialVerdict(r), io, o.json);
  });
  const durationS = Number(((io.nowMs() - startMs) / 1000).toFixed(1));
  io.stdout(summary(totals, durationS));
  if (o.json) {
    const { failures, ...rest } = totals;
    io.stdout(`${JSON.stringify({ ok: failures.length === 0 && !interrupted, seed: o.seed, ...rest, durationS, failures: failures.slice(0, 100), command: `ftcp chaos --trials ${o.trials} --seed ${o.seed} ${flagsText}` })}\n`);
  }
  if (interrupted) return 'interrupted';
  if (totals.broken > 0 || totals.splitBrain > 0 || totals.nonIdentical > 0) return 'correctness';
  return totals.failures.length > 0 ? 'liveness' : 'ok';
}

/**
 * The trials in order, each handed to `done`; the next trial starts its processes once this
 * one's fault is over (it then only drains). Resolves true when SIGINT or SIGTERM stopped it.
 */
async function runTrials(o: ChaosOptions, numbers: readonly number[], io: LabIo, done: (r: TrialResult) => void): Promise<boolean> {
  let current: ChaosTrial | undefined;
  let next: ChaosTrial | undefined;
  let interrupted: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
    io.stderr(`chaos: interrupted by ${signal}: stopping every child\n`);
    void current?.stop();
    void next?.stop();
  };
  const stopListening = onStopSignal(onSignal);
  const make = (t: number) => new ChaosTrial(planTrial(o, t), o);
  try {
    for (let i = 0; i < numbers.length && interrupted === undefined; i++) {
      current = next ?? make(numbers[i]!);
      next = undefined;
      const following = numbers[i + 1];
      const r = await current.run(() => {
        if (following === undefined || interrupted !== undefined) return;
        next = make(following);
        next.prepare().catch(() => undefined); // its run() reports the failure
      });
      done(r);
    }
  } finally {
    stopListening();
    await next?.stop();
  }
  return interrupted !== undefined;
}

function emptyTotals(): Totals {
  return {
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
