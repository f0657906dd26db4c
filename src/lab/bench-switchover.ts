/**
 * `ftcp bench --only switchover`: the pause a client sees across a planned switchover
 * (SIGTERM of a primary that has a backup, which hands the service over at once), over
 * fresh pairs, as failover.* measures a kill -9 (bench-cluster.ts failoverTrial).
 *
 * A trial: a fresh pair and `ftcp client --app bulk` (one connection, bytes both ways,
 * every byte checked); SIGTERM of the primary `afterMs` into the load. When the backup
 * says it is live the client is told (SIGUSR1) to report its next byte read: the figure
 * is SIGTERM -> that byte. A trial in which either replica suspected the other (a false
 * failover on a busy machine, or a handover that fell back to the failure timeout) is
 * counted apart, not measured.
 */
import { wallClockMs } from '../net/clock.js';
import type { Child, ChildEvent } from './children.js';
import { startCluster, stopCluster, type PairSettings } from './bench-cluster.js';
import { percentile } from '../net/log-rtt.js';

export interface SwitchoverTrial {
  /** SIGTERM of the primary -> the client's first byte read after the backup went live; null if never. */
  pauseMs: number | null;
  /** The old primary's exit code (0 expected). */
  primaryExit: number | null;
  /** The backup's go-live reason ('switchover' expected). */
  liveReason: string | null;
  /** Where the pause went: each step's wall-clock time after SIGTERM (the replicas' own event times), ms. */
  stagesMs: Partial<Record<'handover' | 'taking-over' | 'won' | 'live', number>>;
  broken: boolean;
  /** A replica suspected its peer: no measurement of a planned switchover. */
  invalid: boolean;
  problems: string[];
  seconds: number;
}

export async function switchoverTrial(bytes: number, afterMs: number, pair: PairSettings): Promise<SwitchoverTrial> {
  const startedAt = performance.now();
  const problems: string[] = [];
  let client: Child | undefined;
  let invalid = false;
  let liveReason: string | null = null;
  let atMs: number | undefined;
  const stagesMs: SwitchoverTrial['stagesMs'] = {};
  const onEvent = (label: string, e: ChildEvent) => {
    if (label !== 'replica b' && label !== 'replica a') return;
    if (atMs !== undefined && (e.event === 'handover' || e.event === 'taking-over' || e.event === 'won' || e.event === 'live') && typeof e['atMs'] === 'number') stagesMs[e.event] = Math.round((e['atMs'] - atMs) * 10) / 10;
    if (e.event === 'suspect') invalid = true;
    if (label === 'replica b' && e.event === 'live') {
      liveReason = String(e['reason']);
      client?.signal('SIGUSR1');
    }
  };
  const r = await startCluster('bulk', bytes, true, pair, onEvent);
  let pauseMs: number | null = null;
  let primaryExit: number | null = null;
  let clientOk = false;
  try {
    client = await r.cluster.startClient('client', { connections: 1, uploadBytes: bytes, progressMs: 0, timeoutMs: 60_000 });
    const finishedEarly = await Promise.race([new Promise<boolean>((res) => setTimeout(() => res(false), afterMs)), client.exited.then(() => true)]);
    if (finishedEarly) problems.push(`the transfer finished before the switchover at ${afterMs} ms`);
    else if (invalid) problems.push('a false failover split the pair before the switchover');
    else {
      atMs = wallClockMs();
      r.primary.signal('SIGTERM');
      const resumed = await client.waitFor((e) => e.event === 'resumed', 10_000, 'its first byte after the switchover').catch((error: unknown) => {
        problems.push(error instanceof Error ? error.message : String(error));
        return undefined;
      });
      if (resumed !== undefined) pauseMs = resumed.atMs - (atMs ?? resumed.atMs);
      primaryExit = (await r.primary.exited).code;
    }
    const result = await client.waitFor((e) => e.event === 'result', 90_000, 'its result line');
    clientOk = result.ok === true;
    if ('problems' in result) for (const p of result.problems) problems.push(`client: ${p}`);
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    await stopCluster(r.cluster);
  }
  if (primaryExit !== null && primaryExit !== 0) problems.push(`the old primary exited ${primaryExit}`);
  return { pauseMs, primaryExit, liveReason, stagesMs, broken: !clientOk, invalid, problems, seconds: (performance.now() - startedAt) / 1000 };
}

/** What the bench run hands a group (bench-run.ts's BenchContext, the fields used here). */
export interface SwitchoverBenchContext {
  o: { quick: boolean; trials: number; trialsGiven: boolean };
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

export async function benchSwitchover(c: SwitchoverBenchContext, pair: PairSettings = SWITCHOVER_PAIR): Promise<void> {
  const { o, say, add, cmd, details } = c;
  if (o.quick) {
    say('switchover: not in --quick (every trial starts a pair); run `ftcp bench --only switchover`');
    return;
  }
  const trials = o.trialsGiven ? o.trials : DEFAULT_TRIALS;
  const bytes = 5_000_000;
  const afterMs = 250;
  say(`switchover: ${trials} trial(s), each a fresh pair (H ${pair.heartbeatMs} ms, D ${pair.failureTimeoutMs} ms) and \`ftcp client --app bulk\` (1 connection, ${bytes} B each way, every byte checked); SIGTERM of the primary ${afterMs} ms into the load (it hands over to the backup); figure: SIGTERM -> the client's first byte read after the backup went live`);
  const times: number[] = [];
  const trialDetails: unknown[] = [];
  let broken = 0;
  for (let i = 0, valid = 0; valid < trials && i < trials + Math.ceil(trials / 2); i++) {
    if (c.interrupted !== undefined) break;
    let t: SwitchoverTrial;
    try {
      t = await switchoverTrial(bytes, afterMs, pair);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      trialDetails.push({ error: message });
      say(`    trial ${i + 1}: could not run: ${message}`);
      continue;
    }
    trialDetails.push(t);
    if (!t.invalid) valid++;
    if (!t.invalid && t.pauseMs !== null && t.liveReason === 'switchover') times.push(t.pauseMs);
    if (t.broken) broken++;
    say(`    trial ${i + 1} (${t.seconds.toFixed(1)} s): ${t.invalid ? 'a replica suspected its peer (not counted)' : `resumed ${t.pauseMs === null ? 'never' : `${t.pauseMs.toFixed(1)} ms`} after SIGTERM (${Object.entries(t.stagesMs).map(([k, v]) => `${k} +${v}`).join(', ')})`}${t.broken ? ', BROKEN stream' : ''}${t.problems.length > 0 ? `; ${t.problems[0]}` : ''}`);
  }
  details['switchover'] = { bytes, afterMs, trials: trialDetails };
  const command = cmd('switchover', o.trialsGiven ? ` --trials ${trials}` : '');
  add({ key: 'switchover.p50Ms', what: 'SIGTERM of the primary -> client next byte, p50', value: percentile(times, 50), unit: 'ms', command });
  add({ key: 'switchover.p99Ms', what: 'SIGTERM of the primary -> client next byte, p99', value: percentile(times, 99), unit: 'ms', command });
  add({ key: 'switchover.trials', what: 'trials measured', value: times.length, unit: '', command });
  add({ key: 'switchover.broken', what: 'trials whose stream was not intact', value: broken, unit: '', command });
}
