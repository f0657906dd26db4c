/**
 * The upstream app's sockets of one replica process (DESIGN.md "Upstream apps"):
 * every client connection of the RSM gets its own ordinary TCP connection to this
 * replica's instance of the app (`ftcp replica --upstream HOST:PORT`).
 *
 * UpstreamEvents from the replica (src/proxy/upstream.ts) become socket calls: `open`
 * connects, `data` writes, `eof` half-closes, `closed` destroys. What a socket does
 * becomes an UpstreamAction reported to the replica (handleUpstream), which logs it (the
 * primary) or compares it with the log (a backup):
 *
 *   bytes read                 -> data
 *   EOF from the app           -> end    (the client gets FIN after the bytes before it)
 *   refused, reset, any error  -> reset  (the client gets RST)
 *   no connection within connectTimeoutMs -> reset
 *
 * Flow control: while the RSM holds more than `pauseAboveBytes` of a connection's logged
 * bytes that the client has not taken yet, its upstream socket is paused.
 *
 * `order: 'resp'` (a Redis upstream): client bytes go through a RespSequencer, one whole
 * command at a time across all connections, in log order (resp-sequencer.ts).
 */
import * as net from 'node:net';
import type { UpstreamAction, UpstreamEvent } from '../proxy/upstream.js';
import type { Endpoint } from './endpoint.js';
import { RespSequencer } from './resp-sequencer.js';

export interface UpstreamSocketsOptions {
  upstream: Endpoint;
  /** An upstream that has not accepted the connection by then is reset towards the client. Default 5000. */
  connectTimeoutMs?: number;
  /** Pause reading an upstream socket while the RSM queues more than this for its client. Default 1 MiB. */
  pauseAboveBytes?: number;
  /** 'resp': the app is Redis; feed it one command at a time, across connections, in log order. */
  order?: 'resp';
}

interface Conn {
  socket: net.Socket;
  connected: boolean;
  ended: boolean;
  paused: boolean;
  timer: NodeJS.Timeout | undefined;
}

export class UpstreamSockets {
  private readonly conns = new Map<number, Conn>();
  readonly stats = { opened: 0, connected: 0, refused: 0, reset: 0, ended: 0, timeouts: 0, bytesUp: 0, bytesDown: 0, pauses: 0 };
  private closed = false;
  /** With `order: 'resp'`: the one-command-at-a-time gate between the RSM's events and the sockets. */
  readonly sequencer: RespSequencer | undefined;

  constructor(
    private readonly opts: UpstreamSocketsOptions,
    /** Reports what a socket did (the replica process feeds it to Replica.handleUpstream and drains). */
    private readonly report: (conn: number, action: UpstreamAction) => void,
  ) {
    if (opts.order === 'resp') {
      this.sequencer = new RespSequencer({
        write: (conn, bytes) => this.write(conn, bytes),
        end: (conn) => this.conns.get(conn)?.socket.end(),
      });
    }
  }

  handle(e: UpstreamEvent): void {
    if (this.closed) return;
    switch (e.type) {
      case 'open':
        this.open(e.conn);
        return;
      case 'data': {
        if (this.sequencer === undefined) return this.write(e.conn, e.data);
        const bad = this.sequencer.clientBytes(e.conn, e.data);
        const c = this.conns.get(e.conn);
        if (bad !== undefined && c !== undefined) this.fail(e.conn, c, `not RESP from the client: ${bad}`);
        return;
      }
      case 'eof':
        if (this.sequencer !== undefined) this.sequencer.clientEof(e.conn);
        else this.conns.get(e.conn)?.socket.end();
        return;
      case 'closed':
        this.drop(e.conn);
        return;
    }
  }

  /** Pauses or resumes reading by how much the RSM still queues for each connection's client. */
  applyBackpressure(queued: (conn: number) => number): void {
    const limit = this.opts.pauseAboveBytes ?? 1024 * 1024;
    for (const [conn, c] of this.conns) {
      const q = queued(conn);
      if (!c.paused && q > limit) {
        c.paused = true;
        this.stats.pauses++;
        c.socket.pause();
      } else if (c.paused && q <= limit / 4) {
        c.paused = false;
        c.socket.resume();
      }
    }
  }

  get openConnections(): number {
    return this.conns.size;
  }

  close(): void {
    this.closed = true;
    for (const conn of [...this.conns.keys()]) this.drop(conn);
  }

  private write(conn: number, data: Uint8Array): void {
    const c = this.conns.get(conn);
    if (c === undefined || c.ended) return;
    this.stats.bytesUp += data.length;
    c.socket.write(data);
  }

  /** Opens the app connection of a client connection (also: a joiner's, for each connection of the snapshot). */
  open(conn: number): void {
    if (this.conns.has(conn)) return;
    this.sequencer?.open(conn);
    this.stats.opened++;
    const socket = net.connect({ host: this.opts.upstream.host, port: this.opts.upstream.port });
    socket.setNoDelay(true);
    const c: Conn = { socket, connected: false, ended: false, paused: false, timer: undefined };
    this.conns.set(conn, c);
    c.timer = setTimeout(() => {
      if (c.connected || c.ended) return;
      this.stats.timeouts++;
      this.fail(conn, c, `the app did not accept the connection within ${this.opts.connectTimeoutMs ?? 5000} ms`);
    }, this.opts.connectTimeoutMs ?? 5000);
    socket.once('connect', () => {
      c.connected = true;
      this.stats.connected++;
      clearTimeout(c.timer);
    });
    socket.on('data', (data: Buffer) => {
      if (c.ended || this.closed) return;
      this.stats.bytesDown += data.length;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
      this.report(conn, { type: 'data', data: bytes });
      // After the report: a reply is logged before the next command goes out.
      this.sequencer?.appBytes(conn, bytes);
    });
    socket.once('end', () => {
      if (c.ended || this.closed) return;
      c.ended = true;
      this.stats.ended++;
      this.sequencer?.forget(conn);
      this.report(conn, { type: 'end' });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') this.stats.refused++;
      else this.stats.reset++;
      this.fail(conn, c, `${error.code ?? 'error'}: ${error.message}`);
    });
  }

  private fail(conn: number, c: Conn, reason: string): void {
    clearTimeout(c.timer);
    c.socket.destroy();
    if (c.ended || this.closed) return;
    c.ended = true;
    this.sequencer?.forget(conn);
    this.report(conn, { type: 'reset', reason });
  }

  private drop(conn: number): void {
    const c = this.conns.get(conn);
    if (c === undefined) return;
    this.conns.delete(conn);
    this.sequencer?.forget(conn);
    clearTimeout(c.timer);
    c.ended = true;
    c.socket.destroy();
  }
}
