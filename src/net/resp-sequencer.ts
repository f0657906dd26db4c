/**
 * One Redis command at a time, across all client connections, in log order
 * (`ftcp replica --upstream-order resp`; docs/decisions.md "Redis: one command at a time").
 *
 * Why: the replicas' Redis instances must execute the same commands in the same order, or
 * a key shared by two connections (`INCR counter`) gets different values on each (the
 * multicore problem of DESIGN.md "Upstream apps"). Both replicas see the client bytes in
 * the same order (UpstreamEvents are a function of the log), but two commands from two
 * connections written to Redis within a millisecond run in whatever order Redis's event
 * loop picks. The sequencer removes the choice: it splits each connection's bytes into
 * whole commands (RespCommandSplitter), queues them in one FIFO in the order they became
 * whole, and writes the next one only when Redis has answered the previous one in full.
 * The primary and every backup so run exactly one sequence.
 *
 * It also makes the join's consistent cut possible (redis-adapter.ts): `pause()` stops
 * after the command in flight; `idle` says Redis has answered everything it was sent; and
 * what is queued or half-received (`pending()`) is exactly the client bytes Redis has not
 * seen, which the joiner's sequencer starts from (`restorePending`).
 *
 * Limits: a command that gets no reply, or several (SUBSCRIBE, MONITOR, CLIENT REPLY OFF),
 * or blocks (BLPOP) stalls or confuses it: not for those apps.
 */
import { RespCommandSplitter, RespReplyParser } from './resp.js';

/** What a paused, idle sequencer has not sent to the app (the joiner's sequencer starts from it). */
export interface SequencerPending {
  queue: Array<{ conn: number; bytes: Uint8Array }>;
  partial: Array<{ conn: number; bytes: Uint8Array }>;
  eof: number[];
}

interface SeqConn {
  splitter: RespCommandSplitter;
  /** Commands of this connection in the FIFO (not written yet). */
  queued: number;
  /** The client half-closed: end the app socket once its commands are answered. */
  eof: boolean;
  ended: boolean;
  /** The app's replies on this connection, parsed to see where the one in flight ends. */
  replies: RespReplyParser;
}

export interface SequencerIo {
  write(conn: number, bytes: Uint8Array): void;
  end(conn: number): void;
}

export class RespSequencer {
  private readonly conns = new Map<number, SeqConn>();
  private readonly fifo: Array<{ conn: number; bytes: Uint8Array }> = [];
  private inFlight: number | undefined;
  private paused = false;
  readonly stats = { commands: 0, maxQueued: 0, protocolErrors: 0 };
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly io: SequencerIo) {}

  open(conn: number): void {
    if (!this.conns.has(conn)) this.conns.set(conn, { splitter: new RespCommandSplitter(), queued: 0, eof: false, ended: false, replies: new RespReplyParser() });
  }

  /** Client bytes for `conn`, in log order. Returns an error text when they are not RESP (then they are dropped). */
  clientBytes(conn: number, data: Uint8Array): string | undefined {
    const c = this.conns.get(conn);
    if (c === undefined || c.eof) return undefined;
    let commands: Uint8Array[];
    try {
      commands = c.splitter.push(data);
    } catch (error) {
      this.stats.protocolErrors++;
      return error instanceof Error ? error.message : String(error);
    }
    for (const bytes of commands) {
      this.fifo.push({ conn, bytes });
      c.queued++;
    }
    this.stats.maxQueued = Math.max(this.stats.maxQueued, this.fifo.length);
    this.pump();
    return undefined;
  }

  /** The client half-closed `conn`. */
  clientEof(conn: number): void {
    const c = this.conns.get(conn);
    if (c === undefined) return;
    c.eof = true;
    this.maybeEnd(conn, c);
  }

  /** What the app wrote on `conn` (after it was reported to the replica). */
  appBytes(conn: number, data: Uint8Array): void {
    const c = this.conns.get(conn);
    if (c === undefined || this.inFlight !== conn) return;
    let replies: number;
    try {
      replies = c.replies.push(data).length;
    } catch {
      this.stats.protocolErrors++;
      replies = 1;
    }
    if (replies > 0) this.answered(conn, c);
  }

  /** The app socket of `conn` is gone (closed, reset, or the connection ended). */
  forget(conn: number): void {
    const c = this.conns.get(conn);
    if (c === undefined) return;
    this.conns.delete(conn);
    for (let i = this.fifo.length - 1; i >= 0; i--) if (this.fifo[i]!.conn === conn) this.fifo.splice(i, 1);
    if (this.inFlight === conn) {
      this.inFlight = undefined;
      this.pump();
    }
  }

  /** Stop writing after the command in flight (if any) is answered. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** No command is in flight: the app has answered everything it was sent. */
  get idle(): boolean {
    return this.inFlight === undefined;
  }

  /** Resolves once idle (at once if it is). */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * The client bytes the app has not been sent, exactly: the FIFO of whole commands in its
   * order, each connection's partial command, and the connections whose client has
   * half-closed. With `pause()` and `idle`, this is the rest of the cut (redis-adapter.ts).
   */
  pending(): SequencerPending {
    const partial: Array<{ conn: number; bytes: Uint8Array }> = [];
    const eof: number[] = [];
    for (const [conn, c] of this.conns) {
      if (c.splitter.pending > 0) partial.push({ conn, bytes: c.splitter.pendingBytes() });
      if (c.eof && !c.ended) eof.push(conn);
    }
    return { queue: this.fifo.map((f) => ({ conn: f.conn, bytes: f.bytes.slice() })), partial, eof };
  }

  /** A joiner's start: the sequencer as the primary's was at the cut (its `pending()`). */
  restorePending(p: SequencerPending): void {
    for (const q of p.queue) {
      this.open(q.conn);
      this.fifo.push({ conn: q.conn, bytes: q.bytes });
      this.conns.get(q.conn)!.queued++;
    }
    for (const q of p.partial) {
      this.open(q.conn);
      this.conns.get(q.conn)!.splitter.push(q.bytes);
    }
    for (const conn of p.eof) {
      this.open(conn);
      this.clientEof(conn);
    }
    this.pump();
  }

  private answered(conn: number, c: SeqConn): void {
    this.inFlight = undefined;
    this.maybeEnd(conn, c);
    if (this.idle) for (const w of this.idleWaiters.splice(0)) w();
    this.pump();
  }

  private maybeEnd(conn: number, c: SeqConn): void {
    if (c.eof && !c.ended && c.queued === 0 && this.inFlight !== conn) {
      c.ended = true;
      this.io.end(conn);
    }
  }

  private pump(): void {
    while (!this.paused && this.inFlight === undefined && this.fifo.length > 0) {
      const next = this.fifo.shift()!;
      const c = this.conns.get(next.conn);
      if (c === undefined) continue;
      c.queued--;
      this.inFlight = next.conn;
      this.stats.commands++;
      this.io.write(next.conn, next.bytes);
    }
  }
}
