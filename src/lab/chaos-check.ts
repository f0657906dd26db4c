/**
 * The verdicts of a `ftcp chaos` trial, as pure functions of what the trial
 * recorded: captured packets and the event lines of the processes. Kept apart from the
 * runner (chaos-trial.ts) so a unit test can feed them doctored data.
 *
 * The checks themselves are src/replica/run-checks.ts (shared with the simulator); here
 * they are fed from the processes' event lines. fencedEmissions() (what a paused primary
 * put on the wire after its SIGCONT) is run-checks.ts's.
 * - epochConflicts(): epochs in which two replicas claimed the service (their `announce`
 *   lines) or emitted client packets (their wire captures): split brain.
 * - arbiterDoubleGrants(): epochs the arbiter granted twice, or answered with two winners.
 * - streamVerdict(): the client's byte-for-byte result (every byte it read), and with bulk
 *   the server app's digest of every byte uploaded, as broken streams.
 * - isFalseFailover(): a replica event that says the pair split before the trial's fault.
 */
import type { ChildEvent, ClientResult, EventOf } from '../net/events.js';
import { claimsByEpoch, splitBrainEpochs, streamVerdict as streamVerdictOf, type ClientStreams, type EpochClaims } from '../replica/run-checks.js';
import { checkBulkUploads } from './live-cluster.js';

/** Epochs in which two or more replicas announced the service address (`announce` lines), or emitted client packets. */
export function epochConflicts(announces: ReadonlyMap<string, readonly ChildEvent[]>, emittedEpochs: ReadonlyMap<string, ReadonlySet<number>>): number[] {
  const claims: EpochClaims = claimsByEpoch([...announces].map(([who, events]) => [who, events.filter((e) => e.event === 'announce').map((e) => e.epoch)] as const));
  return splitBrainEpochs(claimsByEpoch(emittedEpochs, claims)).sort((x, y) => x - y);
}

/** From the arbiter's event lines: epochs granted more than once, or answered with a winner other than the one granted. */
export function arbiterDoubleGrants(events: readonly ChildEvent[]): number[] {
  const winners = new Map<string, Set<string>>();
  const grants = new Map<string, number>();
  const bad = new Set<number>();
  for (const e of events) {
    if (e.event !== 'granted' && e.event !== 'answered') continue;
    const k = `${e.service}#${e.epoch}`;
    let w = winners.get(k);
    if (w === undefined) winners.set(k, (w = new Set()));
    w.add(e.winner);
    if (e.event === 'granted') grants.set(k, (grants.get(k) ?? 0) + 1);
    if (w.size > 1 || (grants.get(k) ?? 0) > 1) bad.add(e.epoch);
  }
  return [...bad].sort((x, y) => x - y);
}

/**
 * Broken streams from the load client's result (it checked every byte it read, and counts
 * resets) and, when `uploads` (bulk), the surviving replica's `exit` line, whose app
 * digested every byte uploaded. No result at all breaks every stream.
 */
export function streamVerdict(result: ClientStreams & Pick<ClientResult, 'uploads'> | undefined, survivorExit: EventOf<'exit'> | undefined, uploads: boolean, connections: number): { streams: { intact: number; broken: number }; resets: number; problems: string[] } {
  return streamVerdictOf(result, result !== undefined && uploads ? checkBulkUploads(result, survivorExit) : [], connections);
}

/**
 * A replica that was fenced, stopped or went live before the trial's fault: a failure
 * detector fired where no fault was (a busy machine). Not once the trial has begun stopping
 * the pair: the replica that exits first closes the log channel, and the other suspects it
 * at once (and may win and go live): that is the stop, not a false failover.
 */
export function isFalseFailover(event: string, faultBegun: boolean, stopping: boolean): boolean {
  return (event === 'fenced' || event === 'stopped' || event === 'live') && !faultBegun && !stopping;
}
