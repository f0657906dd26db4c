/**
 * `ftcp client`: a load generator on the ftcp stack (src/lab/load-client.ts) that checks
 * every stream byte for byte and ends with a JSON result line.
 *
 *   ftcp client [--switch HOST:PORT] [--app A] [--connections N] [--seed S] [--json] ...
 *
 * SIGUSR1 marks a moment: the wall-clock time of the first byte read after it is
 * reported (`resumed`), which is how `ftcp demo failover` measures when the clients got
 * new bytes after the backup went live. SIGTERM/SIGINT stop it early (with the result so far).
 */
import type { Command } from 'commander';
import { wallClockMs } from '../net/clock.js';
import { LoadClient, type LoadClientOptions } from '../lab/load-client.js';
import type { ReadGapsReport } from '../lab/read-gaps.js';
import { waitForStopSignal } from '../net/signals.js';
import { LinkError } from '../net/udp-link.js';
import { LOAD_APPS } from '../sim/cluster-load.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { parseEndpointFlag, parseMtuFlag, parseVirtualAddressFlag } from './net-flags.js';
import { DEFAULT_BULK_BYTES, DEFAULT_SERVICE_PORT, parsePort, parsePositiveMs } from './replica.js';
import { addClusterKeyOption, clusterKeyFromFlag } from './cluster-key-flag.js';
import { NICE_HELP, parseNice } from './nice-flag.js';
import { raiseOwnPriority } from '../net/priority.js';
import { DEFAULT_LINK_BIND } from './net-flags.js';
import { DEFAULT_SWITCH_LISTEN } from './switch.js';
import { parseByteCount, parseIntegerFlag, parseLoadApp, parseMilliseconds, parseSeed } from './validate.js';
import { helpAfter } from './help-layout.js';

/** The flags that shape the load, shared by `ftcp client` and `ftcp kernel-client`. */
export interface LoadShapeFlags {
  requests: string;
  thinkMs: string;
  bulkBytes: string;
  uploadBytes?: string;
  timeoutMs: string;
  progressMs: string;
}

interface ClientFlags extends LoadShapeFlags {
  switch: string;
  bind: string;
  address: string;
  service: string;
  port: string;
  app: string;
  connections: string;
  seed: string;
  mtu: string;
  startTimeoutMs: string;
  json?: boolean;
  clusterKeyFile?: string;
  readGaps?: string;
  nice: string;
}

export function registerClientCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const command = program
    .command('client')
    .summary('a load generator on the ftcp stack that checks every byte it gets back')
    .description(
      'Opens N connections from a virtual client address to the service through the switch and drives the ' +
        'built-in app on each (echo: random requests echoed; counter: INCR, answers must be 1..K across all ' +
        'connections; kv: SET/GET checked against a model; bulk: uploads a seeded stream and checks the ' +
        'seeded download). Ends with a result line; exit 0 when every stream was intact.',
    )
    .option('--switch <host:port>', 'the switch (`ftcp switch`)', DEFAULT_SWITCH_LISTEN)
    .option('--bind <host:port>', 'local UDP address of the link to the switch (port 0 picks one)', DEFAULT_LINK_BIND)
    .option('--address <addr>', 'the client\'s virtual address', '192.0.2.1')
    .option('--service <addr>', 'the service\'s virtual address', '192.0.2.10')
    .option('--port <n>', 'the service\'s TCP port', String(DEFAULT_SERVICE_PORT))
    .option('--app <name>', `the app behind the service: ${LOAD_APPS.join(', ')} (http: keep-alive GETs to an --upstream HTTP server, each body naming its request;\nredis: RESP INCR and SET/GET pairs to an --upstream-app redis, every reply checked)`, 'counter')
    .option('--connections <n>', 'client connections, 1..1000', '3')
    .option('--seed <s>', 'run seed, 0..4294967295; the same as the replicas\' --seed (bulk checks need it)', '1');
  addLoadShapeOptions(command, 'bulk: bytes the server sends each connection (the replicas\' --bulk-bytes)', 'give up (streams not finished count as stalled) after this long')
    .option('--mtu <bytes>', 'largest IP packet on the UDP link', '65000')
    .option('--start-timeout-ms <ms>', 'how long to wait at start for the switch to confirm the client address', '5000')
    .option('--json', 'print one JSON object per line (started, progress, resumed, result)')
    .option('--nice <n>', `${NICE_HELP} (a client on a machine of its own needs none; a bench beside the cluster does)`, '0')
    .option('--read-gaps <ms>', 'record every gap of at least this many ms between two reads (any connection), wall-clock, in the result line (readGaps; the first 100000)');
  // a keyed switch takes only registrations authenticated with the cluster key.
  addClusterKeyOption(command)
    .addHelpText(
      'after',
      helpAfter('\nSIGUSR1: report the time of the first byte read after it (a "resumed" line).\n' +
        'Exit codes: 0 every stream intact; 1 a stream was wrong; 2 bad usage; 3 a stream stalled (timeout);\n' +
        '4 a connection was reset, or the switch cannot be reached.\n\n' +
        'Example:\n  ftcp client --app kv --connections 4 --json')
    )
    .action(async (flags: ClientFlags) => {
      setExitCode(await runClient(flags, io));
    });
}

/** The human line of --read-gaps: how many, and the longest. */
export function describeReadGaps(r: ReadGapsReport): string {
  const longest = r.gaps.reduce<[number, number] | undefined>((m, g) => (m === undefined || g[1] - g[0] > m[1] - m[0] ? g : m), undefined);
  const where = longest === undefined ? '' : `; the longest ${(longest[1] - longest[0]).toFixed(1)} ms, from ${longest[0].toFixed(3)} to ${longest[1].toFixed(3)} ms (wall clock)`;
  return `  reads: ${r.reads}, ${r.gaps.length + r.dropped} gap(s) of ${r.thresholdMs} ms or more${r.dropped > 0 ? ` (${r.dropped} not kept)` : ''}${where}`;
}

/** "N" or "MIN-MAX" (integers, MIN <= MAX, within [lo, hi]). */
export function parseRange(flag: string, text: string, lo: number, hi: number, parse: (t: string) => number = Number): [number, number] {
  const m = /^\s*([^-\s]+)\s*(?:-\s*([^-\s]+)\s*)?$/.exec(text);
  const a = m ? parse(m[1]!) : NaN;
  const b = m?.[2] !== undefined ? parse(m[2]) : a;
  if (!(Number.isSafeInteger(a) && Number.isSafeInteger(b) && a >= lo && b <= hi && a <= b)) {
    throw new UsageError(`${flag} must be N or MIN-MAX with ${lo} <= MIN <= MAX <= ${hi}, got ${text}`);
  }
  return [a, b];
}

/** --requests, --think-ms, --bulk-bytes, --upload-bytes, --timeout-ms, --progress-ms, in that order. */
export function addLoadShapeOptions(command: Command, bulkBytesHelp: string, timeoutHelp: string): Command {
  return command
    .option('--requests <n|min-max>', 'echo, counter, kv: requests per connection', '30-60')
    .option('--think-ms <n|min-max>', 'pause between an answer and the next request', '2-15')
    .option('--bulk-bytes <n>', bulkBytesHelp, String(DEFAULT_BULK_BYTES))
    .option('--upload-bytes <n|min-max>', 'bulk: bytes each connection uploads (default: half to all of --bulk-bytes)')
    .option('--timeout-ms <ms>', timeoutHelp, '60000')
    .option('--progress-ms <ms>', 'print a progress line this often (0: never)', '500');
}

export interface LoadShape {
  requests: [number, number];
  thinkMs: [number, number];
  bulkBytes: number;
  uploadBytes: [number, number];
  timeoutMs: number;
  progressMs: number;
}

export function parseLoadShape(flags: LoadShapeFlags): LoadShape {
  const bulkBytes = parseByteCount('--bulk-bytes', flags.bulkBytes);
  if (bulkBytes < 1) throw new UsageError(`--bulk-bytes must be at least 1, got ${flags.bulkBytes}`);
  const bytes = (t: string) => parseByteCount('--upload-bytes', t);
  return {
    requests: parseRange('--requests', flags.requests, 1, 1_000_000),
    thinkMs: parseRange('--think-ms', flags.thinkMs, 0, 60_000),
    bulkBytes,
    uploadBytes: flags.uploadBytes === undefined ? [Math.max(1, Math.floor(bulkBytes / 2)), bulkBytes] : parseRange('--upload-bytes', flags.uploadBytes, 1, 1e12, bytes),
    timeoutMs: parseMilliseconds('--timeout-ms', flags.timeoutMs, 3_600_000),
    progressMs: parseMilliseconds('--progress-ms', flags.progressMs, 3_600_000),
  };
}

/** The flags of `ftcp client` as the options of its load (UsageError when one is wrong). */
export function parseClientFlags(flags: ClientFlags): LoadClientOptions & { timeoutMs: number; progressMs: number } {
  const shape = parseLoadShape(flags);
  if (flags.address.trim() === flags.service.trim()) throw new UsageError(`--address is the client's own virtual address and must differ from --service (${flags.service}); the default is 192.0.2.1`);
  return {
    switchAt: parseEndpointFlag('--switch', flags.switch, { allowPortZero: false }),
    bind: parseEndpointFlag('--bind', flags.bind),
    address: parseVirtualAddressFlag('--address', flags.address),
    service: parseVirtualAddressFlag('--service', flags.service),
    servicePort: parsePort('--port', flags.port),
    app: parseLoadApp('--app', flags.app), // 'http': upstream
    connections: parseIntegerFlag('--connections', flags.connections, 1, 1000),
    seed: parseSeed('--seed', flags.seed),
    ...shape,
    startSpreadMs: 50,
    mtu: parseMtuFlag('--mtu', flags.mtu),
    startTimeoutMs: parsePositiveMs('--start-timeout-ms', flags.startTimeoutMs),
    clusterKey: clusterKeyFromFlag(flags.clusterKeyFile),
    readGapsMs: flags.readGaps === undefined ? undefined : parseMilliseconds('--read-gaps', flags.readGaps, 3_600_000),
  };
}

async function runClient(flags: ClientFlags, io: CliIo): Promise<number> {
  const opts = parseClientFlags(flags);
  const nice = parseNice(flags.nice);
  if (nice !== undefined) raiseOwnPriority('ftcp client', nice, (line) => io.stderr(line));
  const json = flags.json === true;
  const out = (human: string, obj: object) => io.stdout(json ? `${JSON.stringify(obj)}\n` : `${human}\n`);
  let client: LoadClient;
  try {
    client = await LoadClient.open(opts);
  } catch (error) {
    if (error instanceof LinkError) {
      io.stderr(`error: ftcp client: ${error.message}\n`);
      return EXIT.connection;
    }
    throw error;
  }
  const stop = waitForStopSignal();
  const onUsr1 = () => client.markResume();
  process.on('SIGUSR1', onUsr1);
  const startedMs = wallClockMs();
  out(`ftcp client: ${opts.connections} ${opts.app} connection(s) from ${flags.address} to ${flags.service}:${opts.servicePort} via ${flags.switch}`, {
    event: 'started',
    atMs: startedMs,
    app: opts.app,
    connections: opts.connections,
    link: `${client.link.local.host}:${client.link.local.port}`,
    pid: process.pid,
  });
  client.onResumed = (atMs, offset) => out(`ftcp client: first byte after the mark at ${atMs.toFixed(3)} ms (stream offset ${offset})`, { event: 'resumed', atMs, offset });
  const progress =
    opts.progressMs > 0
      ? setInterval(() => {
          const settled = client.load.conns.filter((c) => c.settled).length;
          out(`ftcp client: ${client.bytesReceived} bytes received, ${settled}/${opts.connections} connection(s) done`, { event: 'progress', atMs: wallClockMs(), bytesReceived: client.bytesReceived, settled });
        }, opts.progressMs)
      : undefined;
  const poll = setInterval(() => {
    if (client.settled) stop.stop('done');
  }, 20);
  const timeout = setTimeout(() => stop.stop('timeout'), opts.timeoutMs);
  client.start();
  const reason = await stop.stopped;
  stop.dispose();
  clearInterval(poll);
  clearTimeout(timeout);
  if (progress !== undefined) clearInterval(progress);
  process.off('SIGUSR1', onUsr1);
  // Let the closing handshakes finish (the last ACK of the server's FIN).
  if (reason === 'done') await new Promise((r) => setTimeout(r, 200));
  const result = client.result();
  await client.close();
  const elapsedMs = Math.round(wallClockMs() - startedMs);
  // nobody serving: say so plainly instead of "0 answers" and a verdict on no data.
  const unanswered = !result.ok && result.conns.every((c) => c.bytesReceived === 0);
  const nobody = `ftcp client: nobody answered at ${flags.service}:${opts.servicePort} within ${elapsedMs} ms: not one byte came back on any of ${opts.connections} connection(s) (is a replica serving it, registered with the switch at ${flags.switch}?)`;
  // The verdict is an error line on stderr (stdout, in human mode, keeps only the run's own lines).
  if (unanswered) io.stderr(`error: ${nobody}\n`);
  const lines = unanswered ? [] : [
    `ftcp client: ${result.ok ? 'ok' : 'FAILED'}${reason !== 'done' ? ` (stopped: ${reason})` : ''} after ${elapsedMs} ms: ${result.streams.intact} intact, ${result.streams.broken} broken, ${result.resets} reset(s); ${result.duplicateSegmentsDropped} duplicate segment(s) dropped, ${result.retransmits} retransmit(s)`,
    ...(result.counter !== undefined ? [`  counter: ${result.counter.count} answers, ${result.counter.consecutive ? 'exactly 1..n' : 'NOT consecutive'}`] : []),
    ...(result.readGaps !== undefined ? [describeReadGaps(result.readGaps)] : []),
    ...result.problems.slice(0, 10).map((p) => `  problem: ${p}`),
  ];
  const { conns, ...summary } = result;
  if (!(unanswered && !json)) out(lines.join('\n'), { event: 'result', ...summary, ...(unanswered ? { unanswered: true } : {}), stoppedBy: reason, elapsedMs, conns: conns.map((c) => ({ index: c.index, localPort: c.localPort ?? null, intact: c.intact, reset: c.reset, bytesReceived: c.bytesReceived, requests: c.requests, ...(c.error !== undefined ? { error: c.error } : {}) })) });
  if (result.ok) return EXIT.ok;
  if (result.resets > 0) return EXIT.connection;
  if (result.conns.some((c) => c.error?.startsWith('stalled') === true)) return EXIT.liveness;
  return EXIT.correctness;
}
