/**
 * The close-time failover campaign: the primary killed at every instant around a
 * connection's close, and the client link checked for RST segments.
 *
 * A go-live re-emits the shadowed outputs above r and retransmits each flow's first
 * unacknowledged segment (src/replica/go-live.ts). Around a close these can reach a client
 * that has finished the connection (TIME-WAIT, or CLOSED after its LAST-ACK), and TCP
 * answers a segment for a connection that no longer exists with a RST (RFC 9293
 * §3.10.7.1). A RST is not a broken stream, but a kernel client counts it (the lab's
 * kernel-client runs fail on any RST on the TUN device), so none may cross.
 *
 * One case is a close order, an app and a seed, on a clean client link (delay only: no
 * loss, duplication, reordering or corruption, so any RST is the failover's):
 *   client-first  the built-in app; the client closes a think time after its last answer
 *   server-first  the simulator's fake upstream app closes after the last answer; the
 *                 client closes on its EOF
 *   simultaneous  the same upstream, but the client closes a think time after its last
 *                 request without waiting for the answer: the two FINs cross
 * A run without a kill finds the first FIN on the client link; then the primary is killed
 * at each of its kill points (ClusterOptions.crashAtPoint) from a little before that FIN
 * until well after the last one, one run each. Every run must go live, keep every stream
 * intact, and see no RST on the client link, either way.
 *
 * A case with a `hold` adds the live demo's in-flight kill moment (src/lab/demo/in-flight.ts)
 * at the close: the backup's acknowledgements are held (FaultPlan.logHold) from `leadMs`
 * before the probe's first FIN for `ms`, longer than the primary's tail loss probe timeout
 * (RFC 8985 §7.2, 2·SRTT + 200 ms with one segment in flight, never after the RTO) and, at
 * the longer holds, its retransmission timer (RFC 6298 (5.4)): the probe or the
 * retransmission of the FIN or of the last data is made while the original still waits on
 * the output rule, and both are released together when the hold ends. One run holds and
 * kills nothing (a pair that merely stalled must not draw a RST either); then, as the demo
 * does, the primary's frames to the backup are lost from the hold's end, and the primary is
 * killed at each kill point from there until well after the close. The failure timeout is
 * raised above the hold, so the hold itself is not a failover.
 */
import type { AppName } from '../proxy/app.js';
import { runCluster, type ClusterOptions, type ClusterResult } from './cluster.js';

export const CLOSE_ORDERS = ['client-first', 'server-first', 'simultaneous'] as const;
export type CloseOrder = (typeof CLOSE_ORDERS)[number];

/** The demo's hold of the backup's acknowledgements, placed at the close. */
export interface CloseHold {
  /** The hold starts this long before the probe's first FIN (the FIN, and with a longer lead the last answer, is made during it). */
  leadMs: number;
  /** How long the acknowledgements are held. */
  ms: number;
}

export interface CloseCase {
  order: CloseOrder;
  /** The load's protocol; server-first and simultaneous need one the fake upstream answers line by line (counter, kv). */
  app: Extract<AppName, 'counter' | 'echo' | 'kv'>;
  seed: number;
  hold?: CloseHold;
}

export interface CloseCaseResult {
  case: CloseCase;
  /** Runs with a kill (the probe not counted). */
  runs: number;
  /** The first FIN of the probe, and the span of kill times covered, virtual µs. */
  firstFinUs: number | null;
  /** In the run without a kill, each side sent its FIN before the other's reached it (a simultaneous close, RFC 9293 §3.6 Figure 13). */
  finsCrossed: boolean | null;
  killsFromUs: number | null;
  killsToUs: number | null;
  resets: { fromClient: number; toClient: number };
  reemitted: number;
  /** One line per failed run, with what reproduces it. */
  failures: string[];
}

/** Kills start this long before the probe's first FIN (a server's FIN is made, and held, before it is on the link). */
export const CLOSE_LEAD_US = 10_000;
/** ... and end this long after its last FIN (the last ACK arrives, r reaches the backup on a heartbeat). */
export const CLOSE_TAIL_US = 40_000;
/** At most this many kill points per case. */
export const CLOSE_MAX_POINTS = 200;
const REQUESTS = 3;
const LINK_DELAY_US = 5_000;

/** The cluster options of a case (no kill, no hold: the hold is placed from the probe). */
export function closeCaseOptions(c: CloseCase): ClusterOptions {
  if (c.order !== 'client-first' && c.app === 'echo') throw new RangeError(`${c.order} needs a line app (counter, kv): the fake upstream counts an echo answer per segment`);
  const o: ClusterOptions = {
    seed: c.seed,
    app: c.app,
    connections: 1,
    capture: 'none',
    faults: { clientLink: { delayUs: LINK_DELAY_US, loss: 0, duplicate: 0, reorder: 0, reorderDelayUs: 1_000, corrupt: 0 }, arbiterDelayUs: 500 },
    load: { requests: [REQUESTS, REQUESTS], ...(c.order === 'simultaneous' ? { closeAfterLastRequest: true } : {}) },
    maxUs: 5_000_000,
  };
  if (c.hold !== undefined) {
    // A hold must not be a failover of its own: the failure timeout D outlasts it. And the
    // seed's own log partition (planFaults) would fall across it: a hold case has none.
    o.failureTimeoutMs = 2 * c.hold.ms;
    o.faults = { ...o.faults, logPartition: undefined };
  }
  if (c.order !== 'client-first') o.upstream = { app: { kind: c.app, closeAfter: REQUESTS } };
  return o;
}

/** The command-line-free description of one run, enough to repeat it with runCluster. */
function describeRun(o: ClusterOptions): string {
  return `runCluster(${JSON.stringify({ ...o, capture: undefined })})`;
}

function runProblems(r: ClusterResult, failovers: 0 | 1): string[] {
  const out = [...r.problems];
  const { fromClient, toClient } = r.clientLink.resets;
  if (fromClient + toClient > 0) out.push(`RST on the client link: ${fromClient} from the client, ${toClient} to it`);
  if (r.streams.broken > 0 || r.streams.intact !== 1) out.push(`streams: ${r.streams.intact} intact, ${r.streams.broken} broken`);
  if (failovers === 1 && (r.failovers.length !== 1 || r.failovers[0]!.liveMs === null)) out.push(`expected one failover that went live, saw ${r.failovers.length}`);
  if (failovers === 0 && r.failovers.length > 0) out.push(`expected no failover, saw ${r.failovers.length}`);
  return out;
}

/** Runs one case: the probe, then one run per kill point. */
export function runCloseCase(c: CloseCase): CloseCaseResult {
  const base = closeCaseOptions(c);
  const result: CloseCaseResult = { case: c, runs: 0, firstFinUs: null, finsCrossed: null, killsFromUs: null, killsToUs: null, resets: { fromClient: 0, toClient: 0 }, reemitted: 0, failures: [] };
  const probe = runCluster({ ...base, noCrash: true });
  const fins = probe.clientLink.fins.map((f) => f.timeUs);
  if (!probe.ok || fins.length === 0) {
    result.failures.push(`the run without a kill ${probe.ok ? 'closed no connection' : `failed: ${probe.problems.slice(0, 2).join(' | ')}`}: ${describeRun({ ...base, noCrash: true })}`);
    return result;
  }
  const firstFin = Math.min(...fins);
  // The client's FIN is seen as it leaves, the server's as it arrives, one link delay after it left.
  const firstOf = (fromClient: boolean) => Math.min(...probe.clientLink.fins.filter((f) => f.fromClient === fromClient).map((f) => f.timeUs));
  const [clientFin, serverFinArrives] = [firstOf(true), firstOf(false)];
  result.finsCrossed = clientFin < serverFinArrives && serverFinArrives - LINK_DELAY_US < clientFin + LINK_DELAY_US;
  result.firstFinUs = firstFin;
  const closeUs = Math.max(...fins) - firstFin;
  if (c.hold === undefined) {
    killSweep(result, base, Math.max(1, firstFin - CLOSE_LEAD_US), firstFin + closeUs + CLOSE_TAIL_US);
    return result;
  }
  // The hold, with no kill: the pair merely stalls.
  const fromUs = Math.max(1, firstFin - c.hold.leadMs * 1000);
  const toUs = fromUs + c.hold.ms * 1000;
  const held: ClusterOptions = { ...base, noCrash: true, faults: { ...base.faults, logHold: { fromUs, toUs } } };
  const still = runCluster(held);
  addResets(result, still);
  const problems = runProblems(still, 0);
  if (problems.length > 0) result.failures.push(`the hold alone: ${problems.slice(0, 3).join(' | ')}: ${describeRun(held)}`);
  // The demo's moment: then the primary's frames to the backup are lost, and the kill.
  const lost: ClusterOptions = { ...base, faults: { ...base.faults, logHold: { fromUs, toUs, thenLose: true } } };
  killSweep(result, lost, toUs, toUs + Math.max(0, firstFin + closeUs - fromUs) + CLOSE_TAIL_US);
  return result;
}

function addResets(result: CloseCaseResult, r: ClusterResult): void {
  result.resets.fromClient += r.clientLink.resets.fromClient;
  result.resets.toClient += r.clientLink.resets.toClient;
}

/** One run per kill point of the primary from `crashAtUs` until a kill falls after `endUs`. */
function killSweep(result: CloseCaseResult, base: ClusterOptions, crashAtUs: number, endUs: number): void {
  for (let point = 0; point < CLOSE_MAX_POINTS; point++) {
    const options: ClusterOptions = { ...base, faults: { ...base.faults, crashAtUs }, crashAtPoint: point };
    const r = runCluster(options);
    const killUs = r.failovers[0]?.killUs;
    if (killUs === undefined) {
      result.failures.push(`kill point ${point}: the primary was never killed: ${describeRun(options)}`);
      break;
    }
    result.runs++;
    result.killsFromUs ??= killUs;
    result.killsToUs = killUs;
    addResets(result, r);
    result.reemitted += r.reemitted.segments;
    const problems = runProblems(r, 1);
    if (problems.length > 0) result.failures.push(`kill point ${point} (at ${killUs} µs): ${problems.slice(0, 3).join(' | ')}: ${describeRun(options)}`);
    if (killUs > endUs) break;
  }
}
