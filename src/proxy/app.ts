/**
 * Built-in deterministic apps: what sits on top of the stack inside the replicated state
 * machine (DESIGN.md, "The replicated state machine"). An app is a pure state machine over
 * its connections: bytes in, bytes out, no clock and no randomness but its seed. Its whole
 * state is plain data (`snapshot()`), so it replicates and transfers with the stack.
 *
 * Driving contract (the RSM glue calls these):
 *   open(conn)            a client connection was accepted
 *   receive(conn, bytes)  the client's bytes, in order
 *   eof(conn)             the client half-closed (no more bytes will come)
 *   pull(conn, max)       up to `max` bytes the app wants sent now (may be empty)
 *   wantsClose(conn)      true once the app has nothing more to send and wants to close
 *   closed(conn)          the connection is gone (forget it)
 *
 * For the replicas' divergence digest (src/replica/rsm.ts), at a cost that does not grow
 * with the number of idle connections:
 *   connState(conn)       one connection's state as plain data (undefined once forgotten);
 *                         the RSM rehashes it only for connections an entry touched
 *   sharedDigest()        a hash of the rest of the state (the counter, the store), kept
 *                         up to date as it changes
 */
import { sha256Hex, sha256Init, sha256Update, type Sha256State } from './sha256.js';
import { streamBytes } from './stream.js';
import { hashValue, KeyedHashes } from '../tcp/state-hash.js';

export type AppName = 'echo' | 'counter' | 'kv' | 'bulk';
export const APP_NAMES: readonly AppName[] = ['echo', 'counter', 'kv', 'bulk'];

export interface App {
  readonly name: AppName;
  open(conn: number): void;
  receive(conn: number, data: Uint8Array): void;
  eof(conn: number): void;
  pull(conn: number, max: number): Uint8Array;
  wantsClose(conn: number): boolean;
  closed(conn: number): void;
  /** The app's whole state as plain, JSON-serialisable data. */
  snapshot(): unknown;
  /** One connection's part of snapshot(), or undefined when the app does not hold the connection. */
  connState(conn: number): unknown;
  /** A hash of the part of the state that belongs to no open connection; cheap (kept up to date). */
  sharedDigest(): number;
}

export interface AppOptions {
  /** bulk: bytes the server sends each connection. Default 1_000_000. */
  bulkBytes?: number;
  /** bulk: seed of the byte stream (each connection uses seed + its connection number). */
  seed?: number;
}

/** Bytes as a latin-1 string and back: one char per byte, so any byte survives a split read. */
function bytesToText(data: Uint8Array): string {
  let s = '';
  for (let i = 0; i < data.length; i++) s += String.fromCharCode(data[i]!);
  return s;
}

function pushText(out: number[], text: string): void {
  for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i) & 0xff);
}

/** Per-connection output queue and input line buffer, shared by the line-based apps. */
interface ConnBuf {
  /** NO_OUT while empty (an idle connection holds no array of its own); writeOut() gives it one. */
  out: number[];
  line: string;
  eof: boolean;
}

/** The shared, frozen `out` of every connection with nothing to send (a push throws: use writeOut()). */
const NO_OUT = Object.freeze([]) as unknown as number[];

/** c.out, made its own array if it was the shared empty one. */
function writeOut(c: ConnBuf): number[] {
  if (c.out === NO_OUT) c.out = [];
  return c.out;
}

const restoredOut = (out: number[]): number[] => (out.length > 0 ? [...out] : NO_OUT);

abstract class LineApp implements App {
  abstract readonly name: AppName;
  protected conns = new Map<number, ConnBuf>();
  open(conn: number): void {
    this.conns.set(conn, { out: NO_OUT, line: '', eof: false });
  }
  receive(conn: number, data: Uint8Array): void {
    const c = this.conns.get(conn);
    if (c === undefined) return;
    this.onBytes(c, data);
  }
  protected onBytes(c: ConnBuf, data: Uint8Array): void {
    c.line += bytesToText(data);
    let nl: number;
    while ((nl = c.line.indexOf('\n')) >= 0) {
      const line = c.line.slice(0, nl).replace(/\r$/, '');
      c.line = c.line.slice(nl + 1);
      pushText(writeOut(c), this.onLine(line));
    }
    // Bound the line buffer: a client that never sends a newline cannot grow it forever.
    if (c.line.length > 4096) {
      c.line = '';
      pushText(writeOut(c), 'ERR line too long\n');
    }
  }
  protected abstract onLine(line: string): string;
  eof(conn: number): void {
    const c = this.conns.get(conn);
    if (c !== undefined) c.eof = true;
  }
  pull(conn: number, max: number): Uint8Array {
    const c = this.conns.get(conn);
    if (c === undefined || c.out.length === 0 || max <= 0) return new Uint8Array(0);
    const n = Math.min(max, c.out.length);
    const bytes = Uint8Array.from(c.out.splice(0, n));
    if (c.out.length === 0) c.out = NO_OUT;
    return bytes;
  }
  wantsClose(conn: number): boolean {
    const c = this.conns.get(conn);
    return c !== undefined && c.eof && c.out.length === 0;
  }
  closed(conn: number): void {
    this.conns.delete(conn);
  }
  connState(conn: number): unknown {
    return this.conns.get(conn);
  }
  sharedDigest(): number {
    return 0;
  }
  protected connsSnapshot(): Array<[number, ConnBuf]> {
    return [...this.conns].map(([k, v]) => [k, { out: [...v.out], line: v.line, eof: v.eof }]);
  }
  protected restoreConns(entries: Array<[number, ConnBuf]>): void {
    this.conns = new Map(entries.map(([k, v]) => [k, { out: restoredOut(v.out), line: v.line, eof: v.eof }]));
  }
  snapshot(): unknown {
    return { conns: this.connsSnapshot() };
  }
}

/** Echo: every byte back, in order. */
export class EchoApp extends LineApp {
  readonly name = 'echo';
  protected override onBytes(c: ConnBuf, data: Uint8Array): void {
    const out = writeOut(c);
    for (const b of data) out.push(b);
  }
  protected onLine(line: string): string {
    return line;
  }
}

/** Counter, the lecture's example: one counter for all connections; `INCR` answers the new value, `GET` the current one. */
export class CounterApp extends LineApp {
  readonly name = 'counter';
  value = 0;
  protected onLine(line: string): string {
    const cmd = line.trim().toUpperCase();
    if (cmd === 'INCR') return `${++this.value}\n`;
    if (cmd === 'GET') return `${this.value}\n`;
    return `ERR unknown command ${JSON.stringify(line.slice(0, 40))}\n`;
  }
  override snapshot(): unknown {
    return { conns: this.connsSnapshot(), value: this.value };
  }
  override sharedDigest(): number {
    return hashValue(this.value);
  }
}

/** Key-value store: `SET k v` answers OK, `GET k` answers the value or NIL, `DEL k` answers 1 or 0. */
export class KvApp extends LineApp {
  readonly name = 'kv';
  private data = new Map<string, string>();
  /** sharedDigest(): the sum (mod 2^32) of every pair's hash, kept up to date by set/delete. */
  private dataSum = 0;
  static readonly MAX_KEYS = 100_000;
  protected onLine(line: string): string {
    const m = /^(\S+)\s*(\S*)\s*(.*)$/.exec(line.trim());
    const cmd = m?.[1]?.toUpperCase() ?? '';
    const key = m?.[2] ?? '';
    if (cmd === 'SET' && key !== '') {
      if (!this.data.has(key) && this.data.size >= KvApp.MAX_KEYS) return 'ERR store full\n';
      this.put(key, m![3] ?? '');
      return 'OK\n';
    }
    if (cmd === 'GET' && key !== '') return `${this.data.get(key) ?? 'NIL'}\n`;
    if (cmd === 'DEL' && key !== '') return this.put(key, undefined) ? '1\n' : '0\n';
    return `ERR unknown command ${JSON.stringify(line.slice(0, 40))}\n`;
  }
  /** Set (or, with undefined, delete) a key; returns whether it was there. */
  private put(key: string, value: string | undefined): boolean {
    const old = this.data.get(key);
    if (old !== undefined) this.dataSum = (this.dataSum - hashValue([key, old])) | 0;
    if (value === undefined) this.data.delete(key);
    else {
      this.data.set(key, value);
      this.dataSum = (this.dataSum + hashValue([key, value])) | 0;
    }
    return old !== undefined;
  }
  /** Replace the store (restore). */
  load(pairs: Array<[string, string]>): void {
    this.data = new Map();
    this.dataSum = 0;
    for (const [k, v] of pairs) this.put(k, v);
  }
  override snapshot(): unknown {
    return { conns: this.connsSnapshot(), data: [...this.data] };
  }
  override sharedDigest(): number {
    return hashValue([this.data.size, this.dataSum]);
  }
}

/**
 * How many finished uploads' digests the bulk app keeps. A checker reads them soon after
 * the uploads end (a demo's few connections, a soak's round); a thousand is a few seconds
 * of a soak and about 100 KB of snapshot.
 */
export const BULK_DIGESTS_KEPT = 1024;

interface BulkConn {
  sent: number;
  eof: boolean;
  hash: Sha256State;
  received: number;
}

/**
 * Bulk: sends each connection `bulkBytes` bytes of the seeded stream (seed + conn), and
 * hashes everything the client uploads. Closes once its bytes are sent and the client has
 * half-closed. `uploadDigest(conn)` gives the SHA-256 of what it received.
 */
export class BulkApp implements App {
  readonly name = 'bulk';
  readonly bytes: number;
  readonly seed: number;
  conns = new Map<number, BulkConn>();
  /**
   * Digests of finished uploads, by connection, kept for checking: the last
   * BULK_DIGESTS_KEPT of them, oldest dropped first (the map's order is the order they
   * finished, and a snapshot keeps it, so every replica drops the same one).
   */
  finished = new Map<number, { received: number; sha256: string }>();
  /** sharedDigest(): the finished uploads' hashes, rehashed when one is added. */
  private finishedHashes = new KeyedHashes();
  constructor(opts: AppOptions = {}) {
    this.bytes = opts.bulkBytes ?? 1_000_000;
    this.seed = opts.seed ?? 1;
  }
  open(conn: number): void {
    this.conns.set(conn, { sent: 0, eof: false, hash: sha256Init(), received: 0 });
  }
  receive(conn: number, data: Uint8Array): void {
    const c = this.conns.get(conn);
    if (c === undefined) return;
    sha256Update(c.hash, data);
    c.received += data.length;
  }
  eof(conn: number): void {
    const c = this.conns.get(conn);
    if (c === undefined) return;
    c.eof = true;
    this.finished.set(conn, { received: c.received, sha256: sha256Hex(c.hash) });
    this.finishedHashes.mark(conn);
    // Bounded: kept for ever, the digests grew every snapshot (and every join's copy of it).
    if (this.finished.size > BULK_DIGESTS_KEPT) {
      const oldest = this.finished.keys().next().value as number;
      this.finished.delete(oldest);
      this.finishedHashes.mark(oldest);
    }
  }
  pull(conn: number, max: number): Uint8Array {
    const c = this.conns.get(conn);
    if (c === undefined) return new Uint8Array(0);
    const n = Math.max(0, Math.min(max, this.bytes - c.sent));
    const out = streamBytes((this.seed + conn) >>> 0, c.sent, n);
    c.sent += n;
    return out;
  }
  wantsClose(conn: number): boolean {
    const c = this.conns.get(conn);
    return c !== undefined && c.eof && c.sent >= this.bytes;
  }
  closed(conn: number): void {
    this.conns.delete(conn);
  }
  uploadDigest(conn: number): { received: number; sha256: string } | undefined {
    return this.finished.get(conn);
  }
  connState(conn: number): unknown {
    return this.conns.get(conn);
  }
  sharedDigest(): number {
    return hashValue([this.bytes, this.seed, this.finishedHashes.value((k) => this.finished.get(k))]);
  }
  /** Replace the finished uploads (restore). */
  loadFinished(entries: Array<[number, { received: number; sha256: string }]>): void {
    this.finished = new Map(entries);
    this.finishedHashes = new KeyedHashes();
    for (const [k] of entries) this.finishedHashes.mark(k);
  }
  snapshot(): unknown {
    return {
      bytes: this.bytes,
      seed: this.seed,
      conns: [...this.conns].map(([k, v]) => [k, { ...v, hash: { h: [...v.hash.h], pending: [...v.hash.pending], length: v.hash.length } }]),
      finished: [...this.finished],
    };
  }
}

export function createApp(name: AppName, opts: AppOptions = {}): App {
  switch (name) {
    case 'echo':
      return new EchoApp();
    case 'counter':
      return new CounterApp();
    case 'kv':
      return new KvApp();
    case 'bulk':
      return new BulkApp(opts);
  }
}

/** Rebuild an app from createApp(name).snapshot(). */
export function restoreApp(name: AppName, snap: unknown): App {
  const s = snap as Record<string, unknown>;
  switch (name) {
    case 'echo': {
      const app = new EchoApp();
      (app as unknown as { restoreConns(e: unknown): void }).restoreConns(s.conns);
      return app;
    }
    case 'counter': {
      const app = new CounterApp();
      (app as unknown as { restoreConns(e: unknown): void }).restoreConns(s.conns);
      app.value = s.value as number;
      return app;
    }
    case 'kv': {
      const app = new KvApp();
      (app as unknown as { restoreConns(e: unknown): void }).restoreConns(s.conns);
      app.load(s.data as Array<[string, string]>);
      return app;
    }
    case 'bulk': {
      const app = new BulkApp({ bulkBytes: s.bytes as number, seed: s.seed as number });
      for (const [k, v] of s.conns as Array<[number, BulkConn]>) {
        app.conns.set(k, { ...v, hash: { h: [...v.hash.h], pending: [...v.hash.pending], length: v.hash.length } });
      }
      app.loadFinished(s.finished as Array<[number, { received: number; sha256: string }]>);
      return app;
    }
  }
}
