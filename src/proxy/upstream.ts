/**
 * The upstream-app bridge (DESIGN.md, "Upstream apps"): the sans-I/O contract between the
 * replicated state machine and an app that is not built in (any TCP server, one instance
 * per replica, reached by the driver over an ordinary socket).
 *
 * The RSM does not run the app. Per client connection it:
 *   - exposes what the client sent, in order, as UpstreamEvents the driver forwards to its
 *     own app instance: `open` (connect upstream), `data` (bytes to write upstream), `eof`
 *     (the client half-closed: half-close upstream), `closed` (the TCP connection is gone:
 *     drop the upstream socket). Both replicas emit the same events, because they are a
 *     function of the applied log.
 *   - takes `app` log entries made by the primary from what its upstream socket returned,
 *     and makes the stack send exactly those bytes (`write`), close after them (`close`:
 *     the app closed its end) or reset (`abort`: the app refused, reset, or timed out).
 *
 * The bridge is the RSM's app: its per-connection queue of logged bytes not yet taken by
 * the send buffer is replicated state (in snapshots and digests); the event queue is not
 * (it is drained after every entry by whoever drives the replica).
 */

/** The RSM's app name for an upstream app. */
export const UPSTREAM_APP = 'upstream';

/** What the driver must do with its own upstream app instance. */
export type UpstreamEvent =
  | { type: 'open'; conn: number }
  | { type: 'data'; conn: number; data: Uint8Array }
  | { type: 'eof'; conn: number }
  | { type: 'closed'; conn: number };

/** What an upstream socket did, as the driver reports it (handleUpstream). */
export type UpstreamAction =
  /** The app wrote these bytes for the client. */
  | { type: 'data'; data: Uint8Array }
  /** The app closed its end (EOF): the client gets FIN once the bytes before it are sent. */
  | { type: 'end' }
  /** Refused, reset, or timed out: the client gets RST. */
  | { type: 'reset'; reason: string };

/** A logged `app` entry as the bridge saw it applied (the divergence check compares these). */
export type LoggedUpstream = { conn: number; action: UpstreamAction };

interface BridgeConn {
  /** Logged bytes the send buffer has not taken yet. */
  out: Uint8Array[];
  outBytes: number;
  /** A `close` entry was applied: close once `out` is empty. */
  closing: boolean;
}

/** latin-1 text and back: JSON-friendly bytes for snapshots. */
function bytesToText(data: Uint8Array): string {
  let s = '';
  for (let i = 0; i < data.length; i += 8192) s += String.fromCharCode(...data.subarray(i, i + 8192));
  return s;
}
function textToBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/**
 * The bridge. The RSM glue drives it as it drives a built-in app (open, receive, eof,
 * pull, wantsClose, closed); `logWrite` / `logClose` are called when an `app` entry is
 * applied (an `abort` entry resets the connection in the stack directly).
 */
export class UpstreamBridge {
  readonly name = UPSTREAM_APP;
  private conns = new Map<number, BridgeConn>();
  private events: UpstreamEvent[] = [];
  private logged: LoggedUpstream[] = [];
  /**
   * Joining with a state adapter (src/net/upstream-adapter.ts): what the primary's adapter
   * exported at the snapshot, carried inside that one snapshot (snapshotWith) and handed to
   * the joiner's driver once (takeImported). Never part of the replicated state or a digest.
   */
  private imported: Uint8Array | undefined;

  open(conn: number): void {
    this.conns.set(conn, { out: [], outBytes: 0, closing: false });
    this.events.push({ type: 'open', conn });
  }
  receive(conn: number, data: Uint8Array): void {
    if (!this.conns.has(conn) || data.length === 0) return;
    this.events.push({ type: 'data', conn, data: data.slice() });
  }
  eof(conn: number): void {
    if (this.conns.has(conn)) this.events.push({ type: 'eof', conn });
  }
  pull(conn: number, max: number): Uint8Array {
    const c = this.conns.get(conn);
    if (c === undefined || c.outBytes === 0 || max <= 0) return new Uint8Array(0);
    const n = Math.min(max, c.outBytes);
    const out = new Uint8Array(n);
    let pos = 0;
    while (pos < n) {
      const head = c.out[0]!;
      const take = Math.min(head.length, n - pos);
      out.set(head.subarray(0, take), pos);
      pos += take;
      if (take === head.length) c.out.shift();
      else c.out[0] = head.subarray(take);
    }
    c.outBytes -= n;
    return out;
  }
  wantsClose(conn: number): boolean {
    const c = this.conns.get(conn);
    return c !== undefined && c.closing && c.outBytes === 0;
  }
  closed(conn: number): void {
    if (!this.conns.delete(conn)) return;
    this.events.push({ type: 'closed', conn });
  }

  /** An applied `app` write entry: these bytes go to the client, after those before them. */
  logWrite(conn: number, data: Uint8Array): void {
    const c = this.conns.get(conn);
    this.logged.push({ conn, action: { type: 'data', data: data.slice() } });
    if (c === undefined || c.closing || data.length === 0) return;
    c.out.push(data.slice());
    c.outBytes += data.length;
  }
  /** An applied `app` close entry: FIN after the queued bytes. */
  logClose(conn: number): void {
    this.logged.push({ conn, action: { type: 'end' } });
    const c = this.conns.get(conn);
    if (c !== undefined) c.closing = true;
  }
  /** An applied `app` abort entry: the queue is dropped (the RSM resets the connection). */
  logAbort(conn: number): void {
    this.logged.push({ conn, action: { type: 'reset', reason: 'logged' } });
    const c = this.conns.get(conn);
    if (c !== undefined) {
      c.out = [];
      c.outBytes = 0;
    }
  }

  /** Logged bytes waiting for room in the send buffer (a driver pauses its upstream socket when this grows). */
  queued(conn: number): number {
    return this.conns.get(conn)?.outBytes ?? 0;
  }
  has(conn: number): boolean {
    return this.conns.has(conn);
  }

  pollEvent(): UpstreamEvent | undefined {
    return this.events.shift();
  }
  pollLogged(): LoggedUpstream | undefined {
    return this.logged.shift();
  }

  snapshot(): unknown {
    return { conns: [...this.conns].map(([k, c]) => [k, { out: c.out.map(bytesToText), closing: c.closing }]) };
  }
  /** One connection's part of snapshot() (as the divergence digest hashes it), or undefined. */
  connState(conn: number): unknown {
    const c = this.conns.get(conn);
    return c === undefined ? undefined : { out: c.out, closing: c.closing };
  }
  /** Nothing but the connections is state. */
  sharedDigest(): number {
    return 0;
  }

  /** A join's snapshot: the bridge and the app state the joiner's adapter imports. */
  snapshotWith(appState: Uint8Array): unknown {
    return { ...(this.snapshot() as object), appState: bytesToText(appState) };
  }

  /** The joiner: the app state carried by the snapshot it was restored from, once. */
  takeImported(): Uint8Array | undefined {
    const s = this.imported;
    this.imported = undefined;
    return s;
  }

  /** Connections open in the RSM, ascending (a joiner opens its own app connection for each). */
  connIds(): number[] {
    return [...this.conns.keys()].sort((a, b) => a - b);
  }

  static restore(snap: unknown): UpstreamBridge {
    const b = new UpstreamBridge();
    const s = snap as { conns: Array<[number, { out: string[]; closing: boolean }]>; appState?: string };
    if (s.appState !== undefined) b.imported = textToBytes(s.appState);
    for (const [k, c] of s.conns) {
      const out = c.out.map(textToBytes);
      b.conns.set(k, { out, outBytes: out.reduce((n, x) => n + x.length, 0), closing: c.closing });
    }
    return b;
  }
}
