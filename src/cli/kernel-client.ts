/**
 * `ftcp kernel-client`: the load generator on real kernel sockets (src/lab/kernel-client.ts),
 * for `ftcp demo failover --client kernel`, which runs it inside its network namespace. It
 * prints the same lines as `ftcp client --json` (started, progress, resumed after SIGUSR1,
 * result), so the demo reads either.
 *
 *   ftcp kernel-client [--host 192.0.2.10] [--port 7070] [--app A] [--connections N] [--seed S] [--json] ...
 */
import type { Command } from 'commander';
import { wallClockMs } from '../net/clock.js';
import { KernelLoad, KernelServer } from '../lab/kernel-client.js';
import { RedisCliLoad } from '../lab/redis-cli-load.js'; // redis-cli as the client
import { CurlLoad, KERNEL_TOOLS, NcLoad, TOOL_APPS, type KernelTool } from '../lab/kernel-tools.js';
import { waitForStopSignal } from '../net/signals.js';
import { APP_NAMES } from '../proxy/app.js';
import { addLoadShapeOptions, parseLoadShape, type LoadShapeFlags } from './client.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { DEFAULT_BULK_BYTES, DEFAULT_SERVICE_PORT, parseApp, parsePort } from './replica.js';
import { parseByteCount, parseIntegerFlag, parseSeed } from './validate.js';

interface KernelClientFlags extends LoadShapeFlags {
  host: string;
  port: string;
  app: string;
  connections: string;
  seed: string;
  tool: string;
  json?: boolean;
}

export function registerKernelClientCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const kernelClient = program
    .command('kernel-client')
    .summary('a load generator on the kernel\'s own TCP (Node net sockets) that checks every byte')
    .description(
      'The client of `ftcp demo failover --client kernel`, run in its network namespace: N kernel TCP ' +
        'connections to the service, driving the built-in app on each and checking every byte (counter: ' +
        'answers exactly 1..K across all connections; bulk: the seeded download, and the upload\'s SHA-256).',
    )
    .option('--host <addr>', 'the service address', '192.0.2.10')
    .option('--port <n>', 'the service\'s TCP port', String(DEFAULT_SERVICE_PORT))
    .option('--app <name>', `the app behind the service: ${APP_NAMES.join(', ')}; http with --tool curl; or redis: one redis-cli\nper connection, fed INCR and SET/GET through its stdin`, 'counter')
    .option('--tool <name>', 'the kernel client: node (Node net sockets, every built-in app), curl (--app http: keep-alive\nrequests, every body checked) or nc (--app echo: a seeded byte pattern, compared byte for byte);\n--app redis always runs redis-cli', 'node')
    .option('--connections <n>', 'connections, 1..1000', '3')
    .option('--seed <s>', 'run seed (the replicas\' --seed: the bulk stream is derived from it)', '1');
  addLoadShapeOptions(kernelClient, 'bulk: bytes the server sends each connection', 'give up after this long')
    .option('--json', 'print one JSON object per line (started, progress, resumed, result)')
    .action(async (flags: KernelClientFlags) => {
      setExitCode(await runKernelClient(flags, io));
    });
}

/** The kernel client used when none is named: curl for http, node for the built-in apps. */
export function defaultKernelTool(app: string): KernelTool {
  return app === 'http' ? 'curl' : 'node';
}

/** --tool: which kernel client, and that it speaks --app. */
export function parseKernelTool(flag: string, text: string, app: string): KernelTool {
  if (!(KERNEL_TOOLS as readonly string[]).includes(text)) throw new UsageError(`${flag} must be one of ${KERNEL_TOOLS.join(', ')}, got ${text}`);
  const tool = text as KernelTool;
  if (tool !== 'node' && TOOL_APPS[tool] !== app) throw new UsageError(`${flag} ${tool} speaks the ${TOOL_APPS[tool]} app only, not ${app}`);
  if (tool === 'node' && app === 'http') throw new UsageError(`${flag} node does not speak http; use ${flag} curl`);
  return tool;
}

async function runKernelClient(flags: KernelClientFlags, io: CliIo): Promise<number> {
  const shape = parseLoadShape(flags);
  const connections = parseIntegerFlag('--connections', flags.connections, 1, 1000);
  if (flags.app === 'redis' && flags.tool !== 'node' && flags.tool !== 'redis-cli') throw new UsageError(`--app redis runs redis-cli as the client; --tool ${flags.tool} does not speak RESP`);
  const tool: KernelTool | 'redis-cli' = flags.app === 'redis' ? 'redis-cli' : parseKernelTool('--tool', flags.tool, flags.app);
  const common = {
    host: flags.host,
    port: parsePort('--port', flags.port),
    connections,
    seed: parseSeed('--seed', flags.seed),
    requests: shape.requests,
    thinkMs: shape.thinkMs,
  };
  const load =
    tool === 'redis-cli'
      ? new RedisCliLoad(common)
      : tool === 'curl'
      ? new CurlLoad(common)
      : tool === 'nc'
        ? new NcLoad(common)
        : new KernelLoad({
            ...common,
            app: parseApp('--app', flags.app),
            bulkBytes: shape.bulkBytes,
            uploadBytes: shape.uploadBytes,
          });
  const app = flags.app;
  const { timeoutMs, progressMs } = shape;
  const json = flags.json === true;
  const out = (human: string, obj: object) => io.stdout(json ? `${JSON.stringify(obj)}\n` : `${human}\n`);
  const startedMs = wallClockMs();
  out(`ftcp kernel-client: ${connections} ${app} connection(s) to ${flags.host}:${load.o.port} on the kernel's TCP (${tool})`, { event: 'started', atMs: startedMs, app, tool, connections, kernel: true, pid: process.pid });
  const stop = waitForStopSignal();
  const onUsr1 = () => load.watchReads(() => out('ftcp kernel-client: first byte after the mark', { event: 'resumed', atMs: wallClockMs() }));
  process.on('SIGUSR1', onUsr1);
  const progress = progressMs > 0 ? setInterval(() => out(`ftcp kernel-client: ${load.bytesReceived} bytes received, ${load.settled}/${connections} done`, { event: 'progress', atMs: wallClockMs(), bytesReceived: load.bytesReceived, settled: load.settled }), progressMs) : undefined;
  const timeout = setTimeout(() => stop.stop('timeout'), timeoutMs);
  void load.run().then(() => stop.stop('done'));
  const reason = await stop.stopped;
  stop.dispose();
  clearTimeout(timeout);
  if (progress !== undefined) clearInterval(progress);
  process.off('SIGUSR1', onUsr1);
  const r = load.result();
  load.destroyAll();
  const elapsedMs = Math.round(wallClockMs() - startedMs);
  // Not one byte back on any connection: say so in one line, not a verdict on no data.
  if (!r.ok && r.bytesReceived === 0) {
    const refused = r.conns.length > 0 && r.conns.every((c) => c.error !== undefined && CONNECT_FAILURE.test(c.error));
    const why = refused ? `cannot connect to ${flags.host}:${load.o.port} (${r.conns[0]!.error})` : `nobody answered at ${flags.host}:${load.o.port} within ${elapsedMs} ms: not one byte came back on any of ${connections} connection(s)`;
    io.stderr(`error: ftcp kernel-client: ${why}; is the service up, and --host/--port right?\n`);
    if (json) out('', { event: 'result', app, tool, connections, ...r, unanswered: true, stoppedBy: reason, elapsedMs, atMs: wallClockMs() });
    return refused ? EXIT.connection : reason === 'timeout' ? EXIT.liveness : EXIT.correctness;
  }
  const lines = [
    `ftcp kernel-client: ${r.ok ? 'ok' : 'FAILED'}${reason !== 'done' ? ` (stopped: ${reason})` : ''} after ${elapsedMs} ms: ${r.streams.intact} intact, ${r.streams.broken} broken, ${r.resets} reset(s)`,
    ...('counter' in r && r.counter !== undefined ? [`  counter: ${r.counter.count} answers, ${r.counter.consecutive ? 'exactly 1..n' : 'NOT consecutive'}`] : []),
    ...r.problems.slice(0, 10).map((p) => `  problem: ${p}`),
  ];
  out(lines.join('\n'), { event: 'result', app, tool, connections, ...r, duplicateSegmentsDropped: null, retransmits: null, stoppedBy: reason, elapsedMs, atMs: wallClockMs() });
  return r.ok ? EXIT.ok : r.resets > 0 ? EXIT.connection : reason === 'timeout' ? EXIT.liveness : EXIT.correctness;
}

/** A connection that never got as far as connecting (refused, no such host, no route). */
const CONNECT_FAILURE = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL/;

// ---- `ftcp kernel-server`: the kernel as the server ("ftcp client to a kernel server") ----

interface KernelServerFlags {
  listen: string;
  app: string;
  seed: string;
  bulkBytes: string;
  json?: boolean;
}

export function registerKernelServerCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('kernel-server')
    .summary('an echo or bulk server on the kernel\'s own TCP (Node net), for an ftcp client to talk to')
    .description(
      'Listens on a kernel TCP socket (inside the network namespace of the TUN bridge, at 192.0.2.1) and serves ' +
        'the echo app (every byte back) or the bulk app (the seeded download of connection n, the n-th accepted, ' +
        'as the replicas\' bulk app sends it; the SHA-256 of each upload printed when the client half-closes). ' +
        'Runs until SIGTERM or SIGINT.',
    )
    .option('--listen <host:port>', 'address to listen on', '192.0.2.1:7070')
    .option('--app <name>', 'echo or bulk', 'echo')
    .option('--seed <s>', 'run seed (the client\'s --seed: the bulk stream is derived from it)', '1')
    .option('--bulk-bytes <n>', 'bulk: bytes sent on each connection', String(DEFAULT_BULK_BYTES))
    .option('--json', 'one JSON object per line (listening, upload, stopped)')
    .action(async (flags: KernelServerFlags) => {
      setExitCode(await runKernelServer(flags, io));
    });
}

async function runKernelServer(flags: KernelServerFlags, io: CliIo): Promise<number> {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(flags.listen.trim());
  if (m === null) throw new UsageError(`--listen must be HOST:PORT such as 192.0.2.1:7070, got ${flags.listen}`);
  const app = parseApp('--app', flags.app);
  if (app !== 'echo' && app !== 'bulk') throw new UsageError(`--app must be echo or bulk for the kernel server, got ${flags.app}`);
  const server = new KernelServer({ app, seed: parseSeed('--seed', flags.seed), bulkBytes: parseByteCount('--bulk-bytes', flags.bulkBytes) });
  const json = flags.json === true;
  const out = (human: string, obj: object) => io.stdout(json ? `${JSON.stringify(obj)}\n` : `${human}\n`);
  server.onUpload = (u) => out(`ftcp kernel-server: connection ${u.conn} uploaded ${u.bytes} bytes, sha256 ${u.sha256}`, { event: 'upload', ...u });
  const stop = waitForStopSignal();
  try {
    await server.listen(m[1]!, parsePort('--listen', m[2]!));
  } catch (error) {
    stop.dispose();
    io.stderr(`error: ftcp kernel-server: cannot listen on ${flags.listen}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.connection;
  }
  out(`ftcp kernel-server: ${app} on ${flags.listen} (the kernel's TCP)`, { event: 'listening', app, listen: flags.listen, pid: process.pid });
  const signal = await stop.stopped;
  await server.close();
  out(`ftcp kernel-server: stopped by ${signal} after ${server.accepted} connection(s)`, { event: 'stopped', signal, connections: server.accepted });
  return EXIT.ok;
}
