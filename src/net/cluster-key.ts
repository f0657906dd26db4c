/**
 * The cluster key: a secret shared by every process of one ftcp cluster (replicas, the
 * embedded arbiter, the switch and its hosts), with which they authenticate each other on
 * the log channel and the arbiter protocol (cluster-auth.ts, which also encrypts them)
 * and in the switch's control datagrams (switch-auth.ts). Configured by
 * `--cluster-key-file PATH`, or the environment: FTCP_CLUSTER_KEY_FILE (a path) or
 * FTCP_CLUSTER_KEY (the key itself).
 *
 * The key is never printed: the object holds it in a private field, and its string, JSON
 * and inspect forms show only where it came from and its id, an 8-hex-digit HMAC of a
 * constant that tells two processes' keys apart without revealing either.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';

export const CLUSTER_KEY_ENV = 'FTCP_CLUSTER_KEY';
export const CLUSTER_KEY_FILE_ENV = 'FTCP_CLUSTER_KEY_FILE';
/** Shorter keys are refused: HMAC-SHA-256 wants at least 128 bits of secret. */
export const CLUSTER_KEY_MIN_BYTES = 16;

/** A key that cannot be used (missing file, too short); the message never contains the key. */
export class ClusterKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterKeyError';
  }
}

export class ClusterKey {
  readonly #secret: Buffer;
  /** Where it came from: "--cluster-key-file k.txt", "FTCP_CLUSTER_KEY", ... */
  readonly source: string;
  /** A fingerprint safe to print: equal ids, equal keys (with overwhelming odds). */
  readonly id: string;

  private constructor(secret: Buffer, source: string) {
    this.#secret = secret;
    this.source = source;
    this.id = createHmac('sha256', secret).update('ftcp cluster key id').digest('hex').slice(0, 8);
  }

  /** The key as text (a file's content or the variable's value); trailing whitespace is not part of it. */
  static fromText(text: string, source: string): ClusterKey {
    const trimmed = text.replace(/\s+$/, '');
    const bytes = Buffer.from(trimmed, 'utf8');
    if (bytes.length === 0) throw new ClusterKeyError(`the cluster key from ${source} is empty`);
    if (bytes.length < CLUSTER_KEY_MIN_BYTES) {
      throw new ClusterKeyError(`the cluster key from ${source} is ${bytes.length} bytes; use at least ${CLUSTER_KEY_MIN_BYTES} random bytes (e.g. \`openssl rand -hex 32\`)`);
    }
    return new ClusterKey(bytes, source);
  }

  /** A fresh random key as text, for orchestrators that start a whole cluster (the demo). */
  static generateText(): string {
    return randomBytes(32).toString('hex');
  }

  /** HMAC-SHA-256 under this key of the parts, concatenated. */
  mac(...parts: Uint8Array[]): Buffer {
    const h = createHmac('sha256', this.#secret);
    for (const p of parts) h.update(p);
    return h.digest();
  }

  toString(): string {
    return `cluster key ${this.id} (from ${this.source})`;
  }

  toJSON(): { source: string; id: string } {
    return { source: this.source, id: this.id };
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * The configured key: `file` (the flag) first, then FTCP_CLUSTER_KEY_FILE, then
 * FTCP_CLUSTER_KEY; undefined when none is set. Throws ClusterKeyError when the one set
 * cannot be used (a variable set but empty counts as set).
 */
export function loadClusterKey(file: string | undefined, env: NodeJS.ProcessEnv = process.env, flag = '--cluster-key-file'): ClusterKey | undefined {
  const fromFile = (path: string, source: string): ClusterKey => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new ClusterKeyError(`cannot read the cluster key file ${path} (${source}): ${code === 'ENOENT' ? 'no such file' : code ?? String(error)}`);
    }
    return ClusterKey.fromText(text, source);
  };
  if (file !== undefined) return fromFile(file, `${flag} ${file}`);
  const envFile = env[CLUSTER_KEY_FILE_ENV];
  if (envFile !== undefined) {
    if (envFile === '') throw new ClusterKeyError(`${CLUSTER_KEY_FILE_ENV} is set but empty`);
    return fromFile(envFile, `${CLUSTER_KEY_FILE_ENV}=${envFile}`);
  }
  const text = env[CLUSTER_KEY_ENV];
  if (text !== undefined) return ClusterKey.fromText(text, CLUSTER_KEY_ENV);
  return undefined;
}
