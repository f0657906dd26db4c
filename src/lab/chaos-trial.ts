/**
 * One trial of `ftcp chaos`: a replicated pair of real processes under load in
 * both directions, one fault at a moment drawn from the trial's seed, then the verdicts
 * (chaos-check.ts) from the client's result, the processes' event lines and the captures.
 *
 * Fault kinds:
 *   kill-primary      kill -9 of the primary; the backup must go live
 *   kill-backup       kill -9 of the backup; the primary must win the test-and-set, carry on alone
 *   kill-backup-join  as kill-backup, then a new backup c joins the lone primary (state
 *                     transfer) and the primary is killed in turn; c must go live
 *   pause-backup      SIGSTOP of the backup until the primary has won the test-and-set and
 *                     serves alone, then SIGCONT: the old backup must lose the test-and-set,
 *                     stop, and put nothing on the wire
 *   pause-race        (not drawn by default) SIGSTOP of the primary for 50..200 % of D, then
 *                     SIGCONT whatever happened: it races the backup's test-and-set; either
 *                     may win, the loser must step down, and a fenced old primary is judged
 *                     as in pause-primary
 *   pause-primary     SIGSTOP of the primary until the backup has gone live and holds the
 *                     service address, then SIGCONT: the old primary must lose the
 *                     test-and-set, step down (`lost`, `fenced`, exit), and everything it
 *                     put on the wire after the SIGCONT (its own capture, and what the switch
 *                     refused from its UDP endpoint) must be what the new primary also sent
 *
 * Every trial has its own processes (arbiter, switch, replicas, client): prepare() starts the
 * network and the pair, run() the load and the fault, so that an orchestrator can prepare
 * the next trial while this one finishes.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppName } from '../proxy/app.js';
import { readPcapng } from '../pcap/reader.js';
import { deriveSeed } from '../tcp/seed.js';
import { Prng } from '../tcp/prng.js';
import { arbiterDoubleGrants, epochConflicts, isFalseFailover, streamVerdict } from './chaos-check.js';
import { fencedEmissions } from '../replica/run-checks.js';
import type { Child } from './children.js';
import { isReplicaEvent, replicaEvent, type ChildEvent, type EventOf } from '../net/events.js';
import { wallClockMs } from '../net/clock.js';
import { compareReemitted, DEMO_MTU, LiveCluster, readWireView, type LiveClusterOptions, type WireView } from './live-cluster.js';
import { LoadClient, type LoadClientResult } from './load-client.js';
import { TcpRelay } from './tcp-relay.js';
import { DEFAULT_SERVICE_ADDRESS } from '../net/switch.js';
import { parseIpv4Addr } from '../wire/addr.js';

export const CHAOS_FAULTS = ['kill-primary', 'kill-backup', 'kill-backup-join', 'pause-primary', 'pause-backup', 'pause-race'] as const;
export type ChaosFault = (typeof CHAOS_FAULTS)[number];
/** What `ftcp chaos` draws from unless --faults says otherwise (the runs in docs/reliability.md). */
export const DEFAULT_FAULTS: readonly ChaosFault[] = ['kill-primary', 'kill-backup', 'kill-backup-join', 'pause-primary', 'pause-backup'];
export const CHAOS_APPS = ['bulk', 'echo', 'counter', 'kv'] as const satisfies readonly AppName[];
export type ChaosApp = (typeof CHAOS_APPS)[number];

export interface ChaosOptions {
  /** The run seed: every trial's seed, fault and moments derive from it. */
  seed: number;
  app: ChaosApp;
  connections: number;
  /** bulk: bytes each way per connection (kill-backup-join: three times as many, it lasts longer). */
  bytes: number;
  /** The fault kinds drawn from. */
  faults: readonly ChaosFault[];
  /** The fault comes 0..momentMaxMs after the client started. */
  momentMaxMs: number;
  heartbeatMs: number;
  failureTimeoutMs: number;
  /** Dmax of the replicas' failure detectors; none: D. */
  failureTimeoutMaxMs?: number;
  /** S, the detectors' start-up allowance; none: the replica's default. */
  failureTimeoutStartMs?: number;
  /**
   * The replicas' and the client's link MTU (MSS = mtu - 40). Chaos runs 1500 by default:
   * many segments in flight at each fault, and a load that lasts long enough for a join and
   * a second kill (with 64 KB segments 900 KB is gone in tens of milliseconds).
   */
  mtu?: number;
  /** Where each trial's run directory goes (trial-N). */
  dir: string;
}

export interface TrialPlan {
  trial: number;
  seed: number;
  fault: ChaosFault;
  momentMs: number;
  /** kill-backup-join: the kill of the primary, this long after c joined. */
  secondMomentMs: number;
  /** pause-primary, pause-backup: the SIGCONT, this long after the other replica holds the service address in its new epoch. */
  pauseExtraMs: number;
  /** pause-race: the SIGSTOP lasts this percentage of D (50..200). */
  racePausePercent: number;
}

export type FailureKind = 'broken' | 'splitBrain' | 'nonIdentical' | 'liveness';

export interface TrialResult {
  plan: TrialPlan;
  ok: boolean;
  /** The fault came while the load ran (false: the load had finished before its moment). */
  faulted: boolean;
  /** null when the trial failed before the load had a result (a liveness failure). */
  streams: { intact: number; broken: number } | null;
  resets: number;
  /** A failure detector fired where no fault was (see the notes). */
  falseFailover: boolean;
  splitBrainEpochs: number[];
  doubleGrants: number[];
  failover: { by: string | null; epoch: number | null; afterMs: number | null };
  reemitted: { segments: number; sentByPrimary: number; identicalToPrimary: number } | null;
  /** pause-primary, pause-backup: what the resumed replica did. */
  paused: { who: string; steppedDown: boolean; exitCode: number | null; pausedMs: number; segments: number; noData: number; identical: number; nonIdentical: number } | null;
  failures: Array<{ kind: FailureKind; text: string }>;
  notes: string[];
  durationMs: number;
  dir: string;
}

/** The trial's plan, from the run seed and its number alone. */
export function planTrial(o: Pick<ChaosOptions, 'seed' | 'faults' | 'momentMaxMs'>, trial: number): TrialPlan {
  const seed = deriveSeed(o.seed, 'chaos-trial', trial);
  const prng = new Prng(seed);
  return {
    trial,
    seed,
    fault: o.faults[prng.below(o.faults.length)]!,
    momentMs: prng.below(o.momentMaxMs + 1),
    secondMomentMs: prng.below(o.momentMaxMs + 1),
    pauseExtraMs: prng.below(301),
    racePausePercent: 50 + prng.below(151),
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** True when `p` settles within ms, false when the time is up first; the timer never outlives the race. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([p.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return settled;
}
/** kill-backup-join lasts longer (a new process starts and joins before the second kill): so does its load. */
export const JOIN_LOAD_FACTOR = 3;
/** A loaded machine starts node slowly; nothing here asserts a duration. */
const WAIT_MS = 30_000;

export class ChaosTrial {
  readonly cluster: LiveCluster;
  readonly dir: string;
  private readonly failures: TrialResult['failures'] = [];
  private readonly notes: string[] = [];
  private holder = 'a';
  /** The primary the fault took the service from (none for kill-backup). */
  private superseded: string | undefined;
  /** A failure detector fired where no fault was (a busy machine): safe, but the trial did not test what it planned. */
  private falseFailover = false;
  /**
   * Set when the trial begins stopping the pair (isFalseFailover: its events are the stop's),
   * with the replicas that had exited on their own by then (a paused one must have).
   */
  private stopping = false;
  private exitedBeforeStop = new Set<string>();
  /** pause-*: the replica that was paused and resumed, and the one that took over meanwhile. */
  private resumed: { who: string; next: string; wasPrimary: boolean } | undefined;
  private faultAtMs: number | undefined;
  private readonly t0 = wallClockMs();
  private prepared: Promise<void> | undefined;
  /** kill-backup-join: c's way to a's log channel, cut until a serves alone. */
  private joinGate: TcpRelay | undefined;
  /** kill-backup-join: c's start, settled once the gate is healed. */
  private joinStarted: Promise<Child> | undefined;

  constructor(
    readonly plan: TrialPlan,
    readonly o: ChaosOptions,
  ) {
    this.dir = join(o.dir, `trial-${plan.trial}`);
    mkdirSync(this.dir, { recursive: true });
    this.cluster = new LiveCluster({ ...trialClusterOptions(plan, o, this.dir), onEvent: (label, e) => this.onEvent(label, e) });
  }

  private onEvent(label: string, e: ChildEvent): void {
    if (!label.startsWith('replica ') || !isReplicaEvent(e)) return;
    const name = e.name;
    if (e.event === 'registered') this.holder = name;
    if (e.event === 'fault') this.fail('broken', `${name}: replication fault: ${e.message}`);
    if (isFalseFailover(e.event, this.faultAtMs !== undefined, this.stopping)) {
      this.falseFailover = true;
      this.notes.push(`${name} ${e.event} before the fault (a false failover: the machine is slow for D ${this.o.failureTimeoutMs} ms)`);
    }
  }

  /** The trial stops the pair from here on (the survivor first, then everything). */
  private beginStopping(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.exitedBeforeStop = new Set([...this.cluster.replicas].filter(([, c]) => c.exit !== undefined).map(([name]) => name));
  }

  /** Stops every process of the trial (a signal to the run). */
  stop(): Promise<void> {
    this.beginStopping();
    return this.cluster.stop();
  }

  private fail(kind: FailureKind, text: string): void {
    this.failures.push({ kind, text });
  }

  /** Starts the arbiter, the switch, primary a and backup b; resolves when a holds the service address. */
  prepare(): Promise<void> {
    this.prepared ??= (async () => {
      const c = this.cluster;
      await c.startNetwork();
      const a = await c.startReplica('a', 'primary', 'b');
      await c.startReplica('b', 'backup', 'a', 'a');
      await a.waitFor((e) => e.event === 'registered', WAIT_MS, 'the service address');
      if (this.plan.fault !== 'kill-backup-join') return;
      // The joiner starts now, before the load (a process start takes seconds on a busy machine),
      // behind a relay that stays cut until a serves alone: a second dialler at a's log channel
      // would displace b's connection.
      this.joinGate = await TcpRelay.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: c.logPorts.get('a')! });
      this.joinGate.cut();
      // Its started line comes once the log channel's handshake (cluster key) has passed,
      // which needs the gate open: wait for it after the heal, not here.
      this.joinStarted = c.startReplica('c', 'join', 'a', undefined, { startTimeoutMs: WAIT_MS }, this.joinGate.local.port);
      this.joinStarted.catch(() => undefined); // judged after the heal
    })();
    return this.prepared;
  }

  private replica(name: string): Child {
    return this.cluster.replicas.get(name)!;
  }

  /**
   * The load client runs in this process (load-client.ts, what `ftcp client` runs): no
   * process to start per trial. Resolves with its result when every stream is done, or
   * after 60 s (streams not done count as stalled).
   */
  private async startLoad(): Promise<{ done: Promise<LoadClientResult>; abort: () => void }> {
    const o = this.o;
    const bulkBytes = this.cluster.opts.bulkBytes;
    const requests: [number, number] = this.plan.fault === 'kill-backup-join' ? [500, 700] : [150, 250];
    const client = await LoadClient.open({
      switchAt: { host: '127.0.0.1', port: this.cluster.switchPort },
      clusterKey: this.cluster.clusterKey,
      address: parseIpv4Addr('192.0.2.1'),
      service: parseIpv4Addr(DEFAULT_SERVICE_ADDRESS),
      servicePort: 7070,
      app: o.app,
      connections: o.connections,
      seed: this.plan.seed,
      requests,
      thinkMs: o.app === 'echo' ? [0, 4] : [1, 6],
      startSpreadMs: 50,
      bulkBytes,
      uploadBytes: [Math.max(1, Math.floor(bulkBytes / 2)), bulkBytes],
      startTimeoutMs: WAIT_MS,
      mtu: o.mtu ?? DEMO_MTU,
    });
    client.start();
    let aborted = false;
    const done = (async () => {
      const deadline = wallClockMs() + 60_000;
      while (!client.settled && !aborted && wallClockMs() < deadline) await sleep(20);
      // Let the closing handshakes finish (the last ACK of the server's FIN), as `ftcp client` does.
      if (client.settled) await sleep(200);
      const result = client.result();
      await client.close();
      return result;
    })();
    return { done, abort: () => (aborted = true) };
  }

  /**
   * Runs the load and the fault, stops every process, and judges. `afterFault` is called
   * once the fault is over (or could not be made): the trial only drains from then on.
   */
  async run(afterFault?: () => void): Promise<TrialResult> {
    const { plan, cluster } = this;
    let clientResult: LoadClientResult | undefined;
    let load: Awaited<ReturnType<ChaosTrial['startLoad']>> | undefined;
    let survivorExit: EventOf<'exit'> | undefined;
    let faulted = false;
    let paused: Child | undefined;
    const pause = { stopAtMs: 0, contAtMs: 0 };
    let failover: TrialResult['failover'] = { by: null, epoch: null, afterMs: null };
    try {
      await this.prepare();
      load = await this.startLoad();
      if (await within(load.done, plan.momentMs)) {
        this.notes.push(`the load finished before the fault at ${plan.momentMs} ms`);
      } else if (this.falseFailover) {
        // The pair is no more (one replica fenced or stopped): the planned fault would test nothing.
        this.notes.push('no fault injected: a false failover came first');
      } else {
        faulted = true;
        const primary = this.holder;
        const backup = primary === 'a' ? 'b' : 'a';
        this.faultAtMs = wallClockMs();
        const wentLive = async (name: string, what: string) => {
          const live = await this.replica(name).waitFor((e) => e.event === 'live', this.o.failureTimeoutMs + WAIT_MS, what);
          failover = { by: name, epoch: live.epoch, afterMs: Math.round(live.atMs - this.faultAtMs!) };
        };
        switch (plan.fault) {
          case 'kill-primary':
            this.superseded = primary;
            this.replica(primary).signal('SIGKILL');
            await wentLive(backup, `${backup} going live after the kill of ${primary}`);
            break;
          case 'kill-backup':
          case 'kill-backup-join': {
            this.replica(backup).signal('SIGKILL');
            const won = await this.replica(primary).waitFor((e) => e.event === 'won', this.o.failureTimeoutMs + WAIT_MS, `${primary} winning after the kill of ${backup}`);
            failover = { by: primary, epoch: won.epoch + 1, afterMs: Math.round(won.atMs - this.faultAtMs) };
            if (plan.fault === 'kill-backup') break;
            this.joinGate!.heal();
            await this.joinStarted;
            const c = this.replica('c');
            await c.waitFor((e) => e.event === 'joined', WAIT_MS, `c joining ${primary}`);
            await this.replica(primary).waitFor((e) => e.event === 'backup-joined', WAIT_MS, `${primary} taking c`);
            if (await within(load.done, plan.secondMomentMs)) {
              this.notes.push('the load finished before the second kill');
              break;
            }
            // The pair must still be one: a primary that suspected its joiner (a busy machine)
            // won the next epoch alone and c stopped; killing it would leave nobody.
            const dropped = this.replica(primary).events.find((e) => e.event === 'won' && e.epoch !== won.epoch);
            if (dropped !== undefined || !c.running) {
              this.falseFailover = true;
              this.notes.push(`false failover after the join: ${primary} ${dropped !== undefined ? `suspected c and won epoch ${String(dropped.epoch)} alone` : 'lost c'}, so it was not killed`);
              break;
            }
            this.faultAtMs = wallClockMs();
            this.superseded = primary;
            this.replica(primary).signal('SIGKILL');
            await wentLive('c', `c going live after the kill of ${primary}`);
            break;
          }
          case 'pause-primary':
          case 'pause-backup': {
            // SIGSTOP past D; the other replica takes over (goes live, or wins and serves alone)
            // and holds the service address in its new epoch; then SIGCONT.
            const [victim, next] = plan.fault === 'pause-primary' ? [primary, backup] : [backup, primary];
            if (plan.fault === 'pause-primary') this.superseded = primary;
            paused = this.replica(victim);
            pause.stopAtMs = wallClockMs();
            paused.signal('SIGSTOP');
            if (plan.fault === 'pause-primary') {
              await wentLive(next, `${next} going live while ${victim} is paused`);
            } else {
              const won = await this.replica(next).waitFor((e) => e.event === 'won', this.o.failureTimeoutMs + WAIT_MS, `${next} winning while ${victim} is paused`);
              failover = { by: next, epoch: won.epoch + 1, afterMs: Math.round(won.atMs - this.faultAtMs) };
            }
            await this.replica(next).waitFor((e) => e.event === 'registered' && e.epoch === failover.epoch, WAIT_MS, `${next} holding the service address`);
            await sleep(plan.pauseExtraMs);
            pause.contAtMs = wallClockMs();
            paused.signal('SIGCONT');
            const p = paused;
            paused = undefined;
            this.resumed = { who: victim, next, wasPrimary: plan.fault === 'pause-primary' };
            await p.waitFor((e) => e.event === 'fenced' || e.event === 'stopped', WAIT_MS, `${victim} stepping down after SIGCONT`);
            if (!(await within(p.exited, WAIT_MS))) this.fail('liveness', `${victim} did not exit within ${WAIT_MS} ms of stepping down`);
            break;
          }
          case 'pause-race': {
            // SIGCONT whatever happened meanwhile: the resumed primary races the backup's
            // test-and-set. Whoever loses steps down; nothing else is planned.
            const a = this.replica(primary);
            const b = this.replica(backup);
            paused = a;
            pause.stopAtMs = wallClockMs();
            a.signal('SIGSTOP');
            await sleep(Math.round((this.o.failureTimeoutMs * plan.racePausePercent) / 100));
            pause.contAtMs = wallClockMs();
            a.signal('SIGCONT');
            paused = undefined;
            // Settled when one of them has lost: a is fenced, or b stopped (or neither, within 4 D).
            const settleMs = this.o.failureTimeoutMs * 4 + 3000;
            const settled = new Promise<void>((resolve) => {
              for (const [c, e] of [[a, 'fenced'], [b, 'stopped']] as const) c.waitFor((x) => x.event === e, settleMs, e).then(() => resolve(), () => undefined);
            });
            await within(settled, settleMs);
            const fenced = a.events.some((e) => e.event === 'fenced');
            const stopped = b.events.some((e) => e.event === 'stopped');
            if (fenced) {
              if (!(await within(a.exited, WAIT_MS))) this.fail('liveness', `${primary} did not exit within ${WAIT_MS} ms of being fenced`);
              this.superseded = primary;
              const live = await b.waitFor((e) => e.event === 'live', WAIT_MS, `${backup} going live`);
              failover = { by: backup, epoch: live.epoch, afterMs: Math.round(live.atMs - this.faultAtMs) };
              this.resumed = { who: primary, next: backup, wasPrimary: true };
            } else if (stopped) {
              const won = await a.waitFor((e) => e.event === 'won', WAIT_MS, `${primary} winning`);
              failover = { by: primary, epoch: won.epoch + 1, afterMs: Math.round(won.atMs - this.faultAtMs) };
              this.notes.push(`${primary} won the race: ${backup} stopped`);
            } else {
              this.notes.push(`the pause went unnoticed: nobody asked the arbiter, or nobody lost`);
            }
            break;
          }
        }
      }
      afterFault?.();
      afterFault = undefined;
      clientResult = await load.done;
      // The holder is known from the switch's `registered` line, which can still be in the
      // pipe when the load ends right after a go-live: then the replica that took over is it.
      const survivor = [this.holder, failover?.by].map((n) => (typeof n === 'string' ? this.cluster.replicas.get(n) : undefined)).find((r) => r?.running === true);
      if (survivor !== undefined) {
        this.beginStopping();
        await survivor.stop();
        survivorExit = survivor.events.find((e) => e.event === 'exit');
      }
    } catch (error) {
      // A liveness failure (a process did not start, nobody went live): the streams are not judged.
      this.fail('liveness', error instanceof Error ? error.message.split('\n')[0]! : String(error));
      load?.abort();
      await load?.done;
      load = undefined;
    } finally {
      afterFault?.();
      paused?.signal('SIGCONT');
      await this.joinGate?.close();
      this.beginStopping();
      await cluster.stop();
    }
    return this.judge(clientResult, survivorExit, faulted, failover, pause);
  }

  private judge(clientResult: LoadClientResult | undefined, survivorExit: EventOf<'exit'> | undefined, faulted: boolean, failover: TrialResult['failover'], pause: { stopAtMs: number; contAtMs: number }): TrialResult {
    const { plan, cluster } = this;
    // Streams: the client checked every byte it read; the survivor's app every byte uploaded.
    const verdict = streamVerdict(clientResult, survivorExit, this.o.app === 'bulk', this.o.connections);
    if (clientResult !== undefined || this.failures.length === 0) for (const p of verdict.problems) this.fail('broken', p);
    const streams = clientResult === undefined ? null : verdict.streams;
    const resets = verdict.resets;

    // Split brain: two replicas announcing, or emitting in, one epoch; the arbiter granting one twice.
    const names = [...cluster.replicas.keys()];
    const views = new Map<string, WireView>(names.map((n) => [n, readWireView(cluster.capturePaths(n).wire)]));
    const split = epochConflicts(new Map(names.map((n) => [n, cluster.replicas.get(n)!.events])), new Map([...views].map(([n, v]) => [n, v.epochs])));
    for (const e of split) this.fail('splitBrain', `two replicas live in epoch ${e}`);
    const doubleGrants = cluster.arbiter === undefined ? [] : arbiterDoubleGrants(cluster.arbiter.events);
    for (const e of doubleGrants) this.fail('splitBrain', `the arbiter granted epoch ${e} twice`);

    // Re-emitted segments: byte-identical to the old primary's copy of the same segment.
    let reemitted: TrialResult['reemitted'] = null;
    const oldPrimary = this.superseded;
    if (failover.by !== null && oldPrimary !== undefined && failover.by !== oldPrimary) {
      reemitted = compareReemitted(views.get(oldPrimary)!, views.get(failover.by)!);
      if (reemitted.identicalToPrimary !== reemitted.sentByPrimary) this.fail('nonIdentical', `${reemitted.sentByPrimary - reemitted.identicalToPrimary} re-emitted segment(s) differ from the old primary's copy`);
    }

    let paused: TrialResult['paused'] = null;
    if (this.resumed !== undefined) paused = this.judgePause(this.resumed.who, this.resumed.next, this.resumed.wasPrimary, pause);

    const ok = this.failures.length === 0;
    return {
      plan,
      ok,
      faulted,
      streams,
      resets,
      falseFailover: this.falseFailover,
      splitBrainEpochs: split,
      doubleGrants,
      failover,
      reemitted,
      paused,
      failures: this.failures,
      notes: this.notes,
      durationMs: Math.round(wallClockMs() - this.t0),
      dir: this.dir,
    };
  }

  /**
   * The resumed replica: it lost the test-and-set, stepped down (a primary is fenced, a
   * backup stops) and exited; an old primary emitted nothing the new one did not send too,
   * an old backup nothing at all.
   */
  private judgePause(old: string, next: string, wasPrimary: boolean, pause: { stopAtMs: number; contAtMs: number }): NonNullable<TrialResult['paused']> {
    const child = this.cluster.replicas.get(old)!;
    // Exited on its own, before the trial stopped what was left (which would make any replica exit).
    const steppedDown = child.events.some((e) => e.event === 'lost') && child.events.some((e) => e.event === (wasPrimary ? 'fenced' : 'stopped')) && this.exitedBeforeStop.has(old);
    if (!steppedDown) this.fail('liveness', `${old} did not step down after SIGCONT (lost, ${wasPrimary ? 'fenced' : 'stopped'} and exit expected)`);
    // Half-way through the pause: nothing of the old primary is timestamped there.
    const afterUs = Math.round(((pause.stopAtMs + pause.contAtMs) / 2) * 1000);
    const link = child.events.map((e) => replicaEvent(e, 'started')).find((e) => e !== undefined)?.link;
    const emitted = [...capturedPackets(this.cluster.capturePaths(old).wire, afterUs, (c) => /(?:^|; )O\(\d+\)/.test(c)), ...capturedPackets(join(this.dir, 'client.pcapng'), afterUs, (c) => c === `dropped (stale-epoch) from ${String(link)}` || c === `dropped (not-owner) from ${String(link)}`)];
    const reference = capturedPackets(this.cluster.capturePaths(next).wire, 0, (c) => /(?:^|; )O\(\d+\)/.test(c));
    const r = fencedEmissions(emitted, reference);
    for (const p of r.problems) this.fail('nonIdentical', `${old} after SIGCONT: ${p}`);
    if (!wasPrimary && r.segments > 0) this.fail('nonIdentical', `${old}, a backup, put ${r.segments} client segment(s) on the wire after SIGCONT`);
    return { who: old, steppedDown, exitCode: child.exit?.code ?? null, pausedMs: Math.round(pause.contAtMs - pause.stopAtMs), segments: r.segments, noData: r.noData, identical: r.identical, nonIdentical: r.problems.length };
  }
}

/** Packets of a capture at or after `afterUs` whose comment matches. */
function capturedPackets(path: string, afterUs: number, comment: (c: string) => boolean): Uint8Array[] {
  if (!existsSync(path)) return [];
  const r = readPcapng(new Uint8Array(readFileSync(path)));
  return r.packets.filter((p) => p.timestampUs >= afterUs && p.comments.some(comment)).map((p) => p.data);
}

/** The cluster of one trial (its replicas' timing, the switch's dropped-datagram capture), in `dir`; starts nothing. */
export function trialClusterOptions(plan: TrialPlan, o: ChaosOptions, dir: string): LiveClusterOptions {
  return {
    dir,
    app: o.app,
    seed: plan.seed,
    bulkBytes: plan.fault === 'kill-backup-join' ? JOIN_LOAD_FACTOR * o.bytes : o.bytes,
    heartbeatMs: o.heartbeatMs,
    failureTimeoutMs: o.failureTimeoutMs,
    ...(o.failureTimeoutMaxMs !== undefined ? { failureTimeoutMaxMs: o.failureTimeoutMaxMs } : {}),
    ...(o.failureTimeoutStartMs !== undefined ? { failureTimeoutStartMs: o.failureTimeoutStartMs } : {}),
    unsafeNoOutputRule: false,
    switchOptions: { captureDropped: true },
    startTimeoutMs: WAIT_MS,
    mtu: o.mtu ?? DEMO_MTU,
  };
}
