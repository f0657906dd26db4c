/**
 * `ftcp replica`: one replica of the pair (src/net/replica-host.ts) as a process.
 *
 *   ftcp replica --role primary --name a --log-listen 127.0.0.1:9402 [--switch ..] [--arbiter ..]
 *   ftcp replica --role backup  --name b --log-peer 127.0.0.1:9402 [--log-listen 127.0.0.1:9403]
 *   ftcp replica --role join    --name c --peer b --log-peer 127.0.0.1:9403
 *
 * Prints one line per event (with --json one JSON object per line, so that an
 * orchestrator can follow it: started, replica, announce, registered, suspect, won, lost,
 * live, fenced, stopped, backup-joined, joined, fault, channel-up/down, exit), and its
 * statistics when SIGTERM or SIGINT stops it. A replica that is fenced, or a backup that
 * lost the test-and-set, has nothing more to do and exits 0.
 */
import type { Command } from 'commander';
import { warmUp } from '../lab/warm-up.js';
import { ReplicaProcess } from '../net/replica-host.js';
import { DEFAULT_MAX_CONNECTIONS, MAX_MAX_CONNECTIONS, type ReplicaProcessOptions, type ReplicaStartRole } from '../net/replica-options.js';
import type { ReplicaProcessEvent } from '../net/events.js';
import { waitForStopSignal } from '../net/signals.js';
import { LinkError, MIN_MTU } from '../net/udp-link.js';
import { MAX_LOGGED_PACKET_BYTES } from '../replica/primary.js';
import { OUTPUT_MODES, type OutputMode } from '../replica/output-mode.js';
import { MODE_WHY } from '../sim/experiment-modes.js';
import { APP_NAMES, type AppName } from '../proxy/app.js';
import { UPSTREAM_JOIN_REFUSED } from '../replica/primary.js';
import { DEFAULT_ARBITER_LISTEN } from './arbiter.js';
import { parseArbiterFlag } from './arbiter-flag.js';
import { isMulticastMac, parseMac, type MacAddr } from '../wire/ethernet.js';
import { addCaptureLiveOption, describeCaptureLive, openCaptureLive } from './capture-live-flag.js';
import { addClusterKeyOption, addInsecureOption, CLUSTER_KEY_HELP, clusterKeyFromFlag, warnNoClusterKey } from './cluster-key-flag.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { FAILURE_TIMEOUT_MAX_HELP, FAILURE_TIMEOUT_START_HELP, optional, parseFailureTimeoutMax, parseFailureTimeoutStart } from './failure-timeout-max-flag.js';
import { NICE_HELP, parseNice } from './nice-flag.js';
import { DEFAULT_NICE, raiseOwnPriority } from '../net/priority.js';
import { DEFAULT_LINK_BIND, parseEndpointFlag, parseVirtualAddressFlag } from './net-flags.js';
import { DEFAULT_SWITCH_LISTEN } from './switch.js';
import { describeFields, exitSummary } from './replica-lines.js';
import { checkOutputDir, parseByteCount, parseMilliseconds, parseSeed } from './validate.js';
import { STACK_PROFILES, type StackProfile } from '../tcp/types.js';
import { CONTROL_OPTION_HELP, controlOpenError, handOverOnSigterm, openReplicaControl, parseControlPath } from './switchover.js'; // planned switchover

export const DEFAULT_LOG_LISTEN = '127.0.0.1:9402';
import { helpAfter } from './help-layout.js';
/** The output modes `--unsafe-output-mode` takes: every one but the output rule. */
export const UNSAFE_OUTPUT_MODES = OUTPUT_MODES.filter((m) => m !== 'output-rule');
export const DEFAULT_SERVICE_PORT = 7070;
export const DEFAULT_BULK_BYTES = 1_000_000;

interface ReplicaFlags {
  nice: string;
  captureLive?: string;
  role?: string;
  name?: string;
  peer?: string;
  alone?: boolean;
  switch: string;
  bind: string;
  arbiter: string;
  logListen?: string;
  logPeer?: string;
  service: string;
  port: string;
  app: string;
  seed: string;
  bulkBytes: string;
  heartbeatMs: string;
  failureTimeoutMs: string;
  failureTimeoutMaxMs?: string;
  failureTimeoutStartMs?: string;
  captureDir: string | false;
  unsafeNoOutputRule?: boolean;
  unsafeOutputMode?: string;
  mtu: string;
  maxConnections: string;
  profile?: string;
  startTimeoutMs: string;
  json?: boolean;
  /** upstream */
  upstream?: string;
  upstreamConnectTimeoutMs: string;
  clusterKeyFile?: string;
  insecure?: boolean;
  upstreamApp: string;
  upstreamStateless?: boolean;
  tapPort?: string;
  tapSocatPort?: string;
  servicePrefix: string;
  serviceMac?: string;
  gateway?: string;
  control?: string;
}

export function registerReplicaCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const command = program
    .command('replica')
    .summary('one replica (primary, backup or joining backup) of the replicated service')
    .description(
      'Runs one replica: the TCP stack and the built-in app behind the service address, replicated over the log ' +
        'channel. The primary listens on --log-listen and waits for its backup; a backup dials the primary\'s ' +
        '--log-peer; a joining replica dials the live primary and takes a snapshot. When the peer is silent for ' +
        'the failure timeout, the arbiter decides who goes on. Both replicas must be started with the same --app, ' +
        '--seed, --service, --port and --bulk-bytes.',
    )
    .option('--role <role>', 'primary, backup or join (required)')
    .option('--name <name>', 'this replica\'s name, unique in the cluster (required; the arbiter records it)')
    .option('--peer <name>', 'the other replica\'s name (default: b for a primary, a for a backup; required with --role join)')
    .option('--alone', 'primary: serve alone at once, without waiting for a backup (one may join later with --role join) (default: off)')
    .option('--switch <host:port>', 'the switch (`ftcp switch`)', DEFAULT_SWITCH_LISTEN)
    .option('--bind <host:port>', 'local UDP address of the link to the switch (port 0 picks one)', DEFAULT_LINK_BIND)
    .option('--tap-port <n>', 'attach to a TAP device instead of the switch: the UDP port on 127.0.0.1 this replica binds, where\nsocat (`socat -b 65536 TUN,tun-type=tap,iff-no-pi,up,tun-name=tap0 UDP:127.0.0.1:<n>,sourceport=<m>`)\ndelivers the frames of a TAP device on this host\'s bridge; start the replica first, then socat')
    .option('--tap-socat-port <m>', 'with --tap-port: socat\'s source port, the only one frames are taken from')
    .option('--service-prefix <len>', 'with --tap-port: the service address\'s on-link prefix length', '24')
    .option('--service-mac <mac>', 'with --tap-port: the service MAC, the same on every replica (default: 02:66 and the service address)')
    .option('--gateway <addr>', 'with --tap-port: the router for clients off the prefix (default: none; such clients get no answer)')
    .option('--arbiter <host:port|etcd://host:port,...>', 'the arbiter: `ftcp arbiter`, or an etcd cluster (etcd://, its client URLs; keys ftcp/<service>/epoch/<n>)', DEFAULT_ARBITER_LISTEN)
    .option('--log-listen <host:port>', `where the log channel listens (primary: default ${DEFAULT_LOG_LISTEN}; a backup that listens can take a new backup after going live); port 0 picks one`)
    .option('--log-peer <host:port>', 'the live primary\'s --log-listen (backup and join: required)')
    .option('--service <addr>', 'the service\'s virtual address', '192.0.2.10')
    .option('--port <n>', 'the service\'s TCP port', String(DEFAULT_SERVICE_PORT))
    .option('--app <name>', `the built-in app: ${APP_NAMES.join(', ')}`, 'counter')
    .option('--seed <s>', 'run seed, 0..4294967295 (the stack\'s ISNs, the bulk stream); the same on every replica', '1')
    .option('--bulk-bytes <n>', 'bulk: bytes the app sends each connection', String(DEFAULT_BULK_BYTES))
    .option('--heartbeat-ms <ms>', 'H: heartbeat interval of the log channel', '10')
    .option('--failure-timeout-ms <ms>', 'D: a peer silent this long is suspected and the arbiter is asked', '50')
    .option('--failure-timeout-max-ms <ms>', FAILURE_TIMEOUT_MAX_HELP)
    .option('--failure-timeout-start-ms <ms>', FAILURE_TIMEOUT_START_HELP)
    .option('--nice <n>', NICE_HELP, String(DEFAULT_NICE))
    .option('--capture-dir <dir>', 'write <dir>/<name>.pcapng (wire), <name>-shadow.pcapng, <name>-log.pcapng', 'captures')
    .option('--no-capture-dir', 'write no captures')
    .option('--unsafe-no-output-rule', 'teaching mode: release outputs before the backup has the log entry (default: off)')
    .option('--unsafe-output-mode <mode>', UNSAFE_OUTPUT_MODE_HELP)
    .option('--mtu <bytes>', `largest IP packet on the UDP link, 68..${MAX_LOGGED_PACKET_BYTES} (one log entry must carry it); the stack announces MSS = mtu - 40, so both replicas need the same value`, '65000')
    .option('--max-connections <n>', `the most client connections the replicated stack holds, 1..${MAX_MAX_CONNECTIONS} (a SYN beyond them is dropped and counted); both replicas need the same value`, String(DEFAULT_MAX_CONNECTIONS))
    .option('--profile <profile>', 'the stack\'s choices where the RFCs allow more than one: rfc (default) or linux (docs/conformance.md, "Profiles"); the same on every replica')
    .option('--start-timeout-ms <ms>', 'how long to wait at start for the switch, the arbiter and (backup, join) the primary', '5000')
    .option('--json', 'print one JSON object per line (each event, then the statistics)')
    .option('--control <path>', CONTROL_OPTION_HELP)
    // upstream
    .option('--upstream <host:port>', 'serve an app outside ftcp: this replica\'s own instance of it (any TCP server); every client connection gets its own connection to it, and --app only picks the warm-up (default: the built-in --app)')
    .option('--upstream-connect-timeout-ms <ms>', 'with --upstream: an app that has not accepted a connection by then is reset towards the client', '5000');
  addInsecureOption(addClusterKeyOption(addCaptureLiveOption(command)))
    .option('--upstream-app <kind>', 'with --upstream: generic (any TCP server), or redis: one RESP command at a time across\nconnections, in log order, so every replica\'s Redis runs the same sequence; and a joining backup\'s Redis\ncopies the primary\'s by Redis replication (REPLICAOF) as of the join snapshot', 'generic')
    .option('--upstream-stateless', UPSTREAM_STATELESS_HELP)
    .addHelpText(
      'after',
      helpAfter('\nSIGTERM of a primary with a live backup hands the service over first (as `ftcp switchover`), then exits;\n' +
        'SIGINT, or a primary without a backup, stops at once.\n' +
        '\nExit codes: 0 stopped by SIGTERM/SIGINT, handed over, fenced, or a backup that lost the test-and-set; 1 a replication\n' +
        'fault; 2 bad usage, or --role backup facing a primary that serves without a backup (it says to use --role join);\n' +
        '3 the switch holds the service for a higher epoch from an earlier run (it says what to restart);\n' +
        '4 cannot listen (port in use) or cannot reach the switch, the arbiter or the primary.\n' +
        CLUSTER_KEY_HELP +
        '\n' +
        'Example (with `ftcp switch` and `ftcp arbiter --init` running on their default ports):\n' +
        '  ftcp replica --role primary --name a --log-listen 127.0.0.1:9402 --json\n' +
        '  ftcp replica --role backup --name b --log-peer 127.0.0.1:9402 --log-listen 127.0.0.1:9403 --json')
    )
    .action(async (flags: ReplicaFlags) => {
      setExitCode(await runReplica(flags, io));
    });
}

export function parseApp(flag: string, text: string): AppName {
  if (!(APP_NAMES as readonly string[]).includes(text)) throw new UsageError(`${flag} must be one of ${APP_NAMES.join(', ')}, got ${text}`);
  return text as AppName;
}

export function parsePort(flag: string, text: string): number {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new UsageError(`${flag} must be a port number from 1 to 65535, got ${text}`);
  return n;
}

export function parsePositiveMs(flag: string, text: string): number {
  const v = parseMilliseconds(flag, text, 600_000);
  if (v <= 0) throw new UsageError(`${flag} must be more than 0 ms, got ${text}`);
  return v;
}

/** --profile: rfc or linux (also `ftcp demo failover --profile`). */
export function parseProfile(text: string): StackProfile {
  if (!(STACK_PROFILES as readonly string[]).includes(text)) throw new UsageError(`--profile must be ${STACK_PROFILES.join(' or ')}, got ${text}`);
  return text as StackProfile;
}

/** --mtu of a replica: a link MTU whose largest packet still fits one log entry. */
export function parseReplicaMtu(text: string): number {
  // the range the help states: one log entry of the log channel must carry the largest packet
  const t = text.trim();
  const mtu = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!(mtu >= MIN_MTU && mtu <= MAX_LOGGED_PACKET_BYTES)) throw new UsageError(`--mtu must be an integer from ${MIN_MTU} to ${MAX_LOGGED_PACKET_BYTES} on a replica (a packet must fit one log entry of the log channel), got ${text}`);
  return mtu;
}

/** --max-connections of a replica. */
function parseMaxConnections(text: string): number {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!(n >= 1 && n <= MAX_MAX_CONNECTIONS)) throw new UsageError(`--max-connections must be an integer from 1 to ${MAX_MAX_CONNECTIONS}, got ${text}`);
  return n;
}

const UPSTREAM_STATELESS_HELP =
  'with --upstream (generic): the upstream keeps no state across requests nor per connection beyond one request\n' +
  '(a stateless HTTP server, say), so a backup may join a primary that serves alone: it opens its own connections to\n' +
  'its own instance and takes the state transfer without the app\'s state. This is the operator\'s assertion; nothing\n' +
  'checks it. A request in progress at the join reaches only the primary\'s instance (the joiner counts a divergence\n' +
  'on that connection), and an app that does keep state would serve the joiner\'s clients from an empty copy after a\n' +
  'failover. Give it to both replicas (default: off; a generic upstream cannot take a joiner)';

const UNSAFE_OUTPUT_MODE_HELP =
  `for \`ftcp experiment modes --real\` only: run without the output rule, in one of ${UNSAFE_OUTPUT_MODES.join(', ')}\n` +
  '(src/replica/output-mode.ts); both replicas need the same; a failover then loses or repeats what clients saw.\n' +
  'Prints a warning; `ftcp serve` has no such setting (default: the output rule)';

/** --unsafe-output-mode and --unsafe-no-output-rule as the process options (the output rule when neither). */
function parseUnsafeOutputMode(flags: ReplicaFlags): Pick<ReplicaProcessOptions, 'outputRule' | 'outputMode'> {
  const mode = flags.unsafeOutputMode;
  if (mode === undefined) return { outputRule: flags.unsafeNoOutputRule !== true };
  if (!(UNSAFE_OUTPUT_MODES as readonly string[]).includes(mode)) throw new UsageError(`--unsafe-output-mode must be one of ${UNSAFE_OUTPUT_MODES.join(', ')}, got ${mode} (the output rule is the default: leave the flag out)`);
  if (flags.unsafeNoOutputRule === true) throw new UsageError('--unsafe-output-mode and --unsafe-no-output-rule both choose the output mode; give one (--unsafe-output-mode async is --unsafe-no-output-rule)');
  return { outputRule: false, outputMode: mode as OutputMode };
}

/** The warning of a replica started in an unsafe output mode. */
export function unsafeOutputModeWarning(name: string, mode: OutputMode): string {
  return `warning: ftcp replica ${name}: UNSAFE output mode ${mode}, for experiments only: ${MODE_WHY[mode]}\n`;
}

/** --upstream-app and --upstream-stateless as the process option: none (generic, no joiner), redis, or stateless. */
function parseUpstreamKind(flags: ReplicaFlags): 'redis' | 'stateless' | undefined {
  if (flags.upstreamApp !== 'generic' && flags.upstreamApp !== 'redis') throw new UsageError(`--upstream-app must be generic or redis, got ${flags.upstreamApp}`);
  if (flags.upstreamApp === 'redis' && flags.upstream === undefined) throw new UsageError('--upstream-app redis needs --upstream HOST:PORT (the replica\'s own redis-server)');
  if (flags.upstreamStateless !== true) return flags.upstreamApp === 'redis' ? 'redis' : undefined;
  if (flags.upstream === undefined) throw new UsageError('--upstream-stateless is about an --upstream app; add --upstream HOST:PORT, or drop it (built-in apps join without it)');
  if (flags.upstreamApp === 'redis') throw new UsageError('--upstream-stateless is for a generic upstream; Redis keeps state, and --upstream-app redis copies it at a join: drop --upstream-stateless');
  return 'stateless';
}

/** The flags of `ftcp replica` as the options of its process (UsageError when one is wrong). */
export function parseReplicaFlags(flags: ReplicaFlags): ReplicaProcessOptions {
  const roles: ReplicaStartRole[] = ['primary', 'backup', 'join'];
  if (flags.role === undefined) throw new UsageError('--role is required: primary, backup or join');
  if (!(roles as string[]).includes(flags.role)) throw new UsageError(`--role must be primary, backup or join, got ${flags.role}`);
  const role = flags.role as ReplicaStartRole;
  if (flags.name === undefined || !/^[A-Za-z0-9_.-]{1,64}$/.test(flags.name)) throw new UsageError(`--name is required: 1..64 letters, digits, '_', '.', '-'${flags.name === undefined ? '' : `, got ${JSON.stringify(flags.name)}`}`);
  if (flags.alone === true && role !== 'primary') throw new UsageError('--alone is for --role primary only');
  if (role === 'join' && flags.peer === undefined) throw new UsageError('--role join needs --peer NAME: the name of the live primary it joins');
  const peer = flags.peer ?? (role === 'primary' ? 'b' : 'a');
  if (peer === flags.name) throw new UsageError(flags.peer === undefined ? `--peer defaults to ${peer} for --role ${role}, which is this replica's --name; give --peer NAME (the other replica's name)` : `--peer must differ from --name (${peer})`);
  const logListenText = flags.logListen ?? (role === 'primary' ? DEFAULT_LOG_LISTEN : undefined);
  if (role !== 'primary' && flags.logPeer === undefined) throw new UsageError(`--role ${role} needs --log-peer HOST:PORT: the live primary's --log-listen`);
  const heartbeatMs = parsePositiveMs('--heartbeat-ms', flags.heartbeatMs);
  const failureTimeoutMs = parsePositiveMs('--failure-timeout-ms', flags.failureTimeoutMs);
  if (failureTimeoutMs <= heartbeatMs) throw new UsageError(`--failure-timeout-ms (${failureTimeoutMs}) must be longer than --heartbeat-ms (${heartbeatMs})`);
  const failureTimeoutMaxMs = parseFailureTimeoutMax(flags.failureTimeoutMaxMs, failureTimeoutMs);
  const timeouts = { ...optional('failureTimeoutMaxMs', failureTimeoutMaxMs), ...optional('failureTimeoutStartMs', parseFailureTimeoutStart(flags.failureTimeoutStartMs, failureTimeoutMs, failureTimeoutMaxMs)) };
  const bulkBytes = parseByteCount('--bulk-bytes', flags.bulkBytes);
  if (bulkBytes < 1) throw new UsageError(`--bulk-bytes must be at least 1, got ${flags.bulkBytes}`);
  // upstream: a joiner's app instance would start without the primary's app state.
  const upstreamApp = parseUpstreamKind(flags);
  if (flags.upstream !== undefined && role === 'join' && upstreamApp === undefined) throw new UsageError(`--role join with --upstream: ${UPSTREAM_JOIN_REFUSED}; --upstream-app redis has one, and --upstream-stateless (on both replicas) joins an app that keeps no state`);
  if (flags.captureDir !== false && flags.captureDir.trim() === '') throw new UsageError('--capture-dir must not be empty (use --no-capture-dir for none)');
  if (flags.captureDir !== false) checkOutputDir('--capture-dir', flags.captureDir);
  return {
    role,
    name: flags.name,
    peer,
    alone: flags.alone === true,
    switchAt: parseEndpointFlag('--switch', flags.switch, { allowPortZero: false }),
    bind: parseEndpointFlag('--bind', flags.bind),
    ...parseArbiterFlag('--arbiter', flags.arbiter),
    ...(logListenText !== undefined ? { logListen: parseEndpointFlag('--log-listen', logListenText) } : {}),
    ...(flags.logPeer !== undefined ? { logPeer: parseEndpointFlag('--log-peer', flags.logPeer, { allowPortZero: false }) } : {}),
    service: parseVirtualAddressFlag('--service', flags.service),
    servicePort: parsePort('--port', flags.port),
    app: parseApp('--app', flags.app),
    seed: parseSeed('--seed', flags.seed),
    bulkBytes,
    heartbeatMs,
    failureTimeoutMs,
    ...timeouts,
    ...parseUnsafeOutputMode(flags),
    ...(flags.captureDir !== false ? { captureDir: flags.captureDir } : {}),
    mtu: parseReplicaMtu(flags.mtu),
    maxConnections: parseMaxConnections(flags.maxConnections),
    ...(flags.profile !== undefined ? { profile: parseProfile(flags.profile) } : {}),
    startTimeoutMs: parsePositiveMs('--start-timeout-ms', flags.startTimeoutMs),
    ...(flags.upstream !== undefined ? { upstream: parseEndpointFlag('--upstream', flags.upstream, { allowPortZero: false }), upstreamConnectTimeoutMs: parsePositiveMs('--upstream-connect-timeout-ms', flags.upstreamConnectTimeoutMs) } : {}),
    ...(upstreamApp !== undefined ? { upstreamApp } : {}),
    ...parseTapFlags(flags),
  };
}

async function runReplica(flags: ReplicaFlags, cliIo: CliIo): Promise<number> {
  const nice = parseNice(flags.nice);
  const opts = parseReplicaFlags(flags);
  if (nice !== undefined) raiseOwnPriority(`replica ${opts.name}`, nice, (line) => cliIo.stderr(line));
  if (flags.captureLive !== undefined && opts.captureDir === undefined) throw new UsageError('--capture-live streams the wire capture, which --no-capture-dir turns off; drop one of them');
  const { live, io } = openCaptureLive(flags.captureLive, cliIo);
  if (live !== undefined) opts.live = live;
  opts.clusterKey = clusterKeyFromFlag(flags.clusterKeyFile, { insecure: flags.insecure, carries: 'the log channel and the arbiter protocol', addresses: [['--log-listen', opts.logListen], ['--log-peer', opts.logPeer], ['--arbiter', opts.arbiterEtcd === undefined ? opts.arbiterAt : undefined]] });
  opts.warmUp = warmUp;
  if (opts.outputMode !== undefined) io.stderr(unsafeOutputModeWarning(opts.name, opts.outputMode));
  const json = flags.json === true;
  const print = (e: ReplicaProcessEvent) => io.stdout(json ? `${JSON.stringify(e)}\n` : `${describeEvent(e)}\n`);
  let proc: ReplicaProcess | undefined;
  const controlPath = flags.control === undefined ? undefined : parseControlPath(flags.control, true);
  const control = controlPath === undefined ? undefined : await openReplicaControl(controlPath, () => proc).catch((error: unknown) => controlOpenError(error, opts.name, io));
  if (typeof control === 'number') return control;
  try {
    proc = await ReplicaProcess.start(opts, print);
  } catch (error) {
    await control?.close();
    await live?.close();
    if (error instanceof LinkError) {
      io.stderr(`error: ftcp replica ${opts.name}: ${error.message}\n`);
      return EXIT.connection;
    }
    throw error;
  }
  if (opts.clusterKey === undefined) warnNoClusterKey(io, `ftcp replica ${opts.name}`, 'its log channel');
  const stop = waitForStopSignal();
  proc.onFinished = (reason) => stop.stop(reason);
  print(proc.describeStart());
  let reason = await stop.stopped;
  stop.dispose();
  if (reason === 'SIGTERM') reason = await handOverOnSigterm(proc, opts.failureTimeoutMs, stop.atMs);
  await control?.close();
  const failed = reason === 'failed';
  await proc.close();
  print({ event: 'exit', name: opts.name, atMs: io.nowMs(), reason, stats: proc.stats() });
  if (live !== undefined) io.stderr(`replica ${opts.name}: ${describeCaptureLive(live)}\n`);
  if (reason === 'stale-epoch') {
    io.stderr(`error: ftcp replica ${opts.name}: the service address belongs to a higher epoch from an earlier run; restart what the line above names, then this pair\n`);
    return EXIT.liveness;
  }
  if (reason === 'config-mismatch') {
    io.stderr(`error: ftcp replica ${opts.name}: its peer is configured differently (the line above lists each difference); start both with the same flags\n`);
    return EXIT.usage;
  }
  if (reason === 'wrong-role') {
    io.stderr(`error: ftcp replica ${opts.name}: it was started as a backup of a primary that serves without one; start it with --role join instead (the line above says how)\n`);
    return EXIT.usage;
  }
  return failed ? EXIT.correctness : EXIT.ok;
}

function describeEvent(e: ReplicaProcessEvent): string {
  const who = `replica ${e.name}`;
  switch (e.event) {
    case 'started':
      return `${who}: ${e.role} ${e.address}, log channel ${e.logListen !== null ? `listening on ${e.logListen}` : ''}${e.logPeer !== null ? ` dialling ${e.logPeer}` : ''}${e.clusterKey === null ? ', no cluster key' : `, cluster key ${e.clusterKey.id}`}; app ${e.app}, seed ${e.seed}, H ${e.heartbeatMs} ms, D ${e.failureTimeoutMs} ms${e.role === 'primary' && !e.alone ? `; waiting for backup ${e.peer}` : ''}`;
    case 'replica':
      return `${who}: ${e.role} of epoch ${e.epoch}, ${e.peer === null ? 'alone' : `peer ${e.peer}`}`;
    case 'announce':
      return `${who}: announces ${e.service} with epoch ${e.epoch}`;
    case 'registered':
      return `${who}: the switch gave it the service address (epoch ${e.epoch})`;
    case 'suspect':
      return `${who}: ${e.reason === 'channel-lost' ? `peer's log channel closed (silent ${e.silentMs} ms)` : `peer silent for ${e.silentMs} ms`}, asks the arbiter for epoch ${e.epoch}`;
    case 'won':
      return `${who}: won the test-and-set of epoch ${e.epoch}`;
    case 'lost':
      return `${who}: lost the test-and-set of epoch ${e.epoch} to ${e.winner}`;
    case 'live':
      return `${who}: LIVE in epoch ${e.epoch}${e.reason === 'switchover' ? ' (planned switchover)' : ''}; re-emits ${e.reemitted} packets of ${e.reemittedEntries} entries above r = ${e.r}`;
    case 'handover':
      return `${who}: hands the service over to ${e.peer} (${e.by}): no more input, last index ${e.lastIndex}, r = ${e.r}, ${e.held} packets held`;
    case 'handover-received':
      return `${who}: the primary hands over at index ${e.lastIndex}${e.behind > 0 ? ` (${e.behind} entries still to come)` : ''}`;
    case 'handed-over':
      return `${who}: handed the service over to ${e.peer}, live in epoch ${e.epoch}; emits nothing more and exits`;
    case 'wrong-role':
    case 'handover-refused':
    case 'stale-epoch':
    case 'config-mismatch':
      return `${who}: ${e.message}`;
    case 'channel-refused':
      return `${who}: ${e.message}${e.count > 1 ? ` (${e.count} so far)` : ''}`;
    case 'exit':
      return exitSummary(who, e.reason, e.stats).join('\n');
    default: {
      const { event, name, atMs, ...rest } = e;
      void name;
      void atMs;
      const fields = describeFields(rest);
      return `${who}: ${event}${fields !== '' ? `: ${fields}` : ''}`;
    }
  }
}

/** --tap-port and its companions: the replica's attachment to a TAP device (none: the switch). */
function parseTapFlags(flags: ReplicaFlags): Pick<ReplicaProcessOptions, 'tap'> {
  const tapOnly = (['serviceMac', 'gateway', 'tapSocatPort'] as const).find((k) => flags[k] !== undefined);
  if (flags.tapPort === undefined) {
    if (tapOnly !== undefined) throw new UsageError(`--${tapOnly.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --tap-port`);
    return {};
  }
  if (flags.tapSocatPort === undefined) throw new UsageError('--tap-port needs --tap-socat-port: socat\'s source port (sourceport= in its UDP address)');
  const prefix = /^\d+$/.test(flags.servicePrefix.trim()) ? Number(flags.servicePrefix) : NaN;
  if (!(prefix >= 8 && prefix <= 30)) throw new UsageError(`--service-prefix must be a prefix length from 8 to 30, got ${flags.servicePrefix}`);
  let mac: MacAddr | undefined;
  if (flags.serviceMac !== undefined) {
    try {
      mac = parseMac(flags.serviceMac);
    } catch {
      throw new UsageError(`--service-mac must be a MAC address like 02:66:c0:00:02:0a, got ${flags.serviceMac}`);
    }
    if (isMulticastMac(mac)) throw new UsageError(`--service-mac must be a unicast address (the low bit of its first octet clear), got ${flags.serviceMac}`);
  }
  return {
    tap: {
      port: parsePort('--tap-port', flags.tapPort),
      socatPort: parsePort('--tap-socat-port', flags.tapSocatPort),
      prefixLength: prefix,
      ...(mac !== undefined ? { mac } : {}),
      ...(flags.gateway !== undefined ? { gateway: parseVirtualAddressFlag('--gateway', flags.gateway) } : {}),
    },
  };
}
