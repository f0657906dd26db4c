/**
 * The embedded arbiter's state file: every test-and-set flag it ever granted, so that a
 * restarted arbiter never grants an epoch twice (DESIGN.md, "The arbiter").
 *
 * Format: one JSON document, written whole on every grant,
 *
 *   { "format": "ftcp-arbiter-state", "version": 1,
 *     "flags": [ { "service": "192.0.2.10", "epoch": 1, "winner": "b", "grantedAt": "<ISO time>" }, ... ],
 *     "crc32": "<8 hex digits: CRC-32 of JSON.stringify(flags)>" }
 *
 * Durability: a grant is written to FILE.tmp, fsync'ed, renamed over FILE, and the
 * directory fsync'ed, all before the answer leaves the process. A crash at any point
 * leaves either the old file or the new one, never a torn one; a leftover FILE.tmp is a
 * grant that was never answered and is ignored.
 *
 * Refusals, never silent resets: a missing file is an error unless the caller asks to
 * create a fresh one (`--init`), and `--init` over an existing file is an error too; a
 * file that does not parse, fails its CRC, or holds a bad or duplicate flag is corrupt.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from '../wire/crc32.js';

export const ARBITER_STATE_FORMAT = 'ftcp-arbiter-state';
export const ARBITER_STATE_VERSION = 1;

export interface ArbiterFlag {
  service: string;
  epoch: number;
  winner: string;
  /** When it was granted (wall clock, ISO 8601); for people reading the file. */
  grantedAt: string;
}

export type ArbiterStateErrorCode = 'ARBITER_STATE_MISSING' | 'ARBITER_STATE_EXISTS' | 'ARBITER_STATE_CORRUPT' | 'ARBITER_STATE_IO';

export class ArbiterStateError extends Error {
  constructor(
    readonly code: ArbiterStateErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ArbiterStateError';
  }
}

const utf8 = new TextEncoder();
const key = (service: string, epoch: number) => `${epoch}\u0000${service}`;

function crcHex(flags: readonly ArbiterFlag[]): string {
  return crc32(utf8.encode(JSON.stringify(flags))).toString(16).padStart(8, '0');
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class ArbiterState {
  private readonly flags = new Map<string, ArbiterFlag>();
  /** Last persist duration (write + fsync + rename + directory fsync), µs. */
  lastPersistUs = 0;
  /** Made by this process (init). */
  private created = false;

  private constructor(readonly path: string) {}

  /**
   * Opens the state file. `init`: create a fresh, empty one (its directory too); refused
   * when the file exists. Without `init`, the file must exist and be intact.
   */
  static open(filePath: string, opts: { init?: boolean } = {}): ArbiterState {
    const state = new ArbiterState(filePath);
    const exists = fs.existsSync(filePath);
    if (opts.init === true) {
      if (exists) {
        throw new ArbiterStateError(
          'ARBITER_STATE_EXISTS',
          `state file ${filePath} already exists; drop --init to use it (re-initialising could grant an epoch twice)`,
        );
      }
      try {
        fs.mkdirSync(path.dirname(filePath), { recursive: true });
      } catch (error) {
        throw new ArbiterStateError('ARBITER_STATE_IO', `cannot create the directory of ${filePath}: ${errorText(error)}`);
      }
      state.persist([]);
      state.created = true;
      return state;
    }
    if (!exists) {
      throw new ArbiterStateError(
        'ARBITER_STATE_MISSING',
        `state file ${filePath} does not exist; for a new arbiter add --init to create it (never for one that has granted epochs before)`,
      );
    }
    let text: string;
    try {
      text = fs.readFileSync(filePath, 'utf8');
    } catch (error) {
      throw new ArbiterStateError('ARBITER_STATE_IO', `cannot read state file ${filePath}: ${errorText(error)}`);
    }
    for (const f of parseState(filePath, text)) state.flags.set(key(f.service, f.epoch), f);
    return state;
  }

  get size(): number {
    return this.flags.size;
  }

  get(service: string, epoch: number): ArbiterFlag | undefined {
    return this.flags.get(key(service, epoch));
  }

  /** Every flag, by service then epoch. */
  all(): ArbiterFlag[] {
    return [...this.flags.values()].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : a.epoch - b.epoch));
  }

  /**
   * Records a new flag durably (see the file comment), then in memory. Throws
   * ArbiterStateError ARBITER_STATE_IO when it cannot: the flag is then not granted.
   */
  grant(flag: ArbiterFlag): void {
    if (this.flags.has(key(flag.service, flag.epoch))) throw new Error(`arbiter state: epoch ${flag.epoch} of ${flag.service} is already granted`);
    this.persist([...this.all(), flag]);
    this.flags.set(key(flag.service, flag.epoch), flag);
  }

  /** Removes a state file this process just created with `init` and never granted from. */
  discardFresh(): void {
    if (this.flags.size !== 0 || !this.created) throw new Error('arbiter state: only a fresh, empty state file can be discarded');
    fs.rmSync(this.path, { force: true });
  }

  private persist(list: ArbiterFlag[]): void {
    const started = performance.now();
    // Fixed key order: the CRC covers JSON.stringify(flags), recomputed from the parsed fields on load.
    const flags = list.map(({ service, epoch, winner, grantedAt }) => ({ service, epoch, winner, grantedAt }));
    const doc = { format: ARBITER_STATE_FORMAT, version: ARBITER_STATE_VERSION, flags, crc32: crcHex(flags) };
    const tmp = `${this.path}.tmp`;
    try {
      const fd = fs.openSync(tmp, 'w');
      try {
        fs.writeFileSync(fd, `${JSON.stringify(doc, null, 2)}\n`);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.path);
      // The rename is durable only once the directory entry is.
      const dir = fs.openSync(path.dirname(this.path), 'r');
      try {
        fs.fsyncSync(dir);
      } finally {
        fs.closeSync(dir);
      }
    } catch (error) {
      throw new ArbiterStateError('ARBITER_STATE_IO', `cannot write state file ${this.path}: ${errorText(error)}`);
    }
    this.lastPersistUs = Math.round((performance.now() - started) * 1000);
  }
}

/** Parses and checks a state file's text; throws ARBITER_STATE_CORRUPT saying what is wrong. */
export function parseState(filePath: string, text: string): ArbiterFlag[] {
  const corrupt = (what: string) =>
    new ArbiterStateError(
      'ARBITER_STATE_CORRUPT',
      `state file ${filePath} is corrupt (${what}); refusing to start, since a reset could grant an epoch twice: restore it from a copy, or, if no replica will ever ask about its epochs again, move it away and start with --init`,
    );
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw corrupt(`not JSON: ${errorText(error)}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw corrupt('not a JSON object');
  const d = doc as Record<string, unknown>;
  if (d['format'] !== ARBITER_STATE_FORMAT) throw corrupt(`"format" is not "${ARBITER_STATE_FORMAT}"`);
  if (d['version'] !== ARBITER_STATE_VERSION) throw corrupt(`"version" ${JSON.stringify(d['version'])} is not ${ARBITER_STATE_VERSION}`);
  const flags = d['flags'];
  if (!Array.isArray(flags)) throw corrupt('"flags" is not a list');
  const seen = new Set<string>();
  const out: ArbiterFlag[] = [];
  flags.forEach((f: unknown, i) => {
    if (typeof f !== 'object' || f === null) throw corrupt(`flags[${i}] is not an object`);
    const { service, epoch, winner, grantedAt } = f as Record<string, unknown>;
    if (typeof service !== 'string' || service.length === 0) throw corrupt(`flags[${i}].service is not a non-empty string`);
    if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0 || epoch > 0xffff_ffff) throw corrupt(`flags[${i}].epoch is not a u32`);
    if (typeof winner !== 'string' || winner.length === 0) throw corrupt(`flags[${i}].winner is not a non-empty string`);
    if (typeof grantedAt !== 'string') throw corrupt(`flags[${i}].grantedAt is not a string`);
    if (seen.has(key(service, epoch))) throw corrupt(`epoch ${epoch} of ${service} appears twice`);
    seen.add(key(service, epoch));
    out.push({ service, epoch, winner, grantedAt });
  });
  if (d['crc32'] !== crcHex(out)) throw corrupt(`CRC-32 is ${JSON.stringify(d['crc32'])}, the flags give "${crcHex(out)}"`);
  return out;
}
