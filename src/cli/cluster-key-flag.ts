/**
 * `--cluster-key-file PATH` (or FTCP_CLUSTER_KEY_FILE / FTCP_CLUSTER_KEY in the
 * environment): the key with which replicas, the embedded arbiter, the switch and the
 * hosts that register with it authenticate each other (src/net/cluster-key.ts). Without
 * one they run unauthenticated, after a one-line warning on stderr (docs/decisions.md,
 * "No cluster key: allowed, with a warning"), but only on loopback: an address of theirs
 * off 127.0.0.0/8 without a key is refused unless `--insecure` says to accept cleartext
 * (docs/decisions.md, "No cluster key across hosts: refused unless --insecure").
 */
import type { Command } from 'commander';
import { CLUSTER_KEY_ENV, CLUSTER_KEY_FILE_ENV, ClusterKey, ClusterKeyError, loadClusterKey } from '../net/cluster-key.js';
import { formatEndpoint, type Endpoint } from '../net/endpoint.js';
import { parseIpv4Addr } from '../wire/addr.js';
import { UsageError, type CliIo } from './io.js';

export const CLUSTER_KEY_FLAG = '--cluster-key-file';
export const INSECURE_FLAG = '--insecure';

export function addClusterKeyOption(command: Command): Command {
  return command.option(
    `${CLUSTER_KEY_FLAG} <path>`,
    `file holding the cluster key (at least 16 bytes; trailing whitespace ignored) with which replicas, the arbiter, the switch and its hosts authenticate each other; ` +
      `or set ${CLUSTER_KEY_FILE_ENV}=PATH, or ${CLUSTER_KEY_ENV} to the key itself (default: none, unauthenticated, with a warning)`,
  );
}

export const CLUSTER_KEY_HELP =
  `\nCluster key: every process of a cluster must have the same one (${CLUSTER_KEY_FLAG}, ${CLUSTER_KEY_FILE_ENV} or\n` +
  `${CLUSTER_KEY_ENV}); a peer without it, or with another, is refused with a log line. Make one with\n` +
  '`openssl rand -hex 32 > cluster.key` and keep it readable by the ftcp user only. It is never printed;\n' +
  'the start line shows its id (a fingerprint) so that two processes\' keys can be compared. Without one,\n' +
  `an address off loopback (not in 127.0.0.0/8) is refused; ${INSECURE_FLAG} accepts cleartext there.\n`;

export function addInsecureOption(command: Command): Command {
  return command.option(INSECURE_FLAG, `run without a cluster key even on addresses off loopback (127.0.0.0/8): the traffic then crosses the network in clear and unauthenticated (default: refused; loopback needs no key)`);
}

/** What a process exposes without a key, and where: every address not on 127.0.0.0/8 needs a key or --insecure. */
export interface CleartextCheck {
  insecure: boolean | undefined;
  /** "the log channel", "the arbiter protocol", ... */
  carries: string;
  addresses: Array<[flag: string, endpoint: Endpoint | undefined]>;
}

const onLoopback = (e: Endpoint) => parseIpv4Addr(e.host) >>> 24 === 127;

/**
 * The configured key, or undefined; a key that cannot be used is a UsageError, and so is
 * no key with an address of `check` off loopback unless --insecure is given.
 */
export function clusterKeyFromFlag(file: string | undefined, check?: CleartextCheck): ClusterKey | undefined {
  if (file !== undefined && check?.insecure === true) throw new UsageError(`${INSECURE_FLAG} runs without a cluster key, and ${CLUSTER_KEY_FLAG} gives one: drop one of them`);
  let key: ClusterKey | undefined;
  try {
    key = loadClusterKey(file, process.env, CLUSTER_KEY_FLAG);
  } catch (error) {
    if (error instanceof ClusterKeyError) throw new UsageError(error.message);
    throw error;
  }
  const away = key !== undefined || check === undefined || check.insecure === true ? undefined : check.addresses.find(([, e]) => e !== undefined && !onLoopback(e));
  if (away !== undefined) {
    throw new UsageError(`${away[0]} ${formatEndpoint(away[1]!)} is not on loopback and there is no cluster key: ${check!.carries} would cross hosts in clear and unauthenticated; add ${CLUSTER_KEY_FLAG} PATH (or set ${CLUSTER_KEY_FILE_ENV}), or ${INSECURE_FLAG} to accept cleartext`);
  }
  return key;
}

/** The one-line warning of a process that runs without a key (printed once it has started). */
export function warnNoClusterKey(io: CliIo, who: string, what: string): void {
  io.stderr(`warning: ${who}: no cluster key (${CLUSTER_KEY_FLAG}, ${CLUSTER_KEY_FILE_ENV} or ${CLUSTER_KEY_ENV}): ${what} accepts any process that can connect\n`);
}
