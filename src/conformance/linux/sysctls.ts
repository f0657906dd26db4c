/**
 * What a script's options mean to the linux target: the sysctls of the namespace the
 * script runs in. The base is packetdrill's own gtests/net/common/defaults.sh where it
 * bears on TCP without fast open, ECN or MPTCP (packetdrill-sysctls.ts: SACK, D-SACK,
 * timestamps, RACK and TLP, F-RTO, no slow start after idle, syncookies; CUBIC is set per
 * socket by the helper, since a namespace's sysctl only takes what the host allows); an
 * option that has a Linux knob sets it; any other option is an error naming its line,
 * never ignored.
 */
import { formatIpv4Addr, type Ipv4Addr } from '../../wire/addr.js';
import type { ScriptOption } from '../script.js';
import { sysctlsWithout } from '../packetdrill-sysctls.js';
import { OptionError, type RunSettings } from '../settings.js';
import type { KernelSetup } from './kernel.js';

/**
 * In packetdrill-sysctls.ts but not set in the namespace: `tcp_fack` (a legacy knob that has
 * done nothing since Linux 4.15 retired FACK; the line only matters to shell.ts) and
 * `tcp_congestion_control` (a namespace only takes what the host allows; CUBIC is set on
 * each socket instead).
 */
const NOT_IN_NAMESPACE = ['tcp_fack', 'tcp_congestion_control'];

/** The namespace's sysctls before the script's options (docs/conformance.md lists them). */
export const BASE_SYSCTLS: Readonly<Record<string, string>> = {
  'net.ipv6.conf.all.disable_ipv6': '1',
  'net.ipv6.conf.default.disable_ipv6': '1',
  ...Object.fromEntries(Object.entries(sysctlsWithout(NOT_IN_NAMESPACE)).map(([name, value]) => [`net.ipv4.${name}`, value])),
  // defaults.sh turns fast open on (0x70403); neither target has it, so the namespace turns it off.
  'net.ipv4.tcp_fastopen': '0',
};

/** Options that are the runner's business and mean the same on both targets. */
const RUNNER_OPTIONS = new Set(['tolerance_usecs', 'local_ip', 'remote_ip', 'bind_port', 'connect_port', 'remote_port', 'remote_isn', 'ip_version', 'mtu', 'ignore_psh', 'tcp_ts_tick_usecs', 'strict_segments']);

/** ftcp's seed picks its ISNs and ports; the kernel draws its own, and scripts see neither. */
const NO_EFFECT = new Set(['seed']);

/** Boolean and count options with a sysctl of the same meaning. */
const SYSCTL_OF: Readonly<Record<string, string[]>> = {
  sack: ['net.ipv4.tcp_sack'],
  dsack: ['net.ipv4.tcp_dsack'],
  timestamps: ['net.ipv4.tcp_timestamps'],
  window_scaling: ['net.ipv4.tcp_window_scaling'],
  syn_cookies: ['net.ipv4.tcp_syncookies'],
  syn_retries: ['net.ipv4.tcp_syn_retries', 'net.ipv4.tcp_synack_retries'],
  max_retries: ['net.ipv4.tcp_retries2'],
  keep_alive_probes: ['net.ipv4.tcp_keepalive_probes'],
  ttl: ['net.ipv4.ip_default_ttl'],
  challenge_ack_limit: ['net.ipv4.tcp_challenge_ack_limit'],
  min_tso_segs: ['net.ipv4.tcp_min_tso_segs'],
  slow_start_after_idle: ['net.ipv4.tcp_slow_start_after_idle'],
};

/** Millisecond options whose sysctl counts seconds. */
const SECONDS_SYSCTL_OF: Readonly<Record<string, string>> = {
  keep_alive_idle_ms: 'net.ipv4.tcp_keepalive_time',
  keep_alive_interval_ms: 'net.ipv4.tcp_keepalive_intvl',
};

function in192(addr: Ipv4Addr): boolean {
  return formatIpv4Addr(addr).startsWith('192.0.2.');
}

/**
 * The namespace for a script: its sysctls and addresses. `settings` is what
 * resolveSettings made of the same options (values already checked there).
 */
export function linuxSetup(options: readonly ScriptOption[], settings: RunSettings): KernelSetup {
  const sysctls: Record<string, string> = { ...BASE_SYSCTLS };
  let rtoMinMs: number | undefined;
  let congestionControl = 'cubic';
  for (const o of options) {
    const value = o.value ?? '';
    if (RUNNER_OPTIONS.has(o.name) || NO_EFFECT.has(o.name)) continue;
    const names = SYSCTL_OF[o.name];
    if (names !== undefined) {
      for (const n of names) sysctls[n] = value;
      continue;
    }
    const seconds = SECONDS_SYSCTL_OF[o.name];
    if (seconds !== undefined) {
      const ms = Number(value);
      if (ms % 1000 !== 0 || ms === 0) throw new OptionError(o.line, `--${o.name}=${value}: the linux target sets ${seconds}, which counts whole seconds`);
      sysctls[seconds] = String(ms / 1000);
      continue;
    }
    if (o.name === 'rack') {
      // RFC 8985 is RACK and TLP together: Linux's RACK loss detection (tcp_recovery bit 0)
      // and its tail loss probe (tcp_early_retrans 4) go on and off as one.
      sysctls['net.ipv4.tcp_recovery'] = value;
      sysctls['net.ipv4.tcp_early_retrans'] = value === '1' ? '4' : '0';
      continue;
    }
    if (o.name === 'congestion_control') {
      congestionControl = value === 'newreno' ? 'reno' : value;
      continue;
    }
    if (o.name === 'profile') {
      // The kernel makes Linux's choices: the linux profile is what it does anyway.
      if (value !== 'linux') throw new OptionError(o.line, `--profile=${value}: the linux target makes Linux's choices; only --profile=linux describes it`);
      continue;
    }
    if (o.name === 'rto_min_ms') {
      rtoMinMs = Number(value);
      continue;
    }
    throw new OptionError(o.line, `--${o.name}: the linux target cannot honour it (no per-namespace Linux setting does the same; see docs/conformance.md)`);
  }
  const line = options.find((o) => o.name === 'local_ip' || o.name === 'remote_ip')?.line ?? 1;
  if (!in192(settings.localAddress) || !in192(settings.remoteAddress)) {
    throw new OptionError(line, `the linux target needs --local_ip and --remote_ip in 192.0.2.0/24, got ${formatIpv4Addr(settings.localAddress)} and ${formatIpv4Addr(settings.remoteAddress)}`);
  }
  if (settings.localAddress === settings.remoteAddress) throw new OptionError(line, '--local_ip and --remote_ip must differ');
  const mtu = settings.config.mtu ?? 1500;
  return { localAddress: formatIpv4Addr(settings.localAddress), mtu, sysctls, congestionControl, ...(rtoMinMs !== undefined ? { rtoMinMs } : {}) };
}
