/**
 * What a script's `--name=value` lines mean to the runner. packetdrill's own options that
 * apply here (`--tolerance_usecs`, `--local_ip`, `--remote_ip`, `--bind_port`,
 * `--connect_port`, `--mtu`, `--tcp_ts_tick_usecs`, `--strict_segments`) are honoured
 * (`--mss`, the GSO size of injected packets, is accepted with a warning); so are ours: `--remote_port`, `--remote_isn`,
 * `--seed`, `--ignore_psh=1` (outbound flags compared without PSH), every numeric StackConfig field in snake case (`--msl_ms=500`,
 * `--recv_buffer_bytes=4096`, `--challenge_ack_limit=2`, ...), the boolean ones as 0 or
 * 1 (`--sack=0`, `--dsack=0`, `--timestamps=0`, `--window_scaling=0`, `--syn_cookies=0`), and
 * `--congestion_control=newreno|cubic` (Linux's net.ipv4.tcp_congestion_control),
 * `--profile=rfc|linux` (whose choices the stack makes where the RFCs allow both) and
 * `--hystart=0|1` (RFC 9406 HyStart++). Anything
 * else is an error naming its line: an option silently ignored would let a script pass that
 * did not run as written.
 */
import { STACK_PROFILES, type StackConfig, type StackProfile } from '../tcp/types.js';
import { parseIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import type { ScriptOption } from './script.js';

export interface RunSettings {
  /** How far from its scripted time an outbound packet or a blocking call may happen (packetdrill default 4 ms). */
  toleranceUs: number;
  /** The stack's address (packetdrill's local side). */
  localAddress: Ipv4Addr;
  /** The scripted peer's address. */
  remoteAddress: Ipv4Addr;
  /** bind() without an address binds this port (packetdrill's default 8080). */
  bindPort: number;
  /** connect() without an address connects to this port of the remote side. */
  connectPort: number;
  /** The peer's port when the script opens connections towards a listener. */
  remotePort: number;
  /** The peer's ISN: inbound sequence numbers are relative to it. */
  remoteIsn: number;
  seed: number;
  /**
   * Compare outbound flags without PSH (`--ignore_psh=1`), for scripts whose point is not
   * where PSH goes: RFC 9293 §3.9.1 leaves PSH to the sender, and the profiles place it
   * differently (docs/conformance.md "Profiles").
   */
  ignorePsh: boolean;
  /**
   * `--tcp_ts_tick_usecs=N` (packetdrill's): outbound TS val are checked, at N µs a tick,
   * against the script's, both counted from the connection's first TS val the script
   * writes; 0 (the default) leaves TS val unchecked.
   */
  tsTickUs: number;
  /** `--strict_segments` (packetdrill's): no TSO aggregation, each scripted segment is one sent segment. */
  strictSegments: boolean;
  /** StackConfig fields set by options. */
  config: Partial<StackConfig>;
  /** Files the script's shell lines write (shell.ts, `dd`): their sizes, for open() and sendfile (files.ts). */
  files?: ReadonlyMap<string, number>;
}

export const DEFAULT_SETTINGS: Readonly<RunSettings> = {
  toleranceUs: 4_000,
  localAddress: parseIpv4Addr('192.0.2.10'),
  remoteAddress: parseIpv4Addr('192.0.2.1'),
  bindPort: 8080,
  connectPort: 8080,
  remotePort: 44444,
  remoteIsn: 0,
  seed: 1,
  ignorePsh: false,
  tsTickUs: 0,
  strictSegments: false,
  config: {},
};

/** StackConfig fields an option may set, by their snake-case option name. */
const CONFIG_OPTIONS: Readonly<Record<string, keyof StackConfig>> = {
  mtu: 'mtu',
  msl_ms: 'mslMs',
  send_buffer_bytes: 'sendBufferBytes',
  recv_buffer_bytes: 'recvBufferBytes',
  reassembly_limit_bytes: 'reassemblyLimitBytes',
  listen_backlog: 'listenBacklog',
  max_connections: 'maxConnections',
  rto_initial_ms: 'rtoInitialMs',
  rto_min_ms: 'rtoMinMs',
  rto_max_ms: 'rtoMaxMs',
  max_retries: 'maxRetries',
  syn_retries: 'synRetries',
  delayed_ack_ms: 'delayedAckMs',
  keep_alive_idle_ms: 'keepAliveIdleMs',
  keep_alive_interval_ms: 'keepAliveIntervalMs',
  keep_alive_probes: 'keepAliveProbes',
  ttl: 'ttl',
  window_scale: 'windowScale',
  challenge_ack_limit: 'challengeAckLimit',
  min_tso_segs: 'minTsoSegs',
};

/** Boolean StackConfig fields, set by `--name=0` or `--name=1` (like the Linux sysctls tcp_sack, tcp_dsack, ...). */
const BOOLEAN_OPTIONS: Readonly<Record<string, keyof StackConfig>> = {
  sack: 'sack',
  dsack: 'dsack',
  timestamps: 'timestamps',
  window_scaling: 'windowScaling',
  syn_cookies: 'synCookies',
  hystart: 'hystart',
  rack: 'rack',
  prr: 'prr',
  slow_start_after_idle: 'slowStartAfterIdle',
};

/** A bad option value: the runner reports it as the script's failure at that line. */
export class OptionError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
    this.name = 'OptionError';
  }
}

function integer(o: ScriptOption, min: number, max: number): number {
  const text = o.value ?? '';
  const value = /^\d+$/.test(text) ? Number(text) : /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text.slice(2), 16) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new OptionError(o.line, `--${o.name} must be an integer from ${min} to ${max}, got ${o.value ?? '(no value)'}`);
  }
  return value;
}

function address(o: ScriptOption): Ipv4Addr {
  try {
    return parseIpv4Addr(o.value ?? '');
  } catch {
    throw new OptionError(o.line, `--${o.name} must be an IPv4 address, got ${o.value ?? '(no value)'}`);
  }
}

export function resolveSettings(options: readonly ScriptOption[]): { settings: RunSettings; warnings: string[] } {
  const settings: RunSettings = { ...DEFAULT_SETTINGS, config: {} };
  const warnings: string[] = [];
  for (const o of options) {
    const configKey = CONFIG_OPTIONS[o.name];
    if (configKey !== undefined) {
      (settings.config as Record<string, number>)[configKey] = integer(o, 0, 2 ** 31 - 1);
      continue;
    }
    const booleanKey = BOOLEAN_OPTIONS[o.name];
    if (booleanKey !== undefined) {
      (settings.config as Record<string, boolean>)[booleanKey] = integer(o, 0, 1) === 1;
      continue;
    }
    switch (o.name) {
      case 'tolerance_usecs':
        settings.toleranceUs = integer(o, 0, 60_000_000);
        break;
      case 'local_ip':
        settings.localAddress = address(o);
        break;
      case 'remote_ip':
        settings.remoteAddress = address(o);
        break;
      case 'bind_port':
        settings.bindPort = integer(o, 1, 65535);
        break;
      case 'connect_port':
        settings.connectPort = integer(o, 1, 65535);
        break;
      case 'remote_port':
        settings.remotePort = integer(o, 1, 65535);
        break;
      case 'remote_isn':
        settings.remoteIsn = integer(o, 0, 0xffff_ffff);
        break;
      case 'seed':
        settings.seed = integer(o, 0, 0xffff_ffff);
        break;
      case 'ignore_psh':
        settings.ignorePsh = integer(o, 0, 1) === 1;
        break;
      case 'congestion_control':
        if (o.value !== 'cubic' && o.value !== 'newreno') {
          throw new OptionError(o.line, `--congestion_control must be cubic or newreno, got ${o.value ?? '(no value)'}`);
        }
        settings.config.congestionControl = o.value;
        break;
      case 'profile':
        if (!(STACK_PROFILES as readonly string[]).includes(o.value ?? '')) {
          throw new OptionError(o.line, `--profile must be ${STACK_PROFILES.join(' or ')}, got ${o.value ?? '(no value)'}`);
        }
        settings.config.profile = o.value as StackProfile;
        break;
      case 'tcp_ts_tick_usecs':
        settings.tsTickUs = integer(o, 0, 1_000_000);
        break;
      case 'strict_segments':
        if (o.value !== undefined) throw new OptionError(o.line, `--strict_segments takes no value, got ${o.value}`);
        settings.strictSegments = true;
        break;
      case 'mss':
        // packetdrill's GSO size for injected packets: metadata for a receiving kernel's GRO,
        // not bytes on the wire. The stack has no GRO, so it takes an injected segment whole
        // either way; said once, so a script does not pass believing it ran differently.
        warnings.push(
          `line ${o.line}: --mss=${integer(o, 1, 65535)} accepted: injected segments reach the stack whole (Linux would see ${o.value}-byte GRO aggregates)`,
        );
        break;
      case 'ip_version':
        if (o.value !== 'ipv4') throw new OptionError(o.line, `--ip_version: only ipv4 is supported, got ${o.value ?? '(no value)'}`);
        break;
      default:
        throw new OptionError(o.line, `unknown option --${o.name}: the runner cannot honour it (remove it, or see docs/conformance.md for the options it knows)`);
    }
  }
  return { settings, warnings };
}
