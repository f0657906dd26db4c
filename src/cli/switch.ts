/**
 * `ftcp switch`: the loopback network's switch (src/net/switch.ts) as a process.
 *
 *   ftcp switch [--listen HOST:PORT] [--service ADDR] [--capture FILE | --no-capture] [--mtu N]
 *               [--cluster-key-file PATH] [--json]
 *
 * Prints one line when it listens (with the port actually bound, for --listen ...:0), one
 * per address registration or move, and its statistics when SIGTERM or SIGINT stops it.
 */
import type { Command } from 'commander';
import { formatEndpoint, type Endpoint } from '../net/endpoint.js';
import { waitForStopSignal } from '../net/signals.js';
import { CONTROL_AUTH_TEXT } from '../net/switch-auth.js';
import { DEFAULT_SERVICE_ADDRESS, UdpSwitch, type SwitchEvent, type SwitchStats } from '../net/switch.js';
import { LinkError, MAX_MTU } from '../net/udp-link.js';
import { formatIpv4Addr } from '../wire/addr.js';
import { addClusterKeyOption, addInsecureOption, CLUSTER_KEY_HELP, clusterKeyFromFlag, warnNoClusterKey } from './cluster-key-flag.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { parseEndpointFlag, parseMtuFlag, parseVirtualAddressFlag } from './net-flags.js';
import { addNiceOption, parseNice } from './nice-flag.js';
import { raiseOwnPriority } from '../net/priority.js';
import { checkOutputFile } from './validate.js';
import { addCaptureLiveOption, describeCaptureLive, openCaptureLive } from './capture-live-flag.js';
import { helpAfter } from './help-layout.js';

export const DEFAULT_SWITCH_LISTEN = '127.0.0.1:9400';
export const DEFAULT_SWITCH_CAPTURE = 'captures/client.pcapng';

interface SwitchFlags {
  nice: string;
  listen: string;
  service: string;
  capture: string | false;
  mtu: string;
  json?: boolean;
  /** Static entries, ADDR=HOST:PORT (the TUN bridge). */
  static: string[];
  /** capture refused datagrams too. */
  captureDropped?: boolean;
  clusterKeyFile?: string;
  insecure?: boolean;
  captureLive?: string;
}

export function registerSwitchCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const command = program
    .command('switch')
    .summary('the UDP switch that carries IP packets between hosts on loopback')
    .description(
      'Forwards raw IPv4 packets, one per UDP datagram, by destination address. Hosts register their virtual ' +
        'addresses (192.0.2.0/24) with an epoch; the service address goes to the highest epoch announced (the ' +
        'gratuitous ARP of this network), and packets from a host whose claim is older are dropped and counted. ' +
        'Writes the client-side capture. Runs until SIGTERM or SIGINT, then prints its statistics.',
    )
    .option('--listen <host:port>', 'UDP address to listen on (port 0 picks a free one, printed at start)', DEFAULT_SWITCH_LISTEN)
    .option('--service <addr>', 'the replicated service\'s virtual address', DEFAULT_SERVICE_ADDRESS)
    .option('--capture <file>', 'pcapng file of every packet forwarded to or from a client address', DEFAULT_SWITCH_CAPTURE)
    .option('--no-capture', 'write no capture')
    .option('--capture-dropped', 'also capture the datagrams refused as stale-epoch or not-owner (a second interface; each packet\'s comment names the UDP endpoint it came from) (default: off)')
    .option('--mtu <bytes>', `largest datagram forwarded, 68..${MAX_MTU}`, String(MAX_MTU))
    .option('--json', 'print one JSON object per line (listening, each event, stopped with statistics)')
    // Static entries: socat bridging a TUN device cannot register itself.
    .option('--static <addr=host:port>', 'pin a virtual address to a UDP endpoint that sends no control datagrams (socat\'s TUN bridge); never moves; repeatable', (v: string, prev: string[]) => [...prev, v], [] as string[]);
  // with a key, only hosts that hold it may register (src/net/switch-auth.ts).
  addNiceOption(addInsecureOption(addClusterKeyOption(addCaptureLiveOption(command))))
    .addHelpText(
      'after',
      helpAfter('\nExit codes: 0 stopped by SIGTERM/SIGINT; 2 bad usage (flags, capture file); 4 cannot listen\n' +
        '(port in use, address not local).\n\n' +
        'Examples:\n  ftcp switch --listen 127.0.0.1:9400 --capture captures/run1/client.pcapng\n' +
        '  ftcp switch --listen 127.0.0.1:9400 --capture-live - | wireshark -k -i -\n' +
        CLUSTER_KEY_HELP)
    )
    .action(async (flags: SwitchFlags) => {
      setExitCode(await runSwitch(flags, io));
    });
}

async function runSwitch(flags: SwitchFlags, cliIo: CliIo): Promise<number> {
  const listen = parseEndpointFlag('--listen', flags.listen);
  const service = parseVirtualAddressFlag('--service', flags.service);
  const mtu = parseMtuFlag('--mtu', flags.mtu);
  const nice = parseNice(flags.nice);
  const capturePath = flags.capture === false ? undefined : flags.capture;
  if (capturePath !== undefined) checkOutputFile('--capture', capturePath);
  const json = flags.json === true;
  const staticHosts = flags.static.map((text) => parseStaticFlag(text, service));
  const pinned = staticHosts.map((h) => formatIpv4Addr(h.address));
  const twice = pinned.find((a, i) => pinned.indexOf(a) !== i);
  if (twice !== undefined) throw new UsageError(`--static pins ${twice} twice; give each address one HOST:PORT`);
  const clusterKey = clusterKeyFromFlag(flags.clusterKeyFile, { insecure: flags.insecure, carries: 'the registrations of the service address', addresses: [['--listen', listen]] });
  const { live, io } = openCaptureLive(flags.captureLive, cliIo);
  if (nice !== undefined) raiseOwnPriority('switch', nice, (line) => io.stderr(line));
  const out = (human: string, obj: object) => io.stdout(json ? `${JSON.stringify(obj)}\n` : `${human}\n`);

  let sw: UdpSwitch;
  try {
    sw = await UdpSwitch.start({ listen, service, mtu, staticHosts, captureDropped: flags.captureDropped === true, clusterKey, live, ...(capturePath !== undefined ? { capturePath } : {}) });
  } catch (error) {
    await live?.close();
    if (error instanceof LinkError) {
      io.stderr(`error: ftcp switch: ${error.message}\n`);
      return EXIT.connection;
    }
    io.stderr(`error: ftcp switch: cannot create the capture ${capturePath ?? ''}: ${error instanceof Error ? error.message : String(error)}; pick another path with --capture FILE\n`);
    return EXIT.usage;
  }
  const stop = waitForStopSignal();
  const startedMs = io.nowMs();
  const where = formatEndpoint(sw.local);
  if (clusterKey === undefined) warnNoClusterKey(io, 'ftcp switch', 'the switch');
  out(`ftcp switch: listening on ${where}, service ${formatIpv4Addr(service)}, capture ${capturePath ?? 'none'}, ${clusterKey === undefined ? 'no cluster key' : `cluster key ${clusterKey.id}`}`, {
    event: 'listening',
    address: sw.local.host,
    port: sw.local.port,
    service: formatIpv4Addr(service),
    capture: capturePath ?? null,
    static: staticHosts.map((h) => `${formatIpv4Addr(h.address)}=${formatEndpoint(h.host)}`),
    clusterKey: clusterKey?.toJSON() ?? null,
  });
  sw.onEvent((e) => {
    if (e.type === 'capture-failed') io.stderr(`error: ftcp switch: ${e.message}; forwarding goes on\n`);
    else out(describeEvent(e), jsonEvent(e));
  });

  const signal = await stop.stopped;
  await sw.close();
  const seconds = (io.nowMs() - startedMs) / 1000;
  const liveLine = live === undefined ? '' : `\n${describeCaptureLive(live)}`;
  out(describeStats(sw.stats, signal, seconds, sw, capturePath) + liveLine, { event: 'stopped', signal, seconds, capture: capturePath ?? null, stats: sw.stats, live: live?.stats ?? null });
  return EXIT.ok;
}

/** --static ADDR=HOST:PORT: a virtual address pinned to a UDP endpoint. */
function parseStaticFlag(text: string, service: number): { address: number; host: Endpoint } {
  const eq = text.indexOf('=');
  if (eq < 0) throw new UsageError(`--static must be ADDR=HOST:PORT such as 192.0.2.1=127.0.0.1:9499, got ${text}`);
  const address = parseVirtualAddressFlag('--static', text.slice(0, eq));
  if (address === service) throw new UsageError(`--static: the service address ${formatIpv4Addr(service)} cannot be pinned (it moves with the epochs), got ${text}`);
  return { address, host: parseEndpointFlag('--static', text.slice(eq + 1), { allowPortZero: false }) };
}

function describeEvent(e: Exclude<SwitchEvent, { type: 'capture-failed' }>): string {
  if (e.type === 'auth-refused') return `refused register from ${formatEndpoint(e.host)}: ${CONTROL_AUTH_TEXT[e.reason]}${e.count > 1 ? ` (${e.count} of this kind so far)` : ''}`;
  const a = formatIpv4Addr(e.address);
  switch (e.type) {
    case 'registered':
      return `registered ${a} at ${formatEndpoint(e.host)} (epoch ${e.epoch})`;
    case 'moved':
      return `moved ${a} from ${formatEndpoint(e.from)} (epoch ${e.fromEpoch}) to ${formatEndpoint(e.to)} (epoch ${e.epoch})`;
    case 'refused':
      return `refused ${a} to ${formatEndpoint(e.host)}: epoch ${e.epoch} is not above the holder's ${e.holderEpoch}`;
  }
}

function jsonEvent(e: Exclude<SwitchEvent, { type: 'capture-failed' }>): object {
  if (e.type === 'auth-refused') return { event: 'auth-refused', reason: e.reason, host: formatEndpoint(e.host), count: e.count, message: CONTROL_AUTH_TEXT[e.reason] };
  const base = { event: e.type, address: formatIpv4Addr(e.address), epoch: e.epoch };
  switch (e.type) {
    case 'registered':
      return { ...base, host: formatEndpoint(e.host) };
    case 'moved':
      return { ...base, from: formatEndpoint(e.from), fromEpoch: e.fromEpoch, to: formatEndpoint(e.to) };
    case 'refused':
      return { ...base, host: formatEndpoint(e.host), holderEpoch: e.holderEpoch };
  }
}

function describeStats(s: SwitchStats, signal: string, seconds: number, sw: UdpSwitch, capturePath: string | undefined): string {
  const drops = Object.entries(s.dropped)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  const malformed = Object.entries(s.malformed).map(([k, n]) => `${k} ${n}`);
  const badAuth = Object.entries(s.badAuth)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  const holder = sw.holder(sw.service);
  const lines = [
    `ftcp switch: stopped by ${signal} after ${seconds.toFixed(1)} s`,
    `  datagrams in ${s.datagramsIn} (${s.bytesIn} bytes), forwarded ${s.forwarded} (${s.bytesForwarded} bytes), control ${s.controlIn}`,
    `  dropped: ${drops.length === 0 ? 'none' : drops.join(', ')}${malformed.length > 0 ? ` (malformed: ${malformed.join(', ')})` : ''}${badAuth.length > 0 ? ` (bad-auth: ${badAuth.join(', ')})` : ''}`,
    `  registrations ${s.registrations}, refreshes ${s.refreshes}, refused ${s.refused}, moves ${s.moves}, challenges ${s.challenges}`,
    `  service ${formatIpv4Addr(sw.service)}: ${holder === undefined ? 'never announced' : `epoch ${holder.epoch} at ${formatEndpoint(holder.host)}`}`,
    `  capture: ${capturePath === undefined ? 'none' : `${capturePath} (${s.captured} packets${sw.captureError !== undefined ? `, stopped early: ${sw.captureError}` : ''})`}`,
  ];
  return lines.join('\n');
}
