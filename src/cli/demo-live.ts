/**
 * `ftcp demo failover` without --sim: the failover demo with real processes on loopback
 * (the main job; `npm start` runs it).
 *
 * Starts the arbiter and the switch, primary a and backup b, and one client process with N
 * connections; kill -9s the primary --kill-after-ms after the load starts; the backup
 * suspects it, wins the test-and-set, goes live and re-emits; the client finishes. Prints
 * the timeline as it happens, then the result, where the captures are and the tshark
 * command that shows the cut-over. With --json the last line of stdout is the report, with
 * the fields of the simulated demo's report. Every child is stopped, by pid, on exit,
 * error or Ctrl-C.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Child, ChildEvent } from '../lab/children.js';
import { wallClockMs } from '../net/clock.js';
import { checkBulkUploads, compareReemitted, DEMO_MTU, LiveCluster, readWireView, splitBrainEpochs, timelineText } from '../lab/live-cluster.js';
import { TcpRelay } from '../lab/tcp-relay.js';
import type { LoadApp } from '../sim/cluster-load.js';
import { startHttpUpstream, type UpstreamServer } from '../lab/upstream-servers.js';
import { EXIT, type CliIo } from './io.js';
import { describeKernel, describeKernelTool, kernelResetProblem, KernelSide, kernelToolSummary, kernelSwitchArgs, runKernelDemo, startKernelClient } from './demo-kernel.js';
import { DEFAULT_TUN_MTU, KERNEL_ADDRESS, TUN_DEVICE } from '../lab/netns.js';
import type { RedisServer } from '../lab/redis-server.js'; // redis
import { checkRedisRun, describeRedis, redisMissing, startRedisUpstreams, type RedisReport } from './demo-redis.js'; // redis
import type { KernelTool } from '../lab/kernel-tools.js';
export interface LiveDemoOptions {
  /** 'http': a Node HTTP server upstream of each replica (`ftcp replica --upstream`); 'redis': a redis-server. */
  app: LoadApp;
  connections: number;
  seed: number;
  seedFromClock: boolean;
  /** bulk: bytes each way per connection; echo: about this many bytes echoed per connection. */
  bytes: number;
  killAfterMs: number;
  captureDir: string;
  unsafe: boolean;
  heartbeatMs: number;
  failureTimeoutMs: number;
  json: boolean;
  /** The replicas' and the client's link MTU (MSS = mtu - 40). */
  mtu: number;
  // ---- the kernel as the client (demo-kernel.ts) ----
  client?: 'ftcp' | 'kernel';
  tunMtu?: number;
  /** The kernel client: node (net sockets), curl (http) or nc (echo); kernel-tools.ts. */
  kernelTool?: KernelTool;
  /** Set in the run inside the network namespace that the outer run made. */
  netnsInner?: string;
}

/** Unsafe mode: the log channel is cut this long before the kill (less than the failure timeout). */
const UNSAFE_CUT_BEFORE_KILL_MS = 30;

interface Failover {
  killed: string;
  killAtMs: number;
  by: string | null;
  epoch: number | null;
  detectedMs: number | null;
  liveMs: number | null;
  clientResumedMs: number | null;
}

/** Runs the demo; resolves with the exit code. */
export async function runLiveDemo(o: LiveDemoOptions, io: CliIo): Promise<number> {
  // --client kernel first makes a network namespace and runs this again inside it.
  const kernelNs = o.client === 'kernel' ? o.netnsInner : undefined;
  if (o.client === 'kernel' && kernelNs === undefined) return runKernelDemo(o, io);
  const noRedis = o.app === 'redis' ? redisMissing(o.client === 'kernel') : undefined; // redis
  if (noRedis !== undefined) {
    io.stderr(`error: ftcp demo failover --app redis: ${noRedis}\n`);
    return EXIT.usage;
  }
  let kernelSide: KernelSide | undefined;
  const dir = join(o.captureDir, `failover-live-${o.app}-seed${o.seed}${o.unsafe ? '-unsafe' : ''}${kernelNs !== undefined ? '-kernel' : ''}`);
  mkdirSync(dir, { recursive: true });
  const t0 = wallClockMs();
  const timeline: Array<{ ms: number; text: string }> = [];
  const say = (text: string, atMs = wallClockMs()) => {
    const ms = Math.max(0, Math.round(atMs - t0));
    timeline.push({ ms, text });
    if (!o.json) io.stdout(`  ${`+${ms} ms`.padStart(10)}  ${text}\n`);
  };
  const problems: string[] = [];
  const divergences: Array<{ replica: string; conn: number; offset: number; what: string }> = [];
  const failover: Failover = { killed: 'a', killAtMs: 0, by: null, epoch: null, detectedMs: null, liveMs: null, clientResumedMs: null };
  let killed = false;
  let serviceHolder: string | undefined;
  let client: Child | undefined;
  let lastProgressMs = 0;
  let lastProgressBytes: unknown;
  const since = (atMs: unknown) => (typeof atMs === 'number' && killed ? Math.round((atMs - failover.killAtMs) * 100) / 100 : null);

  const onEvent = (label: string, e: ChildEvent) => {
    const at = typeof e['atMs'] === 'number' ? e['atMs'] : wallClockMs();
    const name = typeof e['name'] === 'string' ? e['name'] : label;
    const progress = label === 'client' && e.event === 'progress';
    const text = timelineText(label, e, o.connections);
    if (text !== undefined && (!progress || (at - lastProgressMs >= 1000 && e['bytesReceived'] !== lastProgressBytes))) {
      if (progress) {
        lastProgressMs = at;
        lastProgressBytes = e['bytesReceived'];
      }
      say(text, at);
    }
    if (label === 'client' && e.event === 'resumed' && killed) failover.clientResumedMs = since(at);
    if (!label.startsWith('replica ')) return;
    switch (e.event) {
      case 'registered':
        serviceHolder = name;
        return;
      case 'suspect':
        if (killed && name !== failover.killed && failover.detectedMs === null) failover.detectedMs = since(at);
        return;
      case 'fenced':
      case 'stopped':
        if (!killed) problems.push(`${name} ${e.event} before the kill: a false failover (the machine is slow for --failure-timeout-ms ${o.failureTimeoutMs}; try a larger one)`);
        return;
      case 'live':
        if (killed && name !== failover.killed) {
          failover.liveMs = since(at);
          failover.by = name;
          failover.epoch = e['epoch'] as number;
          client?.signal('SIGUSR1');
        }
        return;
      case 'fault':
        problems.push(`${name}: replication fault: ${String(e['message'])}`);
        return;
      case 'divergence': // the replica's own upstream app answered otherwise than the log
        divergences.push({ replica: name, conn: e['conn'] as number, offset: e['offset'] as number, what: String(e['what']) });
        say(`${name}: DIVERGENCE on connection ${String(e['conn'])} at offset ${String(e['offset'])}: ${String(e['what'])}`, at);
        return;
      default:
        return;
    }
  };

  const cluster = new LiveCluster({
    dir,
    app: o.app === 'http' || o.app === 'redis' ? 'echo' : o.app, // with an upstream app the replicas' --app only picks their warm-up
    seed: o.seed,
    bulkBytes: o.app === 'bulk' ? o.bytes : 1_000_000,
    heartbeatMs: o.heartbeatMs,
    failureTimeoutMs: o.failureTimeoutMs,
    unsafeNoOutputRule: o.unsafe,
    mtu: o.mtu,
    onEvent,
    ...(kernelNs !== undefined ? { switchArgs: kernelSwitchArgs() } : {}),
  });
  let relay: TcpRelay | undefined;
  let interrupted: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
    say(`interrupted by ${signal}: stopping every child`);
    void cluster.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  if (!o.json) {
    if (kernelNs !== undefined) io.stdout(`demo failover with the Linux kernel as the client, in network namespace ${kernelNs} (its own loopback; TUN device ${TUN_DEVICE} at ${KERNEL_ADDRESS}/24, mtu ${o.tunMtu ?? DEFAULT_TUN_MTU})\n`);
    io.stdout(`demo failover (real processes on loopback): app ${o.app}, ${o.connections} connection(s), seed ${o.seed}${o.seedFromClock ? ' (from the wall clock)' : ''}${o.unsafe ? ', UNSAFE: no output rule' : ''}\n`);
    io.stdout(`  heartbeat ${o.heartbeatMs} ms, failure timeout ${o.failureTimeoutMs} ms; kill -9 of the primary ${o.killAfterMs} ms after the load starts\n`);
    io.stdout('timeline (wall clock, from the start):\n');
  }
  let clientResult: ChildEvent | undefined;
  let backupExit: ChildEvent | undefined;
  // --app http: one Node HTTP server per replica, each replica's own upstream app.
  let upstreams: Record<string, UpstreamServer> | undefined;
  // --app redis: one redis-server per replica, and what the surviving one holds afterwards.
  let redisServers: Record<string, RedisServer> | undefined;
  let redisReport: RedisReport | undefined;
  const upstreamArgs = (name: string) =>
    redisServers?.[name] !== undefined
      ? ['--upstream', `127.0.0.1:${redisServers[name].port}`, '--upstream-app', 'redis']
      : upstreams?.[name] !== undefined
        ? ['--upstream', `127.0.0.1:${upstreams[name].port}`]
        : [];
  try {
    if (o.app === 'redis') {
      redisServers = await startRedisUpstreams(['a', 'b']);
      say(`upstream apps: redis-server on 127.0.0.1:${redisServers['a']!.port} (pid ${redisServers['a']!.pid}, for a) and 127.0.0.1:${redisServers['b']!.port} (pid ${redisServers['b']!.pid}, for b), persistence off`);
    }
    if (o.app === 'http') {
      const [ua, ub] = await Promise.all([startHttpUpstream(), startHttpUpstream()]);
      upstreams = { a: ua!, b: ub! };
      say(`upstream apps: Node HTTP servers on 127.0.0.1:${ua!.port} (for a) and 127.0.0.1:${ub!.port} (for b)`);
    }
    await cluster.startNetwork();
    say(`arbiter on 127.0.0.1:${cluster.arbiterPort} (pid ${cluster.arbiter.pid}), switch on 127.0.0.1:${cluster.switchPort} (pid ${cluster.switch.pid})`);
    // socat's TUN device, bridged to the switch; tcpdump on it; the kernel's counters.
    if (kernelNs !== undefined) {
      kernelSide = await KernelSide.start({ netns: kernelNs, switchPort: cluster.switchPort, mtu: o.tunMtu ?? DEFAULT_TUN_MTU, dir });
      say(`socat bridges TUN device ${TUN_DEVICE} (${KERNEL_ADDRESS}/24, pid ${kernelSide.bridge.pid}) to the switch${kernelSide.tcpdump !== undefined ? `; tcpdump on it (pid ${kernelSide.tcpdump.pid})` : ''}`);
    }
    const a = await cluster.startReplica('a', 'primary', 'b', undefined, upstreamArgs('a'));
    say(`replica a started as primary (pid ${a.pid}), log channel on 127.0.0.1:${cluster.logPorts.get('a')}`);
    // Unsafe mode, as in the simulator: b reaches a through a relay that is cut just before
    // the kill, so the last entries never reach b while the clients already saw their outputs.
    if (o.unsafe) relay = await TcpRelay.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: cluster.logPorts.get('a')! });
    const b = await cluster.startReplica('b', 'backup', 'a', relay === undefined ? 'a' : undefined, upstreamArgs('b'), relay?.local.port);
    say(`replica b started as backup (pid ${b.pid}), dialling a`);
    await a.waitFor((e) => e.event === 'registered', 20_000, 'the switch\'s confirmation of the service address');
    // An unsafe run that breaks leaves streams that never finish: give up on them sooner.
    const loadArgs = ['--connections', String(o.connections), '--progress-ms', '250', '--timeout-ms', o.unsafe ? '8000' : '60000'];
    // curl paces by --rate (1000 / mean think time), so 4-6 ms keeps 100 requests past the kill.
    if (o.app === 'http') loadArgs.push('--app', 'http', '--requests', '100-150', '--think-ms', kernelNs !== undefined ? '4-6' : '1-5');
    if (o.app === 'redis') loadArgs.push('--app', 'redis', '--requests', '100-150', '--think-ms', '1-5');
    if (o.app === 'echo') loadArgs.push('--requests', `${Math.max(1, Math.round(o.bytes / 3000))}-${Math.max(1, Math.round(o.bytes / 1500))}`);
    client = kernelNs !== undefined ? await startKernelClient(cluster.children, { app: o.app, seed: o.seed, bulkBytes: o.app === 'bulk' ? o.bytes : 1_000_000, tool: o.kernelTool ?? 'node' }, loadArgs) : await cluster.startClient('client', loadArgs);
    const loadStartMs = wallClockMs();
    say(`client started (pid ${client.pid}): ${o.connections} ${o.app} connection(s) to 192.0.2.10:7070${kernelNs !== undefined ? ` on the kernel's TCP (${o.app === 'redis' ? 'redis-cli, one per connection' : o.kernelTool === 'curl' ? 'curl, one keep-alive connection each' : o.kernelTool === 'nc' ? 'nc -N, a seeded byte pattern each' : 'node net'})` : ''}`);

    // The kill, --kill-after-ms after the load started, of whichever replica holds the service.
    const wait = Math.max(0, o.killAfterMs - (wallClockMs() - loadStartMs));
    let killTimer: NodeJS.Timeout | undefined;
    const finishedEarly = await Promise.race([
      new Promise<boolean>((r) => (killTimer = setTimeout(() => r(false), wait))),
      client.exited.then(() => true),
    ]);
    clearTimeout(killTimer);
    if (interrupted !== undefined) throw new Error(`interrupted by ${interrupted}`);
    if (finishedEarly) {
      problems.push(`the load finished before the kill at ${o.killAfterMs} ms; lower --kill-after-ms or raise --bytes`);
    } else {
      const victimName = serviceHolder ?? 'a';
      const victim = cluster.replicas.get(victimName)!;
      failover.killed = victimName;
      if (!victim.running) problems.push(`replica ${victimName} had already exited before the kill`);
      if (relay !== undefined) {
        relay.cut();
        say('the log channel between a and b is cut (unsafe mode: so that the missing output rule shows)');
        await new Promise((r) => setTimeout(r, UNSAFE_CUT_BEFORE_KILL_MS));
      }
      failover.killAtMs = wallClockMs();
      killed = true;
      victim.signal('SIGKILL');
      say(`kill -9 replica ${victimName} (pid ${victim.pid}), the primary, in the middle of the load`, failover.killAtMs);
    }
    clientResult = await client.waitFor((e) => e.event === 'result', 90_000, 'its result line');
    say(`client: finished: ${JSON.stringify((clientResult['streams'] as object) ?? {})}, resets ${String(clientResult['resets'])}`, typeof clientResult['atMs'] === 'number' ? clientResult['atMs'] : wallClockMs());
    const survivor = failover.by ?? (failover.killed === 'a' ? 'b' : 'a');
    // the surviving replica's Redis, asked directly, against what the client last saw.
    if (redisServers !== undefined) {
      const checked = await checkRedisRun(redisServers, killed ? survivor : failover.killed, clientResult);
      redisReport = checked.report;
      problems.push(...checked.problems);
      if (redisReport.survivor !== null) say(`redis: the surviving Redis (${redisReport.survivor.replica}'s) holds ${redisReport.survivor.counter ?? 'nil'}, the client last saw ${redisReport.survivor.clientLast}`);
    }
    const sv = cluster.replicas.get(survivor);
    if (sv !== undefined && sv.running) {
      await sv.stop();
      backupExit = sv.events.find((e) => e.event === 'exit');
    }
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await relay?.close();
    await kernelSide?.stop();
    await cluster.stop();
    await Promise.all(Object.values(upstreams ?? {}).map((u) => u.close()));
    await Promise.all(Object.values(redisServers ?? {}).map((r) => r.stop())); // redis, by pid
  }
  if (clientResult !== undefined && o.app === 'bulk') problems.push(...checkBulkUploads(clientResult, backupExit));
  // a reset seen on the wire, whichever tool was the client (nc cannot say).
  const kernelReset = kernelResetProblem(kernelSide?.report);
  if (kernelReset !== undefined) problems.push(kernelReset);

  // ---- verdicts, from the client's result and the replicas' captures
  const a = readWireView(cluster.capturePaths('a').wire);
  const b = readWireView(cluster.capturePaths('b').wire);
  const killedView = failover.killed === 'a' ? a : b;
  const survivorView = failover.killed === 'a' ? b : a;
  const reemitted = killed ? compareReemitted(killedView, survivorView) : { segments: 0, sentByPrimary: 0, identicalToPrimary: 0 };
  if (reemitted.identicalToPrimary !== reemitted.sentByPrimary) problems.push(`${reemitted.sentByPrimary - reemitted.identicalToPrimary} re-emitted segment(s) differ from the primary's copy of the same segment`);
  const split = splitBrainEpochs([a, b]);
  if (split.length > 0) problems.push(`split brain: both replicas emitted client packets in epoch(s) ${split.join(', ')}`);
  if (killed && failover.liveMs === null) problems.push(`replica ${failover.killed} was killed and nobody went live`);
  const streams = (clientResult?.['streams'] as { intact: number; broken: number } | undefined) ?? { intact: 0, broken: o.connections };
  const resets = (clientResult?.['resets'] as number | undefined) ?? 0;
  for (const p of (clientResult?.['problems'] as string[] | undefined) ?? []) problems.push(`client: ${p}`);
  if (clientResult === undefined && problems.length === 0) problems.push('the client gave no result');
  const ok = problems.length === 0;
  const survivorName = failover.killed === 'a' ? 'b' : 'a';
  const captures = {
    client: join(dir, 'client.pcapng'),
    primary: cluster.capturePaths(failover.killed).wire,
    backup: cluster.capturePaths(survivorName).wire,
    shadow: cluster.capturePaths(survivorName).shadow,
    log: cluster.capturePaths(survivorName).log,
  };
  const command = `ftcp demo failover${kernelNs !== undefined ? ` --client kernel --kernel-tool ${o.kernelTool ?? 'node'} --tun-mtu ${o.tunMtu ?? DEFAULT_TUN_MTU}` : ''} --seed ${o.seed} --app ${o.app} --connections ${o.connections} --bytes ${o.bytes} --kill-after-ms ${o.killAfterMs}${o.mtu !== DEMO_MTU ? ` --mtu ${o.mtu}` : ''}${o.unsafe ? ' --unsafe-no-output-rule' : ''}`;
  const report = {
    ok,
    seed: o.seed,
    app: o.app,
    connections: o.connections,
    unsafe: o.unsafe,
    streams,
    resets,
    failover: {
      detectedMs: failover.detectedMs,
      liveMs: failover.liveMs,
      clientResumedMs: failover.clientResumedMs,
      killed: killed ? failover.killed : null,
      by: failover.by,
      epoch: failover.epoch,
    },
    reemitted,
    client: {
      duplicateSegmentsDropped: (clientResult?.['duplicateSegmentsDropped'] as number | undefined) ?? null,
      retransmits: (clientResult?.['retransmits'] as number | undefined) ?? null,
      ...(kernelSide !== undefined ? kernelToolSummary(clientResult, o.kernelTool ?? 'node') : {}),
    },
    splitBrain: split.length,
    ...(clientResult?.['counter'] !== undefined ? { counter: clientResult['counter'] } : {}),
    ...(o.app === 'http' || o.app === 'redis' ? { divergences: divergences.length, divergenceList: divergences.slice(0, 20) } : {}),
    ...(redisReport !== undefined ? { redis: redisReport } : {}),
    ...(kernelSide !== undefined ? { kernel: kernelSide.report } : {}),
    problems,
    captures,
    command,
    timeline,
  };

  if (o.json) {
    io.stdout(`${JSON.stringify(report)}\n`);
  } else {
    const after = (v: number | null) => (v === null ? 'never' : `${v} ms`);
    const lines = [
      `result: ${ok ? 'ok' : 'FAILED'}`,
      `  streams: ${streams.intact} intact, ${streams.broken} broken; resets: ${resets}; split brain: ${split.length} epoch(s)`,
      ...(killed ? [`  after the kill: detected ${after(failover.detectedMs)}, live ${after(failover.liveMs)}, client resumed ${after(failover.clientResumedMs)}`] : []),
      `  re-emitted ${reemitted.segments} segment(s); the primary had sent ${reemitted.sentByPrimary} of them, ${reemitted.identicalToPrimary} byte-identical; ${kernelSide !== undefined ? 'what the kernel dropped is below' : `the client dropped ${String(report.client.duplicateSegmentsDropped)} duplicate segment(s)`}`, // kernel
      ...(report.counter !== undefined ? [`  counter: ${JSON.stringify(report.counter)}`] : []),
      ...(o.app === 'http' || o.app === 'redis' ? [`  upstream app: ${divergences.length} divergence(s) between a replica's own ${o.app === 'http' ? 'HTTP server' : 'Redis'} and the log`] : []),
      ...(redisReport !== undefined ? describeRedis(redisReport) : []),
      ...(o.app === 'bulk' && clientResult !== undefined && !problems.some((p) => p.startsWith('bulk:')) ? [`  bulk: every upload (${((clientResult['uploads'] as unknown[] | undefined) ?? []).length}) matches the SHA-256 the surviving server app computed`] : []),
      ...(kernelSide !== undefined ? [describeKernelTool(report.client as ReturnType<typeof kernelToolSummary>), ...describeKernel(kernelSide.report)] : []),
      ...problems.slice(0, 10).map((p) => `  problem: ${p.split('\n')[0]}`),
      `captures (pcapng, wall-clock timestamps) in ${dir}/:`,
      `  client.pcapng (the switch's view of the clients), ${failover.killed}.pcapng (primary), ${survivorName}.pcapng (backup), ${survivorName}-shadow.pcapng, ${survivorName}-log.pcapng and ${failover.killed}-log.pcapng (log channel and arbiter)`,
      'the cut-over, as the client saw it (the switch comments the move of the service address):',
      `  tshark -r ${captures.client} -Y 'frame.comment || tcp.analysis.retransmission || tcp.analysis.duplicate_ack' -T fields -e frame.time_relative -e ip.src -e ip.dst -e tcp.seq -e tcp.len -e frame.comment`,
      'the re-emitted segments:',
      `  tshark -r ${captures.backup} -Y 'frame.comment contains "re-emitted"' -T fields -e frame.number -e tcp.seq -e tcp.len -e frame.comment`,
      `reproduce: ${command}`,
    ];
    io.stdout(`${lines.join('\n')}\n`);
  }
  if (interrupted !== undefined) return 130;
  if (ok) return EXIT.ok;
  if (resets > 0) return EXIT.connection;
  if (problems.some((p) => p.includes('nobody went live') || p.includes('stalled'))) return EXIT.liveness;
  return EXIT.correctness;
}
