/**
 * The embedded arbiter's state file: every test-and-set flag it ever granted, so that a
 * restarted arbiter never grants an epoch twice (DESIGN.md, "The arbiter").
 *
 * Format (version 2): an append-only file of lines, each one JSON object and a '\n',
 *
 *   {"format":"ftcp-arbiter-state","version":2}
 *   {"service":"192.0.2.10","epoch":1,"winner":"b","grantedAt":"<ISO time>","crc32":"<8 hex>"}
 *   ...
 *
 * one line per flag after the header, its crc32 the CRC-32 of JSON.stringify of the four
 * fields in that order (arbiter-state-format.ts).
 *
 * Durability: a grant is one write(2) of its line to the file (opened O_APPEND) and one
 * fdatasync(2), before the answer leaves the process. fdatasync makes the new bytes and
 * the file size durable, so once it returns the flag survives a crash. A crash before it
 * returns leaves at most a torn last line (no '\n' at its end): that grant was never
 * answered, and the next start ignores it and compacts the file (see open()). The header
 * is written once, by `--init`, through a temporary file, fsync, rename and a directory
 * fsync, as is every compaction: a crash leaves the old file or the new one.
 *
 * A version 1 file (one JSON document, rewritten whole on every grant, used before) is
 * read and compacted into version 2 at start-up.
 *
 * Refusals, never silent resets: a missing file is an error unless the caller asks to
 * create a fresh one (`--init`), and `--init` over an existing file is an error too; a
 * file with a bad header, a complete line that does not parse or fails its CRC, or a bad
 * or duplicate flag is corrupt. Only an unterminated last line is taken for a torn write.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArbiterStateError, encodeFlagLine, encodeHeaderLine, errorText, flagKey, parseState, type ArbiterFlag } from './arbiter-state-format.js';

export { ARBITER_STATE_FORMAT, ARBITER_STATE_VERSION, ArbiterStateError, parseState, type ArbiterFlag, type ArbiterStateErrorCode, type ParsedState } from './arbiter-state-format.js';

export class ArbiterState {
  private readonly flags = new Map<string, ArbiterFlag>();
  /** Last persist duration (append + fdatasync), µs. */
  lastPersistUs = 0;
  /** Made by this process (init). */
  private created = false;
  /** The file, opened for appending. */
  private fd: number | undefined;
  /** Bytes of a torn last line dropped at start-up (0: none). */
  tornBytes = 0;
  /** The file was rewritten at start-up (a torn tail dropped, or a version 1 file converted). */
  compacted = false;

  private constructor(readonly path: string) {}

  /**
   * Opens the state file. `init`: create a fresh, empty one (its directory too); refused
   * when the file exists. Without `init`, the file must exist and be intact but for a torn
   * last line, which is dropped (the file is compacted before any grant).
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
      state.rewrite([]);
      state.created = true;
      state.openForAppend();
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
    const parsed = parseState(filePath, text);
    for (const f of parsed.flags) state.flags.set(flagKey(f.service, f.epoch), f);
    state.tornBytes = parsed.tornBytes;
    // Compaction: the next append must start on a fresh line of a version 2 file.
    if (parsed.tornBytes > 0 || parsed.version !== 2) {
      state.rewrite(state.all());
      state.compacted = true;
    }
    state.openForAppend();
    return state;
  }

  get size(): number {
    return this.flags.size;
  }

  get(service: string, epoch: number): ArbiterFlag | undefined {
    return this.flags.get(flagKey(service, epoch));
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
    if (this.flags.has(flagKey(flag.service, flag.epoch))) throw new Error(`arbiter state: epoch ${flag.epoch} of ${flag.service} is already granted`);
    const started = performance.now();
    try {
      if (this.fd === undefined) throw new Error('the file is closed');
      // Appending to a file that was removed or replaced under us would persist nothing a restart reads.
      const inode = fs.fstatSync(this.fd).ino;
      if (fs.statSync(this.path, { throwIfNoEntry: false })?.ino !== inode) throw new Error('it was removed or replaced while the arbiter ran');
      const line = Buffer.from(encodeFlagLine(flag), 'utf8');
      for (let off = 0; off < line.length; ) off += fs.writeSync(this.fd, line, off, line.length - off);
      fs.fdatasyncSync(this.fd);
    } catch (error) {
      throw new ArbiterStateError('ARBITER_STATE_IO', `cannot write state file ${this.path}: ${errorText(error)}`);
    }
    this.lastPersistUs = Math.round((performance.now() - started) * 1000);
    this.flags.set(flagKey(flag.service, flag.epoch), flag);
  }

  /** Closes the file (grants after this fail). */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fs.closeSync(fd);
    } catch {
      // already gone: nothing was pending (every grant was fdatasync'ed)
    }
  }

  /** Removes a state file this process just created with `init` and never granted from. */
  discardFresh(): void {
    if (this.flags.size !== 0 || !this.created) throw new Error('arbiter state: only a fresh, empty state file can be discarded');
    this.close();
    fs.rmSync(this.path, { force: true });
  }

  private openForAppend(): void {
    try {
      this.fd = fs.openSync(this.path, 'a');
    } catch (error) {
      throw new ArbiterStateError('ARBITER_STATE_IO', `cannot open state file ${this.path} for appending: ${errorText(error)}`);
    }
  }

  /** Writes the whole file anew: FILE.tmp, fsync, rename over FILE, directory fsync. */
  private rewrite(list: readonly ArbiterFlag[]): void {
    const tmp = `${this.path}.tmp`;
    try {
      const fd = fs.openSync(tmp, 'w');
      try {
        fs.writeFileSync(fd, encodeHeaderLine() + list.map(encodeFlagLine).join(''));
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
  }
}
