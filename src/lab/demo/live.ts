/**
 * `ftcp demo failover` without --sim: the failover demo with real processes on loopback
 * (the main job; `npm start` runs it).
 *
 * Starts the arbiter and the switch, primary a and backup b, and one client process with N
 * connections; kill -9s the primary --kill-after-ms after the load starts; the backup
 * suspects it, wins the test-and-set, goes live and re-emits; the client finishes. Prints
 * the timeline as it happens, then the result, where the captures are and the tshark
 * command that shows the cut-over (report.ts). With --json the last line of stdout is the
 * report, with the fields of the simulated demo's report. Every child is stopped, by pid,
 * on exit, error or Ctrl-C.
 *
 * With the kernel as the client, the run first makes a network namespace and runs again
 * inside it (netns-run.ts); the inner run adds the kernel side (kernel.ts).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Child, ChildEvent } from '../children.js';
import { wallClockMs } from '../../net/clock.js';
import { LiveCluster, timelineText } from '../live-cluster.js';
import { TcpRelay } from '../tcp-relay.js';
import { startHttpUpstream, type UpstreamServer } from '../upstream-servers.js';
import { OrderedLines } from '../ordered-lines.js';
import { onStopSignal, type InnerExit, type LabIo, type RunOutcome } from '../io.js';
import { demoFailoverInnerArgv, loopback, type LoadShape, type ReplicaExtra } from '../launch.js';
import { runInNetns } from '../netns-run.js';
import { KernelSide, kernelSwitchOptions, startKernelClient } from './kernel.js';
import { DEFAULT_TUN_MTU, KERNEL_ADDRESS, TUN_DEVICE } from '../netns.js';
import type { RedisServer } from '../redis-server.js';
import { checkRedisRun, redisMissing, startRedisUpstreams, type RedisReport } from './redis.js';
import { writeRunReport } from '../report/write-run.js';
import { demoOutcome, judgeDemo, printDemoReport } from './report.js';
import { arrangeInFlightOutput, inFlightTiming } from './in-flight.js';
import type { DemoState, Failover, LiveDemoOptions } from './types.js';
import { firstFalseFailover, falseFailoverText, FALSE_FAILOVER_EVENTS, type DemoMarks, type SeenEvent } from './verdict.js';

export type { LiveDemoOptions } from './types.js';

/** Unsafe mode: the log channel is cut this long before the kill (less than the failure timeout). */
const UNSAFE_CUT_BEFORE_KILL_MS = 30;

/** Runs the demo; resolves with how it ended. */
export async function runLiveDemo(o: LiveDemoOptions, io: LabIo): Promise<RunOutcome | InnerExit> {
  // --client kernel first makes a network namespace and runs this again inside it.
  if (o.client === 'kernel' && o.netnsInner === undefined) return runKernelDemo(o, io);
  const noRedis = o.app === 'redis' ? redisMissing(o.client === 'kernel') : undefined;
  if (noRedis !== undefined) {
    io.stderr(`error: ftcp demo failover --app redis: ${noRedis}\n`);
    return 'usage';
  }
  const demo = new LiveDemo(o, io);
  await demo.run();
  const report = judgeDemo(demo);
  printDemoReport(report, demo, io);
  if (o.noReport !== true) writeRunReport(demo.dir, report, io, o.json);
  return demoOutcome(report, demo.interrupted !== undefined);
}

/** Outer half of `--client kernel`: make the namespace, run the demo inside it, remove the namespace. */
function runKernelDemo(o: LiveDemoOptions, io: LabIo): Promise<RunOutcome | InnerExit> {
  const args = (netnsInner: string) =>
    demoFailoverInnerArgv({
      seed: o.seed,
      app: o.app,
      connections: o.connections,
      bytes: o.bytes,
      killAfterMs: o.killAfterMs,
      ...(o.killMoment !== undefined ? { killMoment: o.killMoment } : {}),
      heartbeatMs: o.heartbeatMs,
      failureTimeoutMs: o.failureTimeoutMs,
      ...(o.failureTimeoutMaxMs !== undefined ? { failureTimeoutMaxMs: o.failureTimeoutMaxMs } : {}),
      ...(o.failureTimeoutStartMs !== undefined ? { failureTimeoutStartMs: o.failureTimeoutStartMs } : {}),
      captureDir: o.captureDir,
      tunMtu: o.tunMtu ?? DEFAULT_TUN_MTU,
      kernelTool: o.kernelTool ?? 'node',
      netnsInner,
      unsafe: o.unsafe,
      json: o.json,
      noReport: o.noReport === true,
    });
  return runInNetns({ command: 'ftcp demo failover --client kernel', args, json: o.json }, io);
}

/** The load's shape, by app (`kernel`: the kernel's TCP is the client). */
export function demoLoad(o: LiveDemoOptions, kernel: boolean): LoadShape {
  // An unsafe run that breaks leaves streams that never finish: give up on them sooner.
  const base: LoadShape = { connections: o.connections, progressMs: 250, timeoutMs: o.unsafe ? 8000 : 60_000 };
  // curl paces by --rate (1000 / mean think time), so 4-6 ms keeps 100 requests past the kill.
  if (o.app === 'http') return { ...base, app: 'http', requests: '100-150', thinkMs: kernel ? '4-6' : '1-5' };
  if (o.app === 'redis') return { ...base, app: 'redis', requests: '100-150', thinkMs: '1-5' };
  if (o.app === 'echo') return { ...base, requests: `${Math.max(1, Math.round(o.bytes / 3000))}-${Math.max(1, Math.round(o.bytes / 1500))}` };
  return base;
}

/** A timeline line at `atMs` (ms from `t0`), printed as it happens unless the run prints JSON. */
export function sayOnTimeline(d: { readonly timeline: Array<{ ms: number; text: string }>; readonly o: LiveDemoOptions }, io: LabIo, t0: number, text: string, atMs: number): void {
  const ms = Math.max(0, Math.round(atMs - t0));
  d.timeline.push({ ms, text });
  if (!d.o.json) io.stdout(`  ${`+${ms} ms`.padStart(10)}  ${text}\n`);
}

/** The steps of a run in order; one that throws is a problem; `cleanup` runs in any case. */
export async function runSteps(problems: string[], steps: ReadonlyArray<() => Promise<void>>, cleanup: () => Promise<void>): Promise<void> {
  try {
    for (const step of steps) await step();
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    await cleanup();
  }
}

/** One run of the demo: its processes, what it saw of them, and the steps, in order. */
export class LiveDemo implements DemoState {
  /** The namespace this run is inside (the kernel as the client). */
  readonly kernelNs: string | undefined;
  readonly dir: string;
  readonly cluster: LiveCluster;
  readonly timeline: Array<{ ms: number; text: string }> = [];
  readonly problems: string[] = [];
  readonly divergences: Array<{ replica: string; conn: number; offset: number; what: string }> = [];
  readonly failover: Failover = { killed: 'a', killAtMs: 0, by: null, epoch: null, detectedMs: null, liveMs: null, clientResumedMs: null };
  killed = false;
  interrupted: string | undefined;
  falseFailover: string | undefined;
  /** The replicas' failover events as seen, each stamped by its replica (verdict.ts). */
  readonly seen: SeenEvent[] = [];
  /** The demo's own steps, wall clock (verdict.ts). */
  readonly marks: DemoMarks = {};
  /** Both replicas should be running: the kill step has not happened (nor been skipped). */
  private beforeKill = true;
  /** Resolves at a false failover (the kill step's and the result's waits). */
  private onFalseFailover: (() => void) | undefined;
  private readonly falseFailoverSeen = new Promise<void>((r) => (this.onFalseFailover = r));
  /** When the client said it started (its clock), for when it finished. */
  private clientStartedAtMs: number | undefined;
  clientResult: ChildEvent | undefined;
  backupExit: ChildEvent | undefined;
  kernelSide: KernelSide | undefined;
  redisReport: RedisReport | undefined;
  private readonly t0 = wallClockMs();
  private serviceHolder: string | undefined;
  private client: Child | undefined;
  private loadStartMs = 0;
  private lastProgressMs = 0;
  private lastProgressBytes: unknown;
  private relay: TcpRelay | undefined;
  /** Kill with output in flight (in-flight.ts): b dials a through `relay`, which arranges the moment. */
  private readonly inFlight: boolean;
  /** The client has reported bytes received (its progress lines): the load is flowing. */
  private flowing = false;
  private onFlowing: (() => void) | undefined;
  /** --app http: one Node HTTP server per replica, each replica's own upstream app. */
  private upstreams: Record<string, UpstreamServer> | undefined;
  /** --app redis: one redis-server per replica. */
  private redisServers: Record<string, RedisServer> | undefined;

  constructor(
    readonly o: LiveDemoOptions,
    private readonly io: LabIo,
  ) {
    this.kernelNs = o.client === 'kernel' ? o.netnsInner : undefined;
    this.inFlight = !o.unsafe && (o.killMoment ?? 'in-flight') === 'in-flight';
    this.dir = join(o.captureDir, `failover-live-${o.app}-seed${o.seed}${o.unsafe ? '-unsafe' : ''}${this.kernelNs !== undefined ? '-kernel' : ''}`);
    mkdirSync(this.dir, { recursive: true });
    this.cluster = new LiveCluster({
      dir: this.dir,
      app: o.app === 'http' || o.app === 'redis' ? 'echo' : o.app, // with an upstream app the replicas' --app only picks their warm-up
      seed: o.seed,
      bulkBytes: o.app === 'bulk' ? o.bytes : 1_000_000,
      heartbeatMs: o.heartbeatMs,
      failureTimeoutMs: o.failureTimeoutMs,
      ...(o.failureTimeoutMaxMs !== undefined ? { failureTimeoutMaxMs: o.failureTimeoutMaxMs } : {}),
      ...(o.failureTimeoutStartMs !== undefined ? { failureTimeoutStartMs: o.failureTimeoutStartMs } : {}),
      unsafeNoOutputRule: o.unsafe,
      mtu: o.mtu,
      ...(o.profile !== undefined ? { profile: o.profile } : {}),
      onEvent: (label, e) => this.onEvent(label, e),
      ...(this.kernelNs !== undefined ? { switchOptions: kernelSwitchOptions() } : {}),
    });
  }

  /** Timeline lines, released in time order (ordered-lines.ts). */
  private readonly ordered = new OrderedLines((text, atMs) => sayOnTimeline(this, this.io, this.t0, text, atMs));

  /** A timeline line, printed as it happens (not with --json), within a short reordering window. */
  say(text: string, atMs = wallClockMs()): void {
    this.ordered.add(text, atMs);
  }

  /** Every step, in order; a step that throws is a problem, and the children are stopped in any case. */
  async run(): Promise<void> {
    const onSignal = (signal: NodeJS.Signals) => {
      this.interrupted = signal;
      this.marks.stopAtMs ??= wallClockMs();
      this.say(`interrupted by ${signal}: stopping every child`);
      void this.cluster.stop();
    };
    const stopListening = onStopSignal(onSignal);
    this.printHeader();
    const steps = [() => this.startUpstreams(), () => this.startCluster(), () => this.startClient(), () => this.kill(), () => this.waitForResult()];
    await runSteps(this.problems, steps, async () => {
      stopListening();
      this.marks.stopAtMs ??= wallClockMs();
      await this.stopEverything();
      this.ordered.flush();
    });
  }

  private since(atMs: unknown): number | null {
    return typeof atMs === 'number' && this.killed ? Math.round((atMs - this.failover.killAtMs) * 100) / 100 : null;
  }

  private onEvent(label: string, e: ChildEvent): void {
    const { o, failover } = this;
    const at = typeof e['atMs'] === 'number' ? e['atMs'] : wallClockMs();
    const name = typeof e['name'] === 'string' ? e['name'] : label;
    const progress = label === 'client' && e.event === 'progress';
    const text = timelineText(label, e, o.connections);
    if (text !== undefined && (!progress || (at - this.lastProgressMs >= 1000 && e['bytesReceived'] !== this.lastProgressBytes))) {
      if (progress) {
        this.lastProgressMs = at;
        this.lastProgressBytes = e['bytesReceived'];
      }
      this.say(text, at);
    }
    if (label === 'client' && e.event === 'resumed' && this.killed) failover.clientResumedMs = this.since(at);
    if (label === 'client' && e.event === 'started') this.clientStartedAtMs = at;
    if (progress && typeof e['bytesReceived'] === 'number' && e['bytesReceived'] > 0) {
      this.flowing = true;
      this.onFlowing?.();
    }
    if (!label.startsWith('replica ')) return;
    if (FALSE_FAILOVER_EVENTS.includes(e.event)) this.noteFailoverEvent({ replica: name, event: e.event, atMs: at, ...(typeof e['epoch'] === 'number' ? { epoch: e['epoch'] } : {}) });
    switch (e.event) {
      case 'registered':
        this.serviceHolder = name;
        return;
      case 'suspect':
        if (this.killed && name !== failover.killed && failover.detectedMs === null) failover.detectedMs = this.since(at);
        return;
      case 'live':
        if (this.killed && name !== failover.killed) {
          failover.goLive = { r: e['r'] as number, lastIndex: e['lastIndex'] as number, reemitted: e['reemitted'] as number, reemittedEntries: e['reemittedEntries'] as number };
          failover.liveMs = this.since(at);
          failover.by = name;
          failover.epoch = e['epoch'] as number;
          this.client?.signal('SIGUSR1');
        }
        return;
      case 'fault':
        this.problems.push(`${name}: replication fault: ${String(e['message'])}`);
        return;
      case 'divergence': // the replica's own upstream app answered otherwise than the log
        this.divergences.push({ replica: name, conn: e['conn'] as number, offset: e['offset'] as number, what: String(e['what']) });
        this.say(`${name}: DIVERGENCE on connection ${String(e['conn'])} at offset ${String(e['offset'])}: ${String(e['what'])}`, at);
        return;
      default:
        return;
    }
  }

  /**
   * A failover event of a replica: before the demo's own fault (by the replica's stamp, not
   * by when its line arrived: verdict.ts), a false failover, and the demo stops waiting.
   */
  private noteFailoverEvent(e: SeenEvent): void {
    this.seen.push(e);
    if (this.interrupted !== undefined || this.falseFailover !== undefined) return;
    if (!this.beforeKill && this.marks.ownFaultAtMs === undefined) return; // the load ended before the kill: there is none
    const v = firstFalseFailover([e], this.beforeKill ? { ...this.marks, ownFaultAtMs: undefined } : this.marks);
    if (v?.kind !== 'false-failover') return;
    this.falseFailover = falseFailoverText(v, this.t0, this.o);
    const epoch = e.epoch !== undefined ? ` in epoch ${e.epoch}` : '';
    this.say(`a false failover: ${e.replica} ${e.event}${epoch} ${v.duringHold ? "during the demo's hold, " : ''}before the kill; the demo stops here`, e.atMs);
    this.onFalseFailover?.();
  }

  private printHeader(): void {
    const { o, io } = this;
    if (o.json) return;
    if (this.kernelNs !== undefined) io.stdout(`demo failover with the Linux kernel as the client, in network namespace ${this.kernelNs} (its own loopback; TUN device ${TUN_DEVICE} at ${KERNEL_ADDRESS}/24, mtu ${o.tunMtu ?? DEFAULT_TUN_MTU})\n`);
    io.stdout(`demo failover (real processes on loopback): app ${o.app}, ${o.connections} connection(s), seed ${o.seed}${o.seedFromClock ? ' (from the wall clock)' : ''}${o.unsafe ? ', UNSAFE: no output rule' : ''}\n`);
    io.stdout(`  heartbeat ${o.heartbeatMs} ms, failure timeout ${o.failureTimeoutMs} ms; kill -9 of the primary ${o.killAfterMs} ms after the load starts${this.inFlight ? ', with output in flight (b dials a through the demo\'s relay)' : ''}\n`);
    io.stdout('timeline (wall clock, from the start):\n');
  }

  /** --app redis: a redis-server per replica; --app http: a Node HTTP server per replica. */
  private async startUpstreams(): Promise<void> {
    if (this.o.app === 'redis') {
      const r = await startRedisUpstreams(['a', 'b']);
      this.redisServers = r;
      this.say(`upstream apps: redis-server on 127.0.0.1:${r['a']!.port} (pid ${r['a']!.pid}, for a) and 127.0.0.1:${r['b']!.port} (pid ${r['b']!.pid}, for b), persistence off`);
    }
    if (this.o.app === 'http') {
      const [ua, ub] = await Promise.all([startHttpUpstream(), startHttpUpstream()]);
      this.upstreams = { a: ua!, b: ub! };
      this.say(`upstream apps: Node HTTP servers on 127.0.0.1:${ua!.port} (for a) and 127.0.0.1:${ub!.port} (for b)`);
    }
  }

  /** A replica's own upstream app, if the run has them. */
  private upstreamOf(name: string): ReplicaExtra {
    const redis = this.redisServers?.[name];
    if (redis !== undefined) return { upstream: loopback(redis.port), upstreamApp: 'redis' };
    const http = this.upstreams?.[name];
    return http !== undefined ? { upstream: loopback(http.port) } : {};
  }

  /** The arbiter and the switch (and the kernel side), primary a, backup b; until a holds the service address. */
  private async startCluster(): Promise<void> {
    const { cluster, o } = this;
    await cluster.startNetwork();
    this.say(`arbiter on 127.0.0.1:${cluster.arbiterPort} (pid ${cluster.arbiter.pid}), switch on 127.0.0.1:${cluster.switchPort} (pid ${cluster.switch.pid})`);
    // socat's TUN device, bridged to the switch; tcpdump on it; the kernel's counters.
    if (this.kernelNs !== undefined) {
      const k = await KernelSide.start({ netns: this.kernelNs, switchPort: cluster.switchPort, mtu: o.tunMtu ?? DEFAULT_TUN_MTU, dir: this.dir });
      this.kernelSide = k;
      this.say(`socat bridges TUN device ${TUN_DEVICE} (${KERNEL_ADDRESS}/24, pid ${k.bridge.pid}) to the switch${k.tcpdump !== undefined ? `; tcpdump on it (pid ${k.tcpdump.pid})` : ''}`);
    }
    const a = await cluster.startReplica('a', 'primary', 'b', undefined, this.upstreamOf('a'));
    this.say(`replica a started as primary (pid ${a.pid}), log channel on 127.0.0.1:${cluster.logPorts.get('a')}`);
    // Unsafe mode, as in the simulator: b reaches a through a relay that is cut just before
    // the kill, so the last entries never reach b while the clients already saw their outputs.
    if (o.unsafe || this.inFlight) this.relay = await TcpRelay.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: cluster.logPorts.get('a')! });
    const b = await cluster.startReplica('b', 'backup', 'a', this.relay === undefined ? 'a' : undefined, this.upstreamOf('b'), this.relay?.local.port);
    this.say(`replica b started as backup (pid ${b.pid}), dialling a`);
    await a.waitFor((e) => e.event === 'registered', 20_000, 'the switch\'s confirmation of the service address');
  }

  private async startClient(): Promise<void> {
    const o = this.o;
    const load = demoLoad(o, this.kernelNs !== undefined);
    this.client =
      this.kernelNs !== undefined
        ? await startKernelClient(this.cluster.children, { ...load, app: load.app ?? o.app, seed: o.seed, bulkBytes: o.app === 'bulk' ? o.bytes : 1_000_000, tool: o.kernelTool ?? 'node' })
        : await this.cluster.startClient('client', load);
    this.loadStartMs = wallClockMs();
    const how = o.app === 'redis' ? 'redis-cli, one per connection' : o.kernelTool === 'curl' ? 'curl, one keep-alive connection each' : o.kernelTool === 'nc' ? 'nc -N, a seeded byte pattern each' : 'node net';
    this.say(`client started (pid ${this.client.pid}): ${o.connections} ${o.app} connection(s) to 192.0.2.10:7070${this.kernelNs !== undefined ? ` on the kernel's TCP (${how})` : ''}`);
  }

  /** The kill, --kill-after-ms after the load started, of whichever replica holds the service. */
  private async kill(): Promise<void> {
    const { o, failover, client } = this;
    const wait = Math.max(0, o.killAfterMs - (wallClockMs() - this.loadStartMs));
    let killTimer: NodeJS.Timeout | undefined;
    const falseFailover = this.falseFailoverSeen.then(() => false);
    const timer = new Promise<void>((r) => (killTimer = setTimeout(r, wait)));
    // With output in flight, the kill also waits for the load to flow (the client's progress
    // lines; the kernel's client has none): on a slow machine 300 ms can still be the handshakes.
    const due = this.inFlight && this.kernelNs === undefined ? timer.then(() => this.loadFlowing()) : timer;
    const finishedEarly = await Promise.race([due.then(() => false), client!.exited.then(() => true), falseFailover]);
    clearTimeout(killTimer);
    if (this.interrupted !== undefined) throw new Error(`interrupted by ${this.interrupted}`);
    if (this.falseFailover !== undefined) throw new Error(`a false failover before the kill: ${this.falseFailover}`);
    if (finishedEarly) {
      this.beforeKill = false;
      this.problems.push(`the load finished before the kill at ${o.killAfterMs} ms; lower --kill-after-ms or raise --bytes`);
      return;
    }
    const victimName = this.serviceHolder ?? 'a';
    const victim = this.cluster.replicas.get(victimName)!;
    failover.killed = victimName;
    if (!victim.running) this.problems.push(`replica ${victimName} had already exited before the kill`);
    // The moment: the primary dies with output the client has and the backup was not told of (in-flight.ts).
    if (this.inFlight && this.relay !== undefined && victimName === 'a') {
      this.marks.holdFromMs = wallClockMs();
      const plain = await arrangeInFlightOutput(this.relay, inFlightTiming(o.heartbeatMs, o.failureTimeoutMs), { primary: 'a', backup: 'b' }, (text) => this.say(text), () => (this.marks.holdToMs = wallClockMs()));
      if (plain !== undefined) this.say(`${plain}: a plain kill`);
      // A failover of the hold seen in time: no kill (one seen only after it: verdict.ts).
      if (this.falseFailover !== undefined) throw new Error(`a false failover before the kill: ${this.falseFailover}`);
    }
    this.beforeKill = false; // from here on a failover is the demo's own (unsafe mode cuts the log channel first)
    this.marks.ownFaultAtMs = wallClockMs();
    if (o.unsafe && this.relay !== undefined) {
      this.relay.cut();
      this.say('the log channel between a and b is cut (unsafe mode: so that the missing output rule shows)');
      await new Promise((r) => setTimeout(r, UNSAFE_CUT_BEFORE_KILL_MS));
    }
    failover.killAtMs = wallClockMs();
    this.marks.killAtMs = failover.killAtMs;
    this.killed = true;
    victim.signal('SIGKILL');
    this.say(`kill -9 replica ${victimName} (pid ${victim.pid}), the primary, in the middle of the load`, failover.killAtMs);
  }

  /**
   * The load ended after the kill and before anyone went live (it needed nothing more): the
   * survivor still goes live on its own; wait for that (D and the arbiter's answer) before
   * stopping it, rather than report that nobody did.
   */
  private async awaitGoLive(): Promise<void> {
    const { failover, o } = this;
    if (!this.killed || failover.liveMs !== null || this.falseFailover !== undefined) return;
    if (this.marks.loadDoneAtMs !== undefined && this.marks.loadDoneAtMs <= failover.killAtMs) return;
    const sv = this.cluster.replicas.get(failover.killed === 'a' ? 'b' : 'a');
    if (sv === undefined || !sv.running) return;
    const boundMs = 2000 + 20 * (o.failureTimeoutMaxMs ?? o.failureTimeoutMs);
    await sv.waitFor((e) => ['live', 'lost', 'fenced', 'stopped', 'exit'].includes(e.event), boundMs, 'its go-live').catch(() => undefined);
  }

  /** Resolves once the client has reported bytes received. */
  private loadFlowing(): Promise<void> {
    return this.flowing ? Promise.resolve() : new Promise((r) => (this.onFlowing = r));
  }

  /** The client's result; the surviving Redis asked; the survivor stopped, for its exit line. */
  private async waitForResult(): Promise<void> {
    const got = this.client!.waitFor((e) => e.event === 'result', 90_000, 'its result line');
    // A false failover seen only after the kill (verdict.ts): the streams are not the failover's to judge.
    const result = await Promise.race([got, this.falseFailoverSeen.then(() => undefined)]);
    if (result === undefined) {
      got.catch(() => undefined); // the client is stopped with the rest
      return;
    }
    this.clientResult = result;
    this.marks.loadDoneAtMs = loadDoneAtMs(result, this.clientStartedAtMs);
    this.say(`client: finished: ${JSON.stringify((result['streams'] as object) ?? {})}, resets ${String(result['resets'])}`, typeof result['atMs'] === 'number' ? result['atMs'] : wallClockMs());
    await this.awaitGoLive();
    const survivor = this.failover.by ?? (this.failover.killed === 'a' ? 'b' : 'a');
    // the surviving replica's Redis, asked directly, against what the client last saw.
    if (this.redisServers !== undefined) {
      const checked = await checkRedisRun(this.redisServers, this.killed ? survivor : this.failover.killed, result);
      this.redisReport = checked.report;
      this.problems.push(...checked.problems);
      const s = checked.report.survivor;
      if (s !== null) this.say(`redis: the surviving Redis (${s.replica}'s) holds ${s.counter ?? 'nil'}, the client last saw ${s.clientLast}`);
    }
    const sv = this.cluster.replicas.get(survivor);
    if (sv !== undefined && sv.running) {
      this.marks.stopAtMs ??= wallClockMs();
      await sv.stop();
      this.backupExit = sv.events.find((e) => e.event === 'exit');
    }
  }

  private async stopEverything(): Promise<void> {
    await this.relay?.close();
    await this.kernelSide?.stop();
    await this.cluster.stop();
    await Promise.all(Object.values(this.upstreams ?? {}).map((u) => u.close()));
    await Promise.all(Object.values(this.redisServers ?? {}).map((r) => r.stop())); // by pid
  }
}

/** When the client's last stream ended: its result's own stamp, else its start plus its elapsed time, else now. */
export function loadDoneAtMs(result: ChildEvent, startedAtMs: number | undefined): number {
  if (typeof result['atMs'] === 'number') return result['atMs'];
  if (startedAtMs !== undefined && typeof result['elapsedMs'] === 'number') return startedAtMs + result['elapsedMs'];
  return wallClockMs();
}
