/**
 * The divergence check of an upstream app (DESIGN.md, "Upstream apps"), per replica and
 * outside the replicated state (it is what makes the replicas' own apps comparable, not
 * part of what must be identical).
 *
 * Per client connection it holds two streams: what the log says the app wrote (`logged`,
 * fed from applied `app` entries) and what this replica's own app instance wrote (`own`,
 * fed by the driver). Their common prefix is compared byte for byte; the first mismatch of
 * a connection is a divergence (connection, offset), counted once. Neither stream waits
 * for the other: whichever is ahead keeps its unmatched tail until the other catches up.
 *
 * `forwarding` is the role of the replica: a primary (and a backup that has gone live)
 * forwards what its own app wrote beyond the logged prefix, so that it becomes the
 * continuation of the stream (returned as actions to append as `app` entries); a backup
 * only compares. On a primary the logged stream is its own app's, one entry behind.
 */
import type { UpstreamAction } from './upstream.js';

export interface Divergence {
  conn: number;
  /** Offset in the connection's server-to-client stream of the first byte that differs (or where one stream ended). */
  offset: number;
  what: string;
}

/** The logged side's unmatched tail is kept up to this many bytes; beyond it the connection is no longer compared. */
export const DIVERGENCE_BUFFER_MAX_BYTES = 4 * 1024 * 1024;

type End = 'end' | 'reset';

interface MirrorConn {
  loggedLen: number;
  ownLen: number;
  /** The unmatched tail of the side that is ahead (logged or own). */
  ahead: 'logged' | 'own' | undefined;
  tail: Uint8Array[];
  tailBytes: number;
  /** Own bytes beyond the logged prefix already handed out to be logged. */
  forwardedLen: number;
  loggedEnd: End | undefined;
  ownEnd: End | undefined;
  ownEndForwarded: boolean;
  diverged: boolean;
  unchecked: boolean;
}

export class DivergenceCheck {
  forwarding: boolean;
  /** Connections found to differ (each counted once). */
  count = 0;
  /** The divergences, first ones first (at most `keep`). */
  readonly found: Divergence[] = [];
  /** Connections no longer compared (the logged tail outgrew the buffer). */
  unchecked = 0;
  private readonly conns = new Map<number, MirrorConn>();
  private readonly fresh: Divergence[] = [];

  constructor(forwarding: boolean, private readonly keep = 100) {
    this.forwarding = forwarding;
  }

  /** New divergences since the last call (for events). */
  pollDivergence(): Divergence | undefined {
    return this.fresh.shift();
  }

  /** An `app` entry was applied for `conn`. */
  logged(conn: number, action: UpstreamAction): void {
    const c = this.conn(conn);
    if (action.type === 'data') {
      this.add(c, conn, 'logged', action.data);
      c.loggedLen += action.data.length;
      if (c.ownEnd !== undefined && c.loggedLen > c.ownLen) this.diverge(c, conn, c.ownLen, `logged bytes after the own stream ended`);
      if (c.forwardedLen < c.loggedLen) c.forwardedLen = c.loggedLen;
    } else if (c.loggedEnd === undefined) {
      c.loggedEnd = action.type;
      this.checkEnds(c, conn);
    }
  }

  /**
   * This replica's app did `action` on `conn`. Returns what to append to the log: when
   * forwarding, the part beyond the logged prefix (and the end, if the log has none yet);
   * otherwise nothing.
   */
  own(conn: number, action: UpstreamAction): UpstreamAction[] {
    const c = this.conn(conn);
    if (action.type === 'data') {
      if (c.ownEnd !== undefined) return [];
      this.add(c, conn, 'own', action.data);
      c.ownLen += action.data.length;
      if (c.loggedEnd !== undefined && c.ownLen > c.loggedLen) this.diverge(c, conn, c.loggedLen, `own bytes after the logged stream ended`);
    } else if (c.ownEnd === undefined) {
      c.ownEnd = action.type;
      this.checkEnds(c, conn);
    }
    return this.forwarding ? this.beyond(c, action.type === 'reset' ? action.reason : undefined) : [];
  }

  /**
   * Going live: from now on this replica's own app continues every stream. Returns, per
   * connection in ascending order, what its app wrote beyond the logged prefix.
   */
  goLive(): Array<{ conn: number; actions: UpstreamAction[] }> {
    this.forwarding = true;
    const out: Array<{ conn: number; actions: UpstreamAction[] }> = [];
    for (const conn of [...this.conns.keys()].sort((a, b) => a - b)) {
      const actions = this.beyond(this.conns.get(conn)!, 'reset by the app before go-live');
      if (actions.length > 0) out.push({ conn, actions });
    }
    return out;
  }

  /** The connection is gone. */
  forget(conn: number): void {
    this.conns.delete(conn);
  }

  /** Own bytes of `conn` beyond the logged prefix, not handed out yet (tests). */
  pendingBeyond(conn: number): number {
    const c = this.conns.get(conn);
    return c === undefined ? 0 : Math.max(0, c.ownLen - c.forwardedLen);
  }

  private conn(conn: number): MirrorConn {
    let c = this.conns.get(conn);
    if (c === undefined) {
      c = { loggedLen: 0, ownLen: 0, ahead: undefined, tail: [], tailBytes: 0, forwardedLen: 0, loggedEnd: undefined, ownEnd: undefined, ownEndForwarded: false, diverged: false, unchecked: false };
      this.conns.set(conn, c);
    }
    return c;
  }

  private beyond(c: MirrorConn, resetReason: string | undefined): UpstreamAction[] {
    const actions: UpstreamAction[] = [];
    if (c.loggedEnd !== undefined) return actions;
    const from = Math.max(c.forwardedLen, c.loggedLen);
    if (c.ownLen > from && c.ahead === 'own') {
      // The own tail holds own[loggedLen, ownLen): skip what was already handed out.
      const all = concat(c.tail, c.tailBytes);
      actions.push({ type: 'data', data: all.slice(from - c.loggedLen) });
      c.forwardedLen = c.ownLen;
    }
    if (c.ownEnd !== undefined && !c.ownEndForwarded) {
      c.ownEndForwarded = true;
      actions.push(c.ownEnd === 'end' ? { type: 'end' } : { type: 'reset', reason: resetReason ?? 'reset' });
    }
    return actions;
  }

  /** Add `data` to one side at its current length, comparing with the other side's tail. */
  private add(c: MirrorConn, conn: number, side: 'logged' | 'own', data: Uint8Array): void {
    if (data.length === 0) return;
    if (c.unchecked) return this.addUnchecked(c, side, data);
    if (c.ahead === undefined || c.ahead === side || c.tailBytes === 0) {
      if (c.ahead !== side) {
        c.tail = [];
        c.tailBytes = 0;
      }
      c.ahead = side;
      if (side === 'logged' && c.tailBytes + data.length > DIVERGENCE_BUFFER_MAX_BYTES) {
        // Only the own side's tail is needed (for go-live); the logged one is only for comparing.
        c.unchecked = true;
        this.unchecked++;
        c.tail = [];
        c.tailBytes = 0;
        c.ahead = undefined;
        return;
      }
      c.tail.push(data.slice());
      c.tailBytes += data.length;
      return;
    }
    // The other side is ahead: compare against its tail.
    const sideLen = side === 'logged' ? c.loggedLen : c.ownLen;
    let pos = 0;
    while (pos < data.length && c.tailBytes > 0) {
      const head = c.tail[0]!;
      const n = Math.min(head.length, data.length - pos);
      if (!c.diverged && !c.unchecked) {
        for (let i = 0; i < n; i++) {
          if (head[i] !== data[pos + i]) {
            const [logged, own] = side === 'own' ? [head[i]!, data[pos + i]!] : [data[pos + i]!, head[i]!];
            this.diverge(c, conn, sideLen + pos + i, `byte 0x${hex(logged)} logged, 0x${hex(own)} own`);
            break;
          }
        }
      }
      pos += n;
      c.tailBytes -= n;
      if (n === head.length) c.tail.shift();
      else c.tail[0] = head.subarray(n);
    }
    if (pos < data.length) {
      c.ahead = side;
      c.tail = [data.slice(pos)];
      c.tailBytes = data.length - pos;
    } else if (c.tailBytes === 0) {
      c.ahead = undefined;
    }
  }

  /** No longer compared: only own bytes beyond the logged prefix are kept (for go-live). */
  private addUnchecked(c: MirrorConn, side: 'logged' | 'own', data: Uint8Array): void {
    if (side === 'own') {
      const skip = Math.max(0, c.loggedLen - c.ownLen);
      if (skip >= data.length) return;
      if (c.ahead !== 'own') {
        c.tail = [];
        c.tailBytes = 0;
      }
      c.ahead = 'own';
      c.tail.push(data.slice(skip));
      c.tailBytes += data.length - skip;
      return;
    }
    let drop = Math.min(data.length, c.ahead === 'own' ? c.tailBytes : 0);
    while (drop > 0) {
      const head = c.tail[0]!;
      const n = Math.min(head.length, drop);
      drop -= n;
      c.tailBytes -= n;
      if (n === head.length) c.tail.shift();
      else c.tail[0] = head.subarray(n);
    }
    if (c.tailBytes === 0) c.ahead = undefined;
  }

  private checkEnds(c: MirrorConn, conn: number): void {
    if (c.loggedEnd !== undefined && c.ownEnd !== undefined) {
      if (c.loggedEnd !== c.ownEnd) this.diverge(c, conn, Math.min(c.loggedLen, c.ownLen), `logged ${c.loggedEnd}, own ${c.ownEnd}`);
      else if (c.loggedLen !== c.ownLen) this.diverge(c, conn, Math.min(c.loggedLen, c.ownLen), `logged ${c.loggedLen} bytes then ${c.loggedEnd}, own ${c.ownLen}`);
    } else {
      // One side ended while the other already has bytes beyond it.
      const ended = c.loggedEnd !== undefined ? 'logged' : 'own';
      const endedLen = ended === 'logged' ? c.loggedLen : c.ownLen;
      const otherLen = ended === 'logged' ? c.ownLen : c.loggedLen;
      if (otherLen > endedLen) this.diverge(c, conn, endedLen, `${ended} stream ended at ${endedLen}, the other has ${otherLen} bytes`);
    }
  }

  private diverge(c: MirrorConn, conn: number, offset: number, what: string): void {
    if (c.diverged) return;
    c.diverged = true;
    this.count++;
    const d = { conn, offset, what };
    if (this.found.length < this.keep) this.found.push(d);
    this.fresh.push(d);
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
