/**
 * `ftcp demo failover`: the scripted failover demo (DESIGN.md, "Who uses it", 3).
 *
 *   ftcp demo failover --sim --seed S [--app A] [--connections N] [--json]
 *                      [--capture-dir D] [--unsafe-no-output-rule]
 *
 * Runs one cluster in the simulator (src/sim/cluster.ts): clients load the service, the
 * primary is killed at a seeded moment, the backup takes over; prints a short timeline and
 * what the clients saw, writes the five captures. With --json the last line of stdout is
 * the report: ok, seed, app, connections, streams, resets, failover, reemitted,
 * client, splitBrain, captures.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { APP_NAMES } from '../proxy/app.js';
import { CLUSTER_CAPTURES, type ClusterCaptureName } from '../pcap/vantage.js';
import { runCluster, type ClusterResult } from '../sim/cluster.js';
import { EXIT, exitCodeOf, UsageError, type CliIo } from './io.js';
import { FAILURE_TIMEOUT_MAX_HELP, FAILURE_TIMEOUT_START_HELP, optional, parseFailureTimeoutMax, parseFailureTimeoutStart } from './failure-timeout-max-flag.js';
import { MAX_LOGGED_PACKET_BYTES } from '../replica/primary.js';
import { DEMO_MTU } from '../lab/live-cluster.js';
import { runLiveDemo } from '../lab/demo/live.js';
import { MAX_CPU_HOGS, withCpuHogs } from '../lab/cpu-hogs.js';
import { parseCpuHogs } from './cpu-hogs-flag.js';
import { refuseLiveOnlyFlags } from './live-only-flags.js';
import { runLanDemo } from '../lab/demo/lan.js';
import { resentLines, simResent, type SimResent } from '../lab/demo/resent.js';
import type { LiveDemoOptions } from '../lab/demo/types.js';
import { defaultKernelTool, parseKernelTool } from './kernel-client.js';
import { parsePositiveMs, parseProfile, parseReplicaMtu } from './replica.js';
import { checkOutputDir, parseByteCount, parseIntegerFlag, parseLoadApp, parseMilliseconds, parseSeed } from './validate.js';
import { helpAfter } from './help-layout.js';

interface FailoverFlags {
  cpuHogs: string;
  sim?: boolean;
  bytes: string;
  killAfterMs: string;
  killMoment: string;
  heartbeatMs: string;
  failureTimeoutMs: string;
  failureTimeoutMaxMs?: string;
  failureTimeoutStartMs?: string;
  mtu: string;
  seed?: string;
  app: string;
  connections: string;
  json?: boolean;
  captureDir: string;
  report?: boolean;
  unsafeNoOutputRule?: boolean;
  // ---- the kernel as the client ----
  client?: string;
  tunMtu: string;
  kernelTool?: string;
  netnsInner?: string;
  // ---- a real Linux bridge ----
  network: string;
  linkDelayMs?: string;
  arbiter?: string;
  profile?: string;
}

export function registerDemoCommands(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const demo = program.command('demo').description('scripted demonstrations of failover');
  demo
    .command('failover')
    .description(
      'clients load a replicated service (primary 192.0.2.11, backup 192.0.2.12, service address 192.0.2.10);\n' +
        'the primary is killed and the backup takes over; prints the timeline and what the clients saw, and\n' +
        'writes pcapng captures of the client side, both replicas, the shadow and the log channel.\n' +
        'By default with real processes on loopback (arbiter, switch, two replicas, a client; kill -9 after\n' +
        '--kill-after-ms; no root needed); with --sim in the deterministic simulator at a seeded moment.',
    )
    .option('--sim', 'run in the deterministic simulator instead of real processes')
    .option('--profile <profile>', 'the replicas\' stack choices where the RFCs allow more than one: rfc (default) or linux (docs/conformance.md, "Profiles"); with --sim or --network loopback')
    .option('--seed <s>', 'run seed, 0..4294967295: fixes every random choice (default: from the wall clock, printed)')
    .option('--app <name>', `the built-in app behind the service: ${APP_NAMES.join(', ')}; or http: an HTTP server upstream of each\nreplica (Node's http on loopback; with --sim the simulator's fake), keep-alive requests; or redis:\na redis-server per replica, RESP clients (INCR, SET/GET; real processes only)`, 'counter')
    .option('--connections <n>', 'client connections, 1..1000', '3')
    .option('--bytes <n>', 'real processes: bulk: bytes each way per connection; echo: about this many bytes echoed per connection', '1M')
    .option('--kill-after-ms <ms>', 'real processes: kill -9 the primary this long after the load starts', '300')
    .option('--kill-moment <m>', 'real processes on loopback: in-flight (the primary dies with output the client has but the backup\nwas not told of, so the backup re-sends it and the client drops the duplicate; arranged on the log\nchannel through a relay) or any (a plain kill at --kill-after-ms, whatever is in flight)', 'in-flight')
    .option('--mtu <bytes>', `real processes: the replicas' and the client's link MTU, 68..${MAX_LOGGED_PACKET_BYTES} (MSS = mtu - 40)`, String(DEMO_MTU))
    .option('--heartbeat-ms <ms>', 'real processes: H, the log channel\'s heartbeat', '10')
    .option('--failure-timeout-ms <ms>', 'real processes: D, silence before the arbiter is asked', '50')
    .option('--failure-timeout-max-ms <ms>', `real processes: ${FAILURE_TIMEOUT_MAX_HELP}`)
    .option('--failure-timeout-start-ms <ms>', `real processes: ${FAILURE_TIMEOUT_START_HELP}`)
    .option('--json', 'print the report as one JSON object on the last line of stdout')
    .option('--cpu-hogs <n>', `real processes only: run N busy processes beside the demo, 0..${MAX_CPU_HOGS}, to try failure detection on an overloaded machine`, '0')
    .option('--no-report', 'real processes: do not write report.json and report.html (the page of the run) beside the captures')
    .option('--capture-dir <dir>', 'write the captures to <dir>/failover-live-<app>-seed<S>/{client,a,b,b-shadow,a-log,b-log}.pcapng\n(with --sim: <dir>/failover-<app>-seed<S>/{client,primary,backup,shadow,log}.pcapng)', 'captures')
    .option('--unsafe-no-output-rule', 'teaching mode: release outputs before the backup has the log entry (and cut the log\nchannel just before the kill), to see what the output rule prevents')
    // ---- the kernel as the client (src/lab/demo/kernel.ts) ----
    .option('--client <kind>', 'real processes: ftcp (the load client, on ftcp\'s own stack) or kernel (Linux\'s own TCP, through a TUN\ndevice in a network namespace made for the run; needs root and socat) (default: ftcp; kernel with --network lan)')
    .option('--tun-mtu <bytes>', '--client kernel: MTU of the TUN device', '1500')
    .option('--kernel-tool <name>', '--client kernel: node (Node net sockets, every built-in app; the default), curl (--app http, its\ndefault: keep-alive requests, every body checked) or nc (--app echo: a seeded byte pattern, compared byte for byte)')
    // ---- a real Linux bridge (src/lab/demo/lan.ts) ----
    .option('--network <kind>', 'real processes: loopback (the UDP switch) or lan: network namespaces on a Linux bridge, each replica\nbehind a TAP device on its host\'s bridge, the arbiter and a kernel client on hosts of their own; the new\nprimary\'s gratuitous ARP moves the service (needs root, socat, tcpdump; the kernel is the client)', 'loopback')
    .option('--arbiter <kind>', '--network lan: embedded (ftcp arbiter on a host of its own; the default) or etcd (a three-member etcd\ncluster, one member on each replica host and on the arbiter host)')
    .option('--link-delay-ms <ms>', '--network lan: delay between the replica hosts, each way (netem on their links; without netem, a delaying relay\non the log channel)')
    .addOption(new Option('--netns-inner <name>', 'internal: this run is the one inside the namespace').hideHelp())
    .addHelpText(
      'after',
      helpAfter('\nExit codes: 0 ok; 1 a stream was wrong, split brain or a replication fault; 2 bad usage;\n' +
        '3 a stream stalled or nobody went live; 4 a connection was reset; 5 the code threw.\n\n' +
        'Examples:\n  ftcp demo failover --app bulk --connections 3 --bytes 2M\n  ftcp demo failover --sim --seed 7 --app kv --connections 4 --json')
    )
    .action(async (flags: FailoverFlags, command: Command) => {
      const lan = parseNetwork(flags) === 'lan';
      if (lan && flags.sim === true) throw new UsageError('--network lan runs real processes on a Linux bridge; drop --sim');
      if (lan && flags.client === 'ftcp') throw new UsageError('--network lan has the kernel\'s TCP as the client; drop --client ftcp');
      if (flags.sim === true && flags.client === 'kernel') throw new UsageError('--client kernel runs real processes; drop --sim');
      if (lan && flags.profile !== undefined) throw new UsageError('--profile is for --sim and --network loopback (the lan lab does not pass it on yet)');
      if (flags.app === 'redis' && flags.sim === true) throw new UsageError('--app redis runs real redis-server processes; drop --sim');
      if (flags.kernelTool !== undefined && flags.client !== 'kernel' && !lan) throw new UsageError('--kernel-tool needs --client kernel or --network lan');
      const hogs = parseCpuHogs(flags.cpuHogs);
      if (hogs > 0 && flags.sim === true) throw new UsageError('--cpu-hogs loads the machine for real processes; drop --sim (the simulator runs in virtual time)');
      if (flags.sim === true) refuseLiveOnlyFlags(command); // --kill-after-ms, --bytes, ... would be ignored
      setExitCode(flags.sim === true ? demoFailover(flags, io) : await withCpuHogs(hogs, io, () => liveDemo(flags, io)));
    });
}

// ---- --network and --link-delay-ms ----
function parseNetwork(flags: FailoverFlags): 'loopback' | 'lan' {
  if (flags.network !== 'loopback' && flags.network !== 'lan') throw new UsageError(`--network must be loopback or lan, got ${flags.network}`);
  if (flags.linkDelayMs !== undefined && flags.network !== 'lan') throw new UsageError('--link-delay-ms needs --network lan');
  if (flags.arbiter !== undefined && flags.network !== 'lan') throw new UsageError('--arbiter needs --network lan (on loopback the demo runs the embedded arbiter)');
  if (flags.arbiter !== undefined && flags.arbiter !== 'embedded' && flags.arbiter !== 'etcd') throw new UsageError(`--arbiter must be embedded or etcd, got ${flags.arbiter}`);
  if (flags.network === 'lan' && flags.unsafeNoOutputRule === true) throw new UsageError('--unsafe-no-output-rule is for --network loopback (it cuts the log channel through a relay there)');
  return flags.network;
}

// ---- --kill-moment ----
function parseKillMoment(text: string): 'in-flight' | 'any' {
  if (text !== 'in-flight' && text !== 'any') throw new UsageError(`--kill-moment must be in-flight or any, got ${text}`);
  return text;
}

// ---- --client and --tun-mtu ----
function parseClientKind(text: string): 'ftcp' | 'kernel' {
  if (text !== 'ftcp' && text !== 'kernel') throw new UsageError(`--client must be ftcp or kernel, got ${text}`);
  return text;
}

/** `demo failover` with real processes (src/lab/demo/live.ts). */
async function liveDemo(flags: FailoverFlags, io: CliIo): Promise<number> {
  const seedFromClock = flags.seed === undefined;
  const seed = flags.seed === undefined ? Math.floor(io.nowMs()) % 0x1_0000_0000 : parseSeed('--seed', flags.seed);
  const bytes = parseByteCount('--bytes', flags.bytes);
  if (bytes < 1) throw new UsageError(`--bytes must be at least 1, got ${flags.bytes}`);
  checkOutputDir('--capture-dir', flags.captureDir);
  const heartbeatMs = parsePositiveMs('--heartbeat-ms', flags.heartbeatMs);
  const failureTimeoutMs = parsePositiveMs('--failure-timeout-ms', flags.failureTimeoutMs);
  if (failureTimeoutMs <= heartbeatMs) throw new UsageError(`--failure-timeout-ms (${failureTimeoutMs}) must be longer than --heartbeat-ms (${heartbeatMs})`);
  const failureTimeoutMaxMs = parseFailureTimeoutMax(flags.failureTimeoutMaxMs, failureTimeoutMs);
  const network = parseNetwork(flags);
  const options: LiveDemoOptions = {
    app: parseLoadApp('--app', flags.app),
    connections: parseIntegerFlag('--connections', flags.connections, 1, 1000),
    seed,
    seedFromClock,
    bytes,
    killAfterMs: parseMilliseconds('--kill-after-ms', flags.killAfterMs, 600_000),
    killMoment: parseKillMoment(flags.killMoment),
    captureDir: flags.captureDir,
    unsafe: flags.unsafeNoOutputRule === true,
    heartbeatMs,
    failureTimeoutMs,
    ...optional('failureTimeoutMaxMs', failureTimeoutMaxMs),
    ...optional('failureTimeoutStartMs', parseFailureTimeoutStart(flags.failureTimeoutStartMs, failureTimeoutMs, failureTimeoutMaxMs)),
    json: flags.json === true,
    noReport: flags.report === false,
    mtu: parseReplicaMtu(flags.mtu),
    // the kernel as the client
    client: network === 'lan' ? 'kernel' : parseClientKind(flags.client ?? 'ftcp'),
    tunMtu: parseIntegerFlag('--tun-mtu', flags.tunMtu, 576, 65_000),
    kernelTool: parseKernelTool('--kernel-tool', flags.kernelTool ?? defaultKernelTool(flags.app), flags.app),
    ...(flags.netnsInner !== undefined ? { netnsInner: flags.netnsInner } : {}),
    network,
    ...(flags.profile !== undefined ? { profile: parseProfile(flags.profile) } : {}),
    ...(flags.linkDelayMs !== undefined ? { linkDelayMs: parseMilliseconds('--link-delay-ms', flags.linkDelayMs, 60_000) } : {}),
    ...(flags.arbiter === 'etcd' ? { arbiter: 'etcd' as const } : {}),
  };
  return exitCodeOf(network === 'lan' ? await runLanDemo(options, io) : await runLiveDemo(options, io));
}

/** Runs `demo failover --sim` and returns the exit code. */
export function demoFailover(flags: FailoverFlags, io: CliIo): number {
  const seedFromClock = flags.seed === undefined;
  const seed = flags.seed === undefined ? Math.floor(io.nowMs()) % 0x1_0000_0000 : parseSeed('--seed', flags.seed);
  const app = parseLoadApp('--app', flags.app);
  const connections = parseIntegerFlag('--connections', flags.connections, 1, 1000);
  const unsafe = flags.unsafeNoOutputRule === true;
  const profile = flags.profile !== undefined ? parseProfile(flags.profile) : undefined;
  checkOutputDir('--capture-dir', flags.captureDir);

  const dir = join(flags.captureDir, `failover-${app}-seed${seed}${unsafe ? '-unsafe' : ''}`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new UsageError(`--capture-dir: cannot create ${dir}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const paths = {} as Record<ClusterCaptureName, string>;
  const fds: number[] = [];
  let result: ClusterResult;
  try {
    result = runCluster({
      seed,
      app,
      connections,
      unsafeNoOutputRule: unsafe,
      ...(profile !== undefined ? { profile } : {}),
      // --app http is an upstream app, the simulator's fake HTTP server on each replica.
      ...(app === 'http' ? { upstream: { app: { kind: 'http' as const } } } : {}),
      capture: (name) => {
        const path = join(dir, `${name}.pcapng`);
        const fd = openSync(path, 'w');
        fds.push(fd);
        paths[name] = path;
        // One synchronous write per complete block: an interrupted run leaves readable files.
        return (block) => void writeSync(fd, block);
      },
    });
  } finally {
    for (const fd of fds) closeSync(fd);
  }

  // What the client did with each segment the survivor re-sent, from the captures.
  const resent = simResent(paths, result.failover);
  io.stdout(humanReport(result, seedFromClock, paths, flags.captureDir, resent));
  if (flags.json === true) io.stdout(`${JSON.stringify(jsonReport(result, paths, resent))}\n`);
  if (result.ok) return EXIT.ok;
  return EXIT[result.failure?.kind ?? 'correctness'];
}

/** The demo's report as one JSON object (`--json`). */
export function jsonReport(r: ClusterResult, captures: Record<ClusterCaptureName, string>, resent?: SimResent): object {
  const f = r.failover;
  return {
    ok: r.ok,
    seed: r.seed,
    app: r.app,
    connections: r.connections,
    unsafe: r.unsafe,
    streams: r.streams,
    resets: r.resets,
    failover: {
      detectedMs: f?.detectedMs ?? null,
      liveMs: f?.liveMs ?? null,
      clientResumedMs: f?.clientResumedMs ?? null,
      killedAtMs: f === null ? null : f.killUs / 1000,
      by: f?.by ?? null,
      epoch: f?.epoch ?? null,
    },
    reemitted: { ...r.reemitted, ...(resent !== undefined ? { droppedByClient: resent.droppedByClient, ...(resent.whyNoDuplicate !== undefined ? { whyNoDuplicate: resent.whyNoDuplicate } : {}) } : {}) },
    // each re-sent segment and the client's answer (the first 100; the counts above are of all)
    ...(resent !== undefined ? { resent: resent.segments.slice(0, 100) } : {}),
    client: { duplicateSegmentsDropped: r.client.duplicateSegmentsDropped },
    splitBrain: r.splitBrain,
    ...(r.counterAnswers !== undefined ? { counter: r.counterAnswers } : {}),
    ...(r.divergences !== undefined ? { divergences: r.divergences, divergenceList: r.divergenceList ?? [] } : {}),
    problems: r.problems,
    captures: Object.fromEntries(CLUSTER_CAPTURES.map((n) => [n, captures[n] ?? null])),
    command: r.command,
  };
}

const ms = (us: number) => `${(us / 1000).toFixed(3)} ms`;
const pct = (p: number) => `${(p * 100).toFixed(1)}%`;

function humanReport(r: ClusterResult, seedFromClock: boolean, captures: Record<ClusterCaptureName, string>, captureDir: string, resent: SimResent | undefined): string {
  const lines: string[] = [];
  const p = r.plan;
  lines.push(`demo failover (simulated): app ${r.app}, ${r.connections} connection(s), seed ${r.seed}${seedFromClock ? ' (from the wall clock)' : ''}${r.unsafe ? ', UNSAFE: no output rule' : ''}`);
  lines.push(`  reproduce: ${r.command} --capture-dir ${captureDir}`);
  const partition = p.logPartition === undefined ? 'no log partition' : `log channel cut ${ms(p.logPartition.fromUs)}..${ms(p.logPartition.toUs)}`;
  lines.push(
    `  faults: client links ${ms(p.clientLink.delayUs)} one way, loss ${pct(p.clientLink.loss)}, dup ${pct(p.clientLink.duplicate)}, ` +
      `reorder ${pct(p.clientLink.reorder)}; log channel ${ms(p.logDelayUs)}; arbiter ${ms(p.arbiterDelayUs)}; ${partition}`,
  );
  lines.push('timeline (virtual time):');
  for (const t of r.timeline) lines.push(`  ${ms(t.timeUs).padStart(12)}  ${t.text}`);
  const f = r.failover;
  const after = (v: number | null | undefined) => (v === null || v === undefined ? 'never' : `${v} ms`);
  lines.push(`result: ${r.ok ? 'ok' : 'FAILED'}`);
  lines.push(`  streams: ${r.streams.intact} intact, ${r.streams.broken} broken; resets: ${r.resets}; split brain: ${r.splitBrain} epoch(s)`);
  if (f !== null) {
    lines.push(`  after the kill: detected ${after(f.detectedMs)}, live ${after(f.liveMs)}, client resumed ${after(f.clientResumedMs)}`);
  }
  lines.push(`  re-emitted ${r.reemitted.segments} segment(s), ${r.reemitted.identicalToPrimary} byte-identical to the primary's; the client dropped ${r.client.duplicateSegmentsDropped} duplicate segment(s)`);
  if (resent !== undefined && resent.segments.length > 0) {
    lines.push(`  what the client did with each re-sent segment (from the captures; ${resent.droppedByClient} it had and dropped as duplicates):`, ...resentLines(resent.segments, f?.killed ?? 'a'));
  }
  if (resent?.whyNoDuplicate !== undefined) lines.push(`  ${resent.whyNoDuplicate}`);
  if (r.counterAnswers !== undefined) lines.push(`  counter: ${r.counterAnswers.count} answers, ${r.counterAnswers.consecutive ? 'exactly 1..n' : 'NOT consecutive'}`);
  if (r.divergences !== undefined) lines.push(`  upstream app: ${r.divergences} divergence(s) between a replica's own app and the log; ${r.upstreamContinuedBytes ?? 0} byte(s) continued by the survivor's app`);
  for (const problem of r.problems.slice(0, 10)) lines.push(`  problem: ${problem.split('\n')[0]}`);
  if (r.problems.length > 10) lines.push(`  ... and ${r.problems.length - 10} more`);
  lines.push(`  captures: ${CLUSTER_CAPTURES.map((n) => captures[n]).join(', ')}`);
  return `${lines.join('\n')}\n`;
}
