/**
 * The TCP sysctls of packetdrill's gtests/net/common/defaults.sh (and the Linux selftests'
 * copy), under net.ipv4: the values every conformance run starts from, written once. The
 * linux target sets them in its namespace (linux/sysctls.ts, BASE_SYSCTLS); a script's
 * shell line that sets one to the same value changes nothing (shell.ts). Each leaves out
 * or adds a few, said where it does, with test/conformance/sysctl-defaults.test.ts
 * keeping the list of those differences.
 */

/** defaults.sh's TCP sysctls, without fast open and ECN (neither target has them), by short name. */
export const PACKETDRILL_TCP_SYSCTLS: Readonly<Record<string, string>> = {
  tcp_timestamps: '1',
  tcp_sack: '1',
  tcp_dsack: '1',
  tcp_window_scaling: '1',
  tcp_frto: '2',
  tcp_fack: '0',
  tcp_reordering: '3',
  tcp_congestion_control: 'cubic',
  tcp_slow_start_after_idle: '0',
  tcp_early_retrans: '4',
  tcp_recovery: '1',
  tcp_tso_win_divisor: '3',
  tcp_ecn: '0',
  tcp_syncookies: '1',
  // Not a line of defaults.sh: its `ip tcp_metrics flush` as a setting (nothing is cached between connections).
  tcp_no_metrics_save: '1',
  // packetdrill's buffer sizes: a 15 MiB receive buffer maximum gives window scale 8.
  tcp_rmem: '4096 540000 15728640',
  tcp_wmem: '4096 262144 4194304',
  tcp_syn_retries: '5',
  tcp_synack_retries: '5',
  tcp_pacing_ss_ratio: '200',
  tcp_pacing_ca_ratio: '120',
  tcp_notsent_lowat: '4294967295',
};

/** The table without `names`. */
export function sysctlsWithout(names: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(PACKETDRILL_TCP_SYSCTLS).filter(([name]) => !names.includes(name)));
}
