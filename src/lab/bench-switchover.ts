/**
 * `ftcp bench --only switchover`: the pause a client sees across a planned switchover
 * (SIGTERM of a primary that has a backup, which hands the service over at once), over
 * fresh pairs, as failover.* measures a kill -9 (bench-cluster.ts failoverTrial).
 *
 * A trial: a fresh pair and `ftcp client --app bulk` (one connection, bytes both ways,
 * every byte checked) that records the gaps between its reads with its own clock
 * (--read-gaps, src/lab/read-gaps.ts); SIGTERM of the primary `afterMs` into the load. The
 * figure is the longest gap in the client's reads across the handover, from SIGTERM to its
 * first read after the backup said it was live. A trial in which either replica suspected
 * the other (a false failover on a busy machine, or a handover that fell back to the
 * failure timeout) is counted apart, not measured.
 */
import { wallClockMs } from '../net/clock.js';
import type { Child, ChildEvent } from './children.js';
import type { ClientShape } from './launch.js';
import { startCluster, stopCluster, type PairSettings } from './bench-cluster.js';
import { percentile } from '../net/log-rtt.js';
import { DEFAULT_NICE } from '../net/priority.js';
import { pauseAcross, READ_GAP_MS, readGapsOf } from './read-gaps.js';

/** The steps of a switchover, in order, each the wall-clock time of an event line (ms). */
export const SWITCHOVER_STEPS = [
  ['asked', 'the primary handles SIGTERM'],
  ['handover', 'the primary stops input and sends handover'],
  ['received', 'the backup reads handover'],
  ['applied', 'the backup has applied the log and asks the arbiter'],
  ['sent', 'the test-and-set is written to the arbiter'],
  ['granted', 'the arbiter\'s grant reaches the backup'],
  ['live', 'the backup is live (it re-emitted what was held)'],
  ['resumed', 'the client reads its next byte (its own clock)'],
] as const;
export type SwitchoverStep = (typeof SWITCHOVER_STEPS)[number][0];

/** The workload of the trials: bulk (one 5 MB transfer each way) or light (one connection of small requests). */
export type SwitchoverLoad = 'bulk' | 'light';
export const SWITCHOVER_LOADS: readonly SwitchoverLoad[] = ['bulk', 'light'];

export interface SwitchoverTrial {
  /** The longest gap in the client's reads between SIGTERM and its first read after the backup went live, ms; null if it never read again. */
  pauseMs: number | null;
  /** That gap, ms after SIGTERM (the client's reads were stamped by the client). */
  gapMs: [number, number] | null;
  /** The longest gap in the client's reads in as long a time just before SIGTERM: its own stalls, to compare. */
  beforeMs: number | null;
  /** The old primary's exit code (0 expected). */
  primaryExit: number | null;
  /** The backup's go-live reason ('switchover' expected). */
  liveReason: string | null;
  /** Each step's wall-clock time after SIGTERM (the processes' own event times), ms. */
  atMs: Partial<Record<SwitchoverStep, number>>;
  /** Each step's time after the step before it (the first: after SIGTERM), ms; where the pause went. */
  stepMs: Partial<Record<SwitchoverStep, number>>;
  /** Log-channel bytes queued in the primary's socket behind which its handover went (the kernel's buffers not counted). */
  queuedBytes: number | null;
  /** Entries logged above r when the primary handed over (sent or in flight, not yet acknowledged). */
  inFlight: number | null;
  /** Entries the backup still lacked when the handover frame reached it. */
  behind: number | null;
  /** The arbiter's write + fsync + rename + directory fsync of the grant, ms. */
  persistMs: number | null;
  broken: boolean;
  /** A replica suspected its peer: no measurement of a planned switchover. */
  invalid: boolean;
  problems: string[];
  seconds: number;
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/** The steps' times after SIGTERM, and each one's time after the step before it. */
export function switchoverSteps(atMs: Partial<Record<SwitchoverStep, number>>): Partial<Record<SwitchoverStep, number>> {
  const steps: Partial<Record<SwitchoverStep, number>> = {};
  let before = 0;
  for (const [step] of SWITCHOVER_STEPS) {
    const at = atMs[step];
    if (at === undefined) continue;
    steps[step] = round1(at - before);
    before = at;
  }
  return steps;
}

/**
 * The workload's client and the pair's app. The client runs at the cluster's priority (the
 * replicas and the switch raise theirs, src/net/priority.ts): a client left at nice 0 stands
 * for one sharing its machine with the cluster, and is the process starved on a busy machine
 * exactly while the replicas work hardest, at the handover.
 */
function workload(load: SwitchoverLoad, bytes: number, clientNice: number): { app: 'bulk' | 'counter'; client: ClientShape } {
  const common = { connections: 1, progressMs: 0, timeoutMs: 60_000, readGapsMs: READ_GAP_MS, nice: clientNice };
  return load === 'bulk' ? { app: 'bulk', client: { ...common, uploadBytes: bytes } } : { app: 'counter', client: { ...common, requests: `${LIGHT_REQUESTS}-${LIGHT_REQUESTS}`, thinkMs: LIGHT_THINK_MS } };
}

/** Light load: one connection, a request every 1-2 ms plus its round trip (about a second of requests). */
const LIGHT_REQUESTS = 400;
const LIGHT_THINK_MS = '1-2';

export async function switchoverTrial(bytes: number, afterMs: number, pair: PairSettings, load: SwitchoverLoad = 'bulk', clientNice = DEFAULT_NICE): Promise<SwitchoverTrial> {
  const startedAt = performance.now();
  const problems: string[] = [];
  let client: Child | undefined;
  let invalid = false;
  // Set when the trial begins stopping the pair: the replica that exits first closes the log
  // channel and the other suspects it at once. That is the stop, not a failover in the trial.
  let stopping = false;
  let liveReason: string | null = null;
  let termAtMs: number | undefined;
  let liveAtMs: number | undefined;
  const abs: Partial<Record<SwitchoverStep, number>> = {};
  let queuedBytes: number | null = null;
  let inFlight: number | null = null;
  let behind: number | null = null;
  let persistMs: number | null = null;
  const at = (step: SwitchoverStep, v: unknown) => {
    if (termAtMs !== undefined && typeof v === 'number') abs[step] = round1(v - termAtMs);
  };
  const onEvent = (label: string, e: ChildEvent) => {
    if (label === 'arbiter' && e.event === 'granted' && e.winner === 'b' && termAtMs !== undefined) persistMs = round1(e.persistUs / 1000);
    if (label !== 'replica b' && label !== 'replica a') return;
    if (e.event === 'suspect' && !stopping) invalid = true;
    if (termAtMs === undefined) return;
    if (label === 'replica a' && e.event === 'handover') {
      at('asked', e.askedAtMs);
      at('handover', e.atMs);
      queuedBytes = e.queuedBytes ?? null;
      inFlight = e.lastIndex - e.r;
    }
    if (label !== 'replica b') return;
    if (e.event === 'handover-received') {
      at('received', e.atMs);
      behind = e.behind;
    }
    if (e.event === 'won') {
      at('applied', e.askedAtMs);
      at('sent', e.sentAtMs);
      at('granted', e.answeredAtMs);
    }
    if (e.event === 'live') {
      at('live', e.atMs);
      liveAtMs = e.atMs;
      liveReason = e.reason;
    }
  };
  // An event line's time is when the drain that emitted it ended: the backup's request to the
  // arbiter (applied) can come before the line that says the handover arrived.
  const received = () => {
    if (abs.received !== undefined && abs.applied !== undefined && abs.applied < abs.received) abs.received = abs.applied;
  };
  const w = workload(load, bytes, clientNice);
  const r = await startCluster(w.app, bytes, true, pair, onEvent);
  let pauseMs: number | null = null;
  let gapMs: [number, number] | null = null;
  let beforeMs: number | null = null;
  let primaryExit: number | null = null;
  let clientOk = false;
  try {
    client = await r.cluster.startClient('client', w.client);
    const finishedEarly = await Promise.race([new Promise<boolean>((res) => setTimeout(() => res(false), afterMs)), client.exited.then(() => true)]);
    if (finishedEarly) problems.push(`the transfer finished before the switchover at ${afterMs} ms`);
    else if (invalid) problems.push('a false failover split the pair before the switchover');
    else {
      termAtMs = wallClockMs();
      r.primary.signal('SIGTERM');
      primaryExit = (await r.primary.exited).code;
    }
    const result = await client.waitFor((e) => e.event === 'result', 90_000, 'its result line');
    clientOk = result.ok === true;
    if ('problems' in result) for (const p of result.problems) problems.push(`client: ${p}`);
    if (termAtMs !== undefined) {
      const gaps = readGapsOf(result);
      if (typeof gaps === 'string') problems.push(gaps);
      else if (liveAtMs === undefined) problems.push('the backup never said it was live');
      else {
        const seen = pauseAcross(gaps, termAtMs, liveAtMs);
        if (seen.pauseMs === null) problems.push('the client read nothing after the backup went live');
        pauseMs = seen.pauseMs === null ? null : round1(seen.pauseMs);
        gapMs = seen.gap === null ? null : [round1(seen.gap[0] - termAtMs), round1(seen.gap[1] - termAtMs)];
        beforeMs = seen.beforeMs === null ? null : round1(seen.beforeMs);
        if (seen.resumedAtMs !== null) at('resumed', seen.resumedAtMs);
      }
    }
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    stopping = true;
    await stopCluster(r.cluster);
  }
  if (primaryExit !== null && primaryExit !== 0) problems.push(`the old primary exited ${primaryExit}`);
  received();
  return { pauseMs, gapMs, beforeMs, primaryExit, liveReason, atMs: abs, stepMs: switchoverSteps(abs), queuedBytes, inFlight, behind, persistMs, broken: !clientOk, invalid, problems, seconds: (performance.now() - startedAt) / 1000 };
}

/** What the bench run hands a group (bench-run.ts's BenchContext, the fields used here). */
export interface SwitchoverBenchContext {
  o: { quick: boolean; trials: number; trialsGiven: boolean; switchoverLoad?: SwitchoverLoad };
  say: (s: string) => void;
  add: (f: { key: string; what: string; value: number; unit: string; command: string }) => void;
  cmd: (group: 'switchover', more?: string) => string;
  details: Record<string, unknown>;
  interrupted: string | undefined;
}

/** Default trials: each starts a pair, so fewer than failover's. */
const DEFAULT_TRIALS = 10;

/**
 * The pair of the trials: a planned switchover does not wait for D, so D is set long (a
 * busy machine starves a replica for longer than 50 ms, and a false failover before the
 * SIGTERM leaves nothing to measure).
 */
export const SWITCHOVER_PAIR: PairSettings = { heartbeatMs: 10, failureTimeoutMs: 300 };

/** One trial's line: the pause, then each step's share of it. */
function describeTrial(t: SwitchoverTrial): string {
  if (t.invalid) return 'a replica suspected its peer (not counted)';
  const steps = SWITCHOVER_STEPS.filter(([k]) => t.stepMs[k] !== undefined).map(([k]) => `${k} +${t.stepMs[k]}`);
  const extra = [t.inFlight !== null ? `${t.inFlight} entries unacknowledged at handover` : '', t.queuedBytes !== null ? `${t.queuedBytes} B queued in its socket` : '', t.persistMs !== null ? `fsync'ed grant ${t.persistMs} ms` : ''].filter((x) => x !== '');
  const gap = t.gapMs !== null ? ` (${t.gapMs[0]} to ${t.gapMs[1]} ms after SIGTERM)` : '';
  const before = t.beforeMs !== null ? `; longest gap just before SIGTERM ${t.beforeMs.toFixed(1)} ms` : '';
  return `client pause ${t.pauseMs === null ? 'never ended' : `${t.pauseMs.toFixed(1)} ms${gap}`}${before} (steps after SIGTERM: ${steps.join(', ')}${extra.length > 0 ? `; ${extra.join(', ')}` : ''})`;
}

/** The median of each step over the measured trials (where it was seen). */
export function medianSteps(trials: readonly SwitchoverTrial[]): Partial<Record<SwitchoverStep, number>> {
  const out: Partial<Record<SwitchoverStep, number>> = {};
  for (const [k] of SWITCHOVER_STEPS) {
    const v = trials.map((t) => t.stepMs[k]).filter((x): x is number => x !== undefined);
    if (v.length > 0) out[k] = round1(percentile(v, 50));
  }
  return out;
}

export async function benchSwitchover(c: SwitchoverBenchContext, pair: PairSettings = SWITCHOVER_PAIR): Promise<void> {
  const { o, say, add, cmd, details } = c;
  if (o.quick) {
    say('switchover: not in --quick (every trial starts a pair); run `ftcp bench --only switchover`');
    return;
  }
  const load = o.switchoverLoad ?? 'bulk';
  const trials = o.trialsGiven ? o.trials : DEFAULT_TRIALS;
  const bytes = 5_000_000;
  const afterMs = 250;
  const what = load === 'bulk' ? `\`ftcp client --app bulk\` (1 connection, ${bytes} B each way, every byte checked)` : `\`ftcp client --app counter\` (1 connection, ${LIGHT_REQUESTS} requests ${LIGHT_THINK_MS} ms apart, every answer checked)`;
  say(`switchover: ${trials} trial(s), ${load} load, each a fresh pair (H ${pair.heartbeatMs} ms, D ${pair.failureTimeoutMs} ms) and ${what}; the client at nice ${DEFAULT_NICE} like the cluster; SIGTERM of the primary ${afterMs} ms into the load (it hands over to the backup); figure: the longest gap in the client's reads (stamped by the client) from SIGTERM to its first read after the backup went live`);
  const times: number[] = [];
  const trialDetails: unknown[] = [];
  const measured: SwitchoverTrial[] = [];
  let broken = 0;
  for (let i = 0, valid = 0; valid < trials && i < trials + Math.ceil(trials / 2); i++) {
    if (c.interrupted !== undefined) break;
    let t: SwitchoverTrial;
    try {
      t = await switchoverTrial(bytes, afterMs, pair, load);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      trialDetails.push({ error: message });
      say(`    trial ${i + 1}: could not run: ${message}`);
      continue;
    }
    trialDetails.push(t);
    if (!t.invalid) valid++;
    if (!t.invalid && t.pauseMs !== null && t.liveReason === 'switchover') {
      times.push(t.pauseMs);
      measured.push(t);
    }
    if (t.broken) broken++;
    say(`    trial ${i + 1} (${t.seconds.toFixed(1)} s): ${describeTrial(t)}${t.broken ? ', BROKEN stream' : ''}${t.problems.length > 0 ? `; ${t.problems[0]}` : ''}`);
  }
  const stepsP50Ms = medianSteps(measured);
  if (measured.length > 0) say(`    median of each step (ms after the step before): ${SWITCHOVER_STEPS.filter(([k]) => stepsP50Ms[k] !== undefined).map(([k, text]) => `${k} ${stepsP50Ms[k]} (${text})`).join('; ')}`);
  const before = measured.map((t) => t.beforeMs).filter((x): x is number => x !== null);
  const beforeP50Ms = before.length > 0 ? round1(percentile(before, 50)) : null;
  if (beforeP50Ms !== null) say(`    the client's own longest gap between reads in as long a time just before SIGTERM (no switchover under way), median: ${beforeP50Ms} ms`);
  details['switchover'] = { load, bytes: load === 'bulk' ? bytes : null, afterMs, readGapMs: READ_GAP_MS, steps: Object.fromEntries(SWITCHOVER_STEPS), stepsP50Ms, beforeP50Ms, trials: trialDetails };
  const command = cmd('switchover', `${o.trialsGiven ? ` --trials ${trials}` : ''}${load !== 'bulk' ? ` --switchover-load ${load}` : ''}`);
  const key = load === 'bulk' ? 'switchover' : `switchover.${load}`;
  add({ key: `${key}.p50Ms`, what: `the client's longest gap between reads across a switchover, p50 (${load} load)`, value: percentile(times, 50), unit: 'ms', command });
  add({ key: `${key}.p99Ms`, what: `the client's longest gap between reads across a switchover, p99 (${load} load)`, value: percentile(times, 99), unit: 'ms', command });
  add({ key: `${key}.trials`, what: 'trials measured', value: times.length, unit: '', command });
  add({ key: `${key}.broken`, what: 'trials whose stream was not intact', value: broken, unit: '', command });
}
