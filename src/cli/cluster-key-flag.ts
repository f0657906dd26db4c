/**
 * `--cluster-key-file PATH` (or FTCP_CLUSTER_KEY_FILE / FTCP_CLUSTER_KEY in the
 * environment): the key with which replicas, the embedded arbiter, the switch and the
 * hosts that register with it authenticate each other (src/net/cluster-key.ts). Without
 * one they run unauthenticated, after a one-line warning on stderr (docs/decisions.md,
 * "No cluster key: allowed, with a warning").
 */
import type { Command } from 'commander';
import { CLUSTER_KEY_ENV, CLUSTER_KEY_FILE_ENV, ClusterKey, ClusterKeyError, loadClusterKey } from '../net/cluster-key.js';
import { UsageError, type CliIo } from './io.js';

export const CLUSTER_KEY_FLAG = '--cluster-key-file';

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
  'the start line shows its id (a fingerprint) so that two processes\' keys can be compared.\n';

/** The configured key, or undefined; a key that cannot be used is a UsageError. */
export function clusterKeyFromFlag(file: string | undefined): ClusterKey | undefined {
  try {
    return loadClusterKey(file, process.env, CLUSTER_KEY_FLAG);
  } catch (error) {
    if (error instanceof ClusterKeyError) throw new UsageError(error.message);
    throw error;
  }
}

/** The one-line warning of a process that runs without a key (printed once it has started). */
export function warnNoClusterKey(io: CliIo, who: string, what: string): void {
  io.stderr(`warning: ${who}: no cluster key (${CLUSTER_KEY_FLAG}, ${CLUSTER_KEY_FILE_ENV} or ${CLUSTER_KEY_ENV}): ${what} accepts any process that can connect\n`);
}
