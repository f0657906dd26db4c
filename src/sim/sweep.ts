/**
 * The fault campaign of the simulator (`ftcp sim sweep`): one cluster run per seed, each
 * with a fault mix drawn from that seed, checked against the invariants of DESIGN.md
 * ("Testing"): every client stream exactly the expected bytes, no connection reset, never
 * two live replicas in one epoch, the counter's answers consecutive, no replication fault.
 *
 * A run has two phases, as TigerBeetle's VOPR: a safety phase in which the faults happen
 * (client-link loss, duplication, reordering and corruption; log-channel partitions and
 * delays; a slow arbiter; a crash of the primary, of the backup, of the arbiter with a
 * restart from its state, of the live replica after a join, of a backup while it joins),
 * then a liveness phase with a clean network in which the run must converge, every stream
 * settled, within a bound. A run that does not is a liveness violation.
 *
 * Everything is a pure function of the seed: `planSweepRun(seed)` says what a run will do,
 * `runSweepSeed(seed)` does it, and `ftcp sim sweep --first-seed S --seeds 1` repeats it.
 */
import { APP_NAMES, type AppName } from '../proxy/app.js';
import { Prng } from '../tcp/prng.js';
import { planFaults, runCluster, type ClusterFailureKind, type ClusterOptions, type FaultPlan } from './cluster.js';
import { deriveSeed } from '../tcp/seed.js';

export const SWEEP_FAULT_KINDS = [
  'client-loss',
  'client-duplication',
  'client-reordering',
  'client-corruption',
  'log-partition',
  'log-delay',
  'slow-arbiter',
  'primary-crash',
  'backup-crash',
  'arbiter-restart',
  'join',
  'crash-after-join',
  'crash-during-join',
] as const;
export type SweepFaultKind = (typeof SWEEP_FAULT_KINDS)[number];

/** The scenario a seed draws (the crash part of its faults). */
export type SweepScenario = 'primary-crash' | 'backup-crash' | 'join-then-crash' | 'crash-during-join';

/** After the heal, the run must settle within this much virtual time. */
export const LIVENESS_BOUND_US = 20_000_000;

export interface SweepRunPlan {
  seed: number;
  app: AppName;
  connections: number;
  scenario: SweepScenario;
  options: ClusterOptions;
}

export interface SweepRunResult {
  seed: number;
  app: AppName;
  scenario: SweepScenario;
  ok: boolean;
  /** Faults injected in this run, by kind (packets for the client-link kinds, occurrences for the rest). */
  faults: Partial<Record<SweepFaultKind, number>>;
  violation?: { kind: ClusterFailureKind; message: string };
  /** Go-live after each kill of a live replica, virtual ms. */
  liveMs: number[];
  command: string;
}

/** The command that repeats one seed of the campaign. */
export function sweepCommandLine(seed: number): string {
  return `ftcp sim sweep --first-seed ${seed} --seeds 1`;
}

/** What seed `seed` of the campaign will do (no run). */
export function planSweepRun(seed: number): SweepRunPlan {
  const rng = new Prng(deriveSeed(seed, 'sweep'));
  const app = APP_NAMES[rng.below(APP_NAMES.length)]!;
  const connections = 1 + rng.below(4);
  const base = planFaults(seed);
  const crashAtUs = base.crashAtUs!;
  const faults: FaultPlan = { ...base, clientLink: { ...base.clientLink, corrupt: rng.below(3) === 0 ? rng.below(11) / 1000 : 0 } };
  const pick = rng.below(100);
  const scenario: SweepScenario = pick < 55 ? 'primary-crash' : pick < 70 ? 'backup-crash' : pick < 88 ? 'join-then-crash' : 'crash-during-join';
  const options: ClusterOptions = { seed, app, connections, faults, capture: 'none' };
  let lastFaultUs = Math.max(crashAtUs, faults.logPartition?.toUs ?? 0);
  if (scenario === 'backup-crash') options.killBackup = true;
  if (scenario === 'join-then-crash' || scenario === 'crash-during-join') {
    const atUs = crashAtUs + 300_000 + rng.below(200_001);
    if (scenario === 'join-then-crash') {
      // The live replica dies once the new backup has caught up.
      options.join = { atUs, secondCrashAtUs: atUs + 300_000 + rng.below(300_001) };
    } else {
      // The joining backup dies while the snapshot is in flight or just after: the lone primary carries on.
      options.join = { atUs, joinerCrashAtUs: atUs + rng.below(20_001) };
    }
    options.load = { requests: [80, 120], bulkBytes: 1_500_000, uploadBytes: [150_000, 300_000] };
    lastFaultUs = Math.max(lastFaultUs, options.join.secondCrashAtUs ?? 0, options.join.joinerCrashAtUs ?? 0);
  }
  // A crashed arbiter in one run of five: down around the crash, so the failover must wait for its restart.
  if (rng.below(5) === 0) {
    const fromUs = Math.max(1_000, crashAtUs - rng.below(50_001));
    faults.arbiterOutage = { fromUs, toUs: crashAtUs + 50_000 + rng.below(450_001) };
    lastFaultUs = Math.max(lastFaultUs, faults.arbiterOutage.toUs);
  }
  // A long partition that outlives every crash would be healed here anyway: end the safety phase after the last fault.
  faults.healAtUs = lastFaultUs + 500_000;
  if (faults.logPartition !== undefined && faults.logPartition.toUs > faults.healAtUs) faults.logPartition = { ...faults.logPartition, toUs: faults.healAtUs };
  options.maxUs = faults.healAtUs + LIVENESS_BOUND_US;
  return { seed, app, connections, scenario, options };
}

/** Run seed `seed` of the campaign and judge it. `tweak` changes the run (tests break the system with it). */
export function runSweepSeed(seed: number, tweak: Partial<ClusterOptions> = {}): SweepRunResult {
  const plan = planSweepRun(seed);
  const r = runCluster({ ...plan.options, ...tweak });
  const f = r.plan;
  const faults: Partial<Record<SweepFaultKind, number>> = {};
  const count = (k: SweepFaultKind, n: number) => {
    if (n > 0) faults[k] = (faults[k] ?? 0) + n;
  };
  count('client-loss', r.network.lost);
  count('client-duplication', r.network.duplicated);
  count('client-reordering', r.network.reordered);
  count('client-corruption', r.network.corrupted);
  count('log-partition', f.logPartition !== undefined ? 1 : 0);
  count('log-delay', 1);
  count('slow-arbiter', f.arbiterDelayUs >= 20_000 ? 1 : 0);
  count('arbiter-restart', f.arbiterOutage !== undefined ? 1 : 0);
  count('primary-crash', plan.scenario === 'backup-crash' ? 0 : 1);
  count('backup-crash', plan.scenario === 'backup-crash' ? 1 : 0);
  count('join', plan.options.join !== undefined ? 1 : 0);
  count('crash-after-join', plan.scenario === 'join-then-crash' ? 1 : 0);
  count('crash-during-join', plan.scenario === 'crash-during-join' ? 1 : 0);

  const extra: string[] = [];
  if (r.splitBrain !== 0) extra.push(`split brain in ${r.splitBrain} epoch(s)`);
  if (r.settledUs === null && r.ok) extra.push(`did not settle within ${LIVENESS_BOUND_US / 1e6} s of the heal`);
  const ok = r.ok && extra.length === 0;
  const result: SweepRunResult = {
    seed,
    app: plan.app,
    scenario: plan.scenario,
    ok,
    faults,
    liveMs: r.failovers.flatMap((x) => (x.liveMs === null ? [] : [x.liveMs])),
    command: sweepCommandLine(seed),
  };
  if (!ok) result.violation = r.failure ?? { kind: extra[0]!.startsWith('split') ? 'correctness' : 'liveness', message: extra.join('; ') };
  return result;
}

/** Totals of a campaign, merged from per-seed results in any order. */
export interface SweepTotals {
  seeds: number;
  passed: number;
  faults: Record<SweepFaultKind, number>;
  /** Seeds with each fault kind. */
  seedsWith: Record<SweepFaultKind, number>;
  violations: Array<{ seed: number; app: AppName; kind: ClusterFailureKind; message: string; command: string }>;
  byApp: Record<string, number>;
  byScenario: Record<string, number>;
}

export function emptyTotals(): SweepTotals {
  const zero = () => Object.fromEntries(SWEEP_FAULT_KINDS.map((k) => [k, 0])) as Record<SweepFaultKind, number>;
  return { seeds: 0, passed: 0, faults: zero(), seedsWith: zero(), violations: [], byApp: {}, byScenario: {} };
}

export function addToTotals(t: SweepTotals, r: SweepRunResult): void {
  t.seeds++;
  if (r.ok) t.passed++;
  for (const [k, n] of Object.entries(r.faults) as Array<[SweepFaultKind, number]>) {
    t.faults[k] += n;
    t.seedsWith[k]++;
  }
  t.byApp[r.app] = (t.byApp[r.app] ?? 0) + 1;
  t.byScenario[r.scenario] = (t.byScenario[r.scenario] ?? 0) + 1;
  if (r.violation !== undefined) t.violations.push({ seed: r.seed, app: r.app, ...r.violation, command: r.command });
}
