/**
 * `ftcp demo failover --network lan`: the failover demo on a real Linux bridge
 * (lan-cluster.ts): replicas a and b behind TAP devices in their own namespaces, the
 * arbiter in a third, the kernel's TCP as the client in a fourth. kill -9 of the primary
 * --kill-after-ms after the load starts; b goes live and announces the service address with
 * gratuitous ARP; the LAN's bridge moves the service MAC to b's port; the client goes on.
 *
 * Prints the timeline as it happens and the report of the loopback demo (report.ts), plus
 * the LAN's part: the GARP's frame number in the bridge capture, where the bridge has the
 * service MAC, the client namespace's nstat counters and where the captures are. Every
 * child, socat, tcpdump and namespace is removed at the end, on error and on Ctrl-C.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildEvent } from '../children.js';
import { wallClockMs } from '../../net/clock.js';
import { replicaEvent } from '../../net/events.js';
import { onStopSignal, type LabIo, type RunOutcome } from '../io.js';
import { lanMissing, SERVICE_ADDRESS } from '../lan.js';
import { garpAfter, LanCluster, LAN_SERVICE_MAC, readBridgeCapture, type BridgeView } from '../lan-cluster.js';
import { replicaCapturePaths, timelineText } from '../live-cluster.js';
import { ETCD_INSTALL_HINT, etcdVersion } from '../etcd-cluster.js';
import { hasCommand, kernelModeMissing } from '../netns.js';
import { demoLoad, runSteps, sayOnTimeline } from './live.js';
import { writeRunReport } from '../report/write-run.js';
import { demoOutcome, judgeDemo, printDemoReport } from './report.js';
import { checkRedisRun, redisMissing, type RedisReport } from './redis.js';
import type { DemoState, Failover, LanDemoSide, LiveDemoOptions } from './types.js';

/** What `--network lan` lacks on this machine, one sentence each (a link delay without netem goes through a delaying relay, lan-delay.ts). */
export function lanDemoMissing(o: { etcd?: boolean } = {}): string[] {
  const missing = lanMissing();
  for (const m of kernelModeMissing({ tcpdump: true })) if (!missing.includes(m)) missing.push(m);
  if (o.etcd === true && etcdVersion() === null) missing.push(ETCD_INSTALL_HINT);
  if (o.etcd === true && !hasCommand('curl', ['--version'])) missing.push('curl, to ask the etcd members for their health (apt-get install -y curl)');
  return missing;
}

export async function runLanDemo(o: LiveDemoOptions, io: LabIo): Promise<RunOutcome> {
  const missing = lanDemoMissing({ etcd: o.arbiter === 'etcd' });
  if (missing.length > 0) {
    io.stderr(`error: ftcp demo failover --network lan${o.linkDelayMs ? ` --link-delay-ms ${o.linkDelayMs}` : ''}${o.arbiter === 'etcd' ? ' --arbiter etcd' : ''} needs ${missing.join('; ')}\n`);
    return 'usage';
  }
  const noRedis = o.app === 'redis' ? redisMissing(true) : undefined;
  if (noRedis !== undefined) {
    io.stderr(`error: ftcp demo failover --network lan --app redis: ${noRedis}\n`);
    return 'usage';
  }
  const demo = new LanDemo(o, io);
  await demo.run();
  const report = judgeDemo(demo);
  printDemoReport(report, demo, io);
  if (o.noReport !== true) writeRunReport(demo.dir, report, io, o.json);
  return demoOutcome(report, demo.interrupted !== undefined);
}

class LanDemo implements DemoState {
  readonly kernelNs = undefined;
  readonly dir: string;
  readonly cluster: DemoState['cluster'];
  readonly timeline: Array<{ ms: number; text: string }> = [];
  readonly problems: string[] = [];
  readonly divergences: Array<DemoState['divergences'][number]> = [];
  readonly failover: Failover = { killed: 'a', killAtMs: 0, by: null, epoch: null, detectedMs: null, liveMs: null, clientResumedMs: null };
  readonly kernelSide = undefined;
  redisReport: RedisReport | undefined;
  killed = false;
  interrupted: string | undefined;
  clientResult: ChildEvent | undefined;
  backupExit: ChildEvent | undefined;
  lan: LanDemoSide | undefined;
  private lanCluster: LanCluster | undefined;
  private readonly t0 = wallClockMs();
  private lastProgressMs = 0;

  constructor(
    readonly o: LiveDemoOptions,
    private readonly io: LabIo,
  ) {
    this.dir = join(o.captureDir, `failover-lan-${o.app}-seed${o.seed}`);
    mkdirSync(this.dir, { recursive: true });
    this.cluster = { capturePaths: (name) => replicaCapturePaths(this.dir, name) };
  }

  say(text: string, atMs = wallClockMs()): void {
    sayOnTimeline(this, this.io, this.t0, text, atMs);
  }

  async run(): Promise<void> {
    const stopListening = onStopSignal((signal) => {
      this.interrupted = signal;
      this.say(`interrupted by ${signal}: stopping every child and removing the LAN`);
      void this.lanCluster?.stop();
    });
    this.printHeader();
    await runSteps(this.problems, [() => this.start(), () => this.kill(), () => this.waitForResult()], async () => {
      stopListening();
      await this.finish();
    });
  }

  private printHeader(): void {
    const { o, io } = this;
    if (o.json) return;
    io.stdout(`demo failover on a Linux bridge (network namespaces; replicas behind TAP devices; the kernel's TCP as the client): app ${o.app}, ${o.connections} connection(s), seed ${o.seed}${o.seedFromClock ? ' (from the wall clock)' : ''}\n`);
    io.stdout(`  heartbeat ${o.heartbeatMs} ms, failure timeout ${o.failureTimeoutMs} ms; kill -9 of the primary ${o.killAfterMs} ms after the load starts${o.linkDelayMs ? `; ${o.linkDelayMs} ms delay each way between the replica hosts (netem on their links, or a delaying relay on the log channel where the kernel has no netem)` : ''}\n`);
    io.stdout('timeline (wall clock, from the start):\n');
  }

  private onEvent(label: string, e: ChildEvent): void {
    const { failover } = this;
    const at = typeof e['atMs'] === 'number' ? e['atMs'] : wallClockMs();
    const name = typeof e['name'] === 'string' ? e['name'] : label;
    if (label === 'client' && e.event === 'resumed' && this.killed) failover.clientResumedMs = this.since(at);
    // On the LAN nothing registers the address: the RSM's gratuitous ARPs announce it.
    const text = e.event === 'registered' ? undefined : timelineText(label, e, this.o.connections);
    if (text !== undefined && (e.event !== 'progress' || at - this.lastProgressMs >= 1000)) {
      if (e.event === 'progress') this.lastProgressMs = at;
      this.say(text, at);
    }
    if (!label.startsWith('replica ')) return;
    if (e.event === 'suspect' && this.killed && name !== failover.killed && failover.detectedMs === null) failover.detectedMs = this.since(at);
    if ((e.event === 'fenced' || e.event === 'stopped') && !this.killed) this.problems.push(`${name} ${e.event} before the kill: a false failover (try a larger --failure-timeout-ms than ${this.o.failureTimeoutMs})`);
    if (e.event === 'fault') this.problems.push(`${name}: replication fault: ${String(e['message'])}`);
    if (e.event === 'divergence') {
      // The replica's own upstream app answered otherwise than the log.
      this.divergences.push({ replica: name, conn: e['conn'] as number, offset: e['offset'] as number, what: String(e['what']) });
      this.say(`${name}: DIVERGENCE on connection ${String(e['conn'])} at offset ${String(e['offset'])}: ${String(e['what'])}`, at);
    }
    const live = replicaEvent(e, 'live');
    if (live !== undefined && this.killed && name !== failover.killed) {
      failover.goLive = { r: live.r, lastIndex: live.lastIndex, reemitted: live.reemitted, reemittedEntries: live.reemittedEntries };
      failover.liveMs = this.since(at);
      failover.by = name;
      failover.epoch = live.epoch;
      this.lanCluster?.client?.signal('SIGUSR1');
    }
  }

  private since(atMs: number): number | null {
    return this.killed ? Math.round((atMs - this.failover.killAtMs) * 100) / 100 : null;
  }

  private async start(): Promise<void> {
    const o = this.o;
    this.say('building the LAN: a bridge in its own namespace, hosts a, b (replicas), arb (arbiter), c1 (client); IPv6 off');
    const c = await LanCluster.start({
      dir: this.dir,
      app: o.app === 'http' || o.app === 'redis' ? 'echo' : o.app,
      seed: o.seed,
      bulkBytes: o.app === 'bulk' ? o.bytes : 1_000_000,
      heartbeatMs: o.heartbeatMs,
      failureTimeoutMs: o.failureTimeoutMs,
      mtu: o.mtu,
      ...(o.linkDelayMs !== undefined ? { linkDelayMs: o.linkDelayMs } : {}),
      ...(o.app === 'http' || o.app === 'redis' ? { upstream: o.app } : {}),
      ...(o.arbiter === 'etcd' ? { arbiter: 'etcd' as const } : {}),
      onEvent: (label, e) => this.onEvent(label, e),
    });
    this.lanCluster = c;
    const host = (n: string) => c.lan.host(n);
    const arbiter = c.etcd !== undefined ? `etcd cluster ${c.arbiterAddress} (members on a, b and arb, pids ${[0, 1, 2].map((i) => c.etcd!.pid(i)).join(', ')})` : `arbiter on ${c.arbiterAddress} (pid ${c.arbiter!.pid})`;
    this.say(`LAN ${c.lan.prefix}: bridge lan0 in ${c.lan.switchNetns}, tcpdump on it; ${arbiter}`);
    for (const u of c.upstreams.values()) this.say(`upstream app on ${u.host}: ${u.app === 'redis' ? 'redis-server' : 'a Node HTTP server'} on its own loopback ${u.address} (pid ${u.pid}), replica ${u.host}'s --upstream`);
    for (const n of ['a', 'b'] as const) this.say(`replica ${n} (pid ${c.replicas.get(n)!.pid}) on ${host(n).address}, behind tap0 on br0 (socat pid ${c.lan.tap(n)!.pid}), service ${SERVICE_ADDRESS} at ${LAN_SERVICE_MAC}`);
    const load = demoLoad(o, true);
    const client = await c.startClient({ ...load, app: load.app ?? o.app, seed: o.seed, bulkBytes: o.app === 'bulk' ? o.bytes : 1_000_000, tool: o.kernelTool ?? 'node' });
    const how = o.app === 'redis' ? 'redis-cli, one per connection' : o.kernelTool === 'curl' ? 'curl, one keep-alive connection each' : o.kernelTool === 'nc' ? 'nc -N' : 'node net';
    this.say(`client started in ${host('c1').netns} (pid ${client.pid}, ${how}): ${o.connections} ${o.app} connection(s) from ${host('c1').address} to ${SERVICE_ADDRESS}:7070 on the kernel's TCP`);
  }

  private async kill(): Promise<void> {
    const c = this.lanCluster!;
    const client = c.client!;
    let timer: NodeJS.Timeout | undefined;
    const finishedEarly = await Promise.race([new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.o.killAfterMs))), client.exited.then(() => true)]);
    clearTimeout(timer);
    if (this.interrupted !== undefined) throw new Error(`interrupted by ${this.interrupted}`);
    if (finishedEarly) {
      this.problems.push(`the load finished before the kill at ${this.o.killAfterMs} ms; lower --kill-after-ms or raise --bytes`);
      return;
    }
    this.failover.killAtMs = c.kill('a');
    this.killed = true;
    this.say(`kill -9 replica a (pid ${c.replicas.get('a')!.pid}), the primary, in the middle of the load; its host's port on the bridge stays up`, this.failover.killAtMs);
  }

  private async waitForResult(): Promise<void> {
    const c = this.lanCluster!;
    const result = await c.client!.waitFor((e) => e.event === 'result', 90_000, 'its result line');
    this.clientResult = result;
    this.say(`client: finished: ${JSON.stringify((result['streams'] as object) ?? {})}, resets ${String(result['resets'])}`, typeof result['atMs'] === 'number' ? result['atMs'] : wallClockMs());
    if (this.o.app === 'redis') {
      // Asked before the LAN goes: the survivor's redis-server lives in its host's namespace.
      const servers = Object.fromEntries([...c.upstreams].flatMap(([n, u]) => (u.redis !== undefined ? [[n, u.redis]] : [])));
      const checked = await checkRedisRun(servers, this.killed ? 'b' : 'a', result);
      this.redisReport = checked.report;
      this.problems.push(...checked.problems);
      const s = checked.report.survivor;
      if (s !== null) this.say(`redis: the surviving Redis (${s.replica}'s) holds ${s.counter ?? 'nil'}, the client last saw ${s.clientLast}`);
    }
    const survivor = c.replicas.get('b');
    if (survivor !== undefined && survivor.running) {
      await survivor.stop();
      this.backupExit = survivor.events.find((e) => e.event === 'exit');
    }
  }

  /** Stops and removes everything; reads the bridge capture for the GARP. */
  private async finish(): Promise<void> {
    const c = this.lanCluster;
    if (c === undefined) return;
    const report = await c.stop();
    let bridge: BridgeView | null = null;
    try {
      bridge = readBridgeCapture(report.bridge.file);
    } catch (error) {
      report.notes.push(`reading ${report.bridge.file}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const garp = this.killed && bridge !== null ? (garpAfter(bridge, this.failover.killAtMs) ?? null) : null;
    this.lan = { report, bridge, garpAfterKill: garp };
    if (garp !== null) this.say(`bridge capture: gratuitous ARP from ${LAN_SERVICE_MAC} for ${SERVICE_ADDRESS} (frame ${garp.frame}); the bridge moves the service MAC to b's port`, garp.atMs);
    this.say(`removed the LAN (${c.lan.prefix}-*), every child, socat and tcpdump`);
  }
}
