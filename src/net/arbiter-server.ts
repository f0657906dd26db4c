/**
 * The embedded arbiter (DESIGN.md, "The arbiter"): a TCP server that answers test-and-set
 * requests per (service, epoch). The first requester of an epoch wins; everyone after,
 * the winner included when it asks again, is told who won. A flag is on disk (appended and
 * fdatasync'ed, arbiter-state.ts) before its answer is written to the socket, so a restarted arbiter
 * never grants an epoch twice.
 *
 * Requests are handled synchronously as they arrive, one at a time (the event loop is
 * the lock), so two requests for the same epoch can never both see it free.
 *
 * A malformed frame (bad length, version, CRC, service or message, or a response where a
 * request belongs) is counted and its connection closed; the server carries on. If the
 * state file cannot be written, the arbiter cannot keep its promise: it answers nothing
 * more, closes everything and reports a fatal event.
 *
 * With a cluster key (cluster-auth.ts), a connection's requests are read only after the
 * handshake proved the client holds the same key, and each one is decrypted and its tag
 * and counter checked first: a client without the key, with a wrong one, or replaying or tampering
 * with a frame is refused (counted by reason, a `refused` event) and is never granted
 * anything.
 */
import * as net from 'node:net';
import type { ArbiterRequest, ArbiterResponse } from '../replica/arbiter.js';
import { ArbiterState, ArbiterStateError, type ArbiterFlag } from './arbiter-state.js';
import { ARBITER_FRAME_MAX_BYTES, ARBITER_FRAME_MIN_BYTES, decodeArbiterFrame, encodeArbiterFrame } from './arbiter-wire.js';
import { emptyRefusalCounts, type AuthRefusal } from './cluster-auth.js';
import type { ClusterKey } from './cluster-key.js';
import { describeListenError, formatEndpoint, type Endpoint } from './endpoint.js';
import { FramedSocket } from './framed-socket.js';
import { LinkError } from './udp-link.js';

export interface ArbiterServerOptions {
  listen: Endpoint;
  statePath: string;
  /** Create a fresh state file (refused if one exists). */
  init?: boolean;
  /** Connections beyond this are closed at once. Default 64. */
  maxConnections?: number;
  /** A connection silent this long is closed (clients reconnect). Default 60 s. */
  idleTimeoutMs?: number;
  listenFlag?: string;
  /** Authenticate every client and frame with this key. Default none: anyone may ask. */
  clusterKey?: ClusterKey | undefined;
}

export interface ArbiterServerStats {
  connections: number;
  connectionsRefused: number;
  requests: number;
  /** Flags set (first requester of an epoch). */
  granted: number;
  /** Answers naming the asker as the winner of an epoch it had already won (a repeat). */
  repeats: number;
  /** Answers naming someone else as the winner. */
  lost: number;
  malformedFrames: number;
  /** Connections that closed in the middle of a frame (the partial frame is discarded). */
  truncatedFrames: number;
  /** Clients refused by the cluster-key check, by reason. */
  refused: Record<AuthRefusal, number>;
  /** Slowest persist (append + fdatasync), µs. */
  maxPersistUs: number;
}

export type ArbiterServerEvent =
  | { type: 'granted'; service: string; epoch: number; winner: string; persistUs: number; peer: string }
  | { type: 'answered'; service: string; epoch: number; asker: string; winner: string; peer: string }
  | { type: 'malformed'; reason: string; peer: string }
  | { type: 'refused'; reason: AuthRefusal; message: string; peer: string }
  | { type: 'fatal'; message: string };

export class ArbiterServer {
  readonly local: Endpoint;
  readonly stats: ArbiterServerStats = { connections: 0, connectionsRefused: 0, requests: 0, granted: 0, repeats: 0, lost: 0, malformedFrames: 0, truncatedFrames: 0, refused: emptyRefusalCounts(), maxPersistUs: 0 };
  private readonly sockets = new Set<net.Socket>();
  private eventHandler: ((e: ArbiterServerEvent) => void) | undefined;
  private closed = false;
  private fatalMessage: string | undefined;
  private readonly maxConnections: number;
  private readonly idleTimeoutMs: number;
  private readonly clusterKey: ClusterKey | undefined;

  private constructor(
    private readonly server: net.Server,
    readonly state: ArbiterState,
    opts: ArbiterServerOptions,
  ) {
    const a = server.address() as net.AddressInfo;
    this.local = { host: a.address, port: a.port };
    this.maxConnections = opts.maxConnections ?? 64;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
    this.clusterKey = opts.clusterKey;
    server.on('connection', (socket) => this.onConnection(socket));
  }

  /**
   * Opens the state file (ArbiterStateError when missing, corrupt, or --init over an
   * existing one), then listens (LinkError, one line, when it cannot).
   */
  static async start(opts: ArbiterServerOptions): Promise<ArbiterServer> {
    const state = ArbiterState.open(opts.statePath, { init: opts.init ?? false });
    const server = net.createServer({ noDelay: true });
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => reject(new LinkError(describeListenError(error, opts.listen, opts.listenFlag ?? '--listen')));
        server.once('error', onError);
        server.listen({ host: opts.listen.host, port: opts.listen.port, exclusive: true }, () => {
          server.off('error', onError);
          resolve();
        });
      });
    } catch (error) {
      // A fresh, empty state file that never served is removed, so that the same command
      // with --init works once the address is fixed. It holds no flag: nothing is lost.
      if (opts.init === true && state.size === 0) state.discardFresh();
      throw error;
    }
    return new ArbiterServer(server, state, opts);
  }

  onEvent(handler: (e: ArbiterServerEvent) => void): void {
    this.eventHandler = handler;
  }

  flags(): ArbiterFlag[] {
    return this.state.all();
  }

  /** Set when the state file could not be written (the server has stopped). */
  get fatal(): string | undefined {
    return this.fatalMessage;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.state.close();
  }

  private onConnection(socket: net.Socket): void {
    if (this.closed || this.sockets.size >= this.maxConnections) {
      this.stats.connectionsRefused++;
      socket.destroy();
      return;
    }
    this.stats.connections++;
    this.sockets.add(socket);
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setTimeout(this.idleTimeoutMs, () => socket.destroy());
    socket.on('error', () => {}); // a reset by the peer; 'close' follows
    const framed = new FramedSocket(
      socket,
      { key: this.clusterKey, role: 'listener', inner: { lengthOffset: 0, minBytes: ARBITER_FRAME_MIN_BYTES, maxBytes: ARBITER_FRAME_MAX_BYTES } },
      {
        ready: () => {},
        frame: (bytes) => {
          if (socket.destroyed) return;
          const d = decodeArbiterFrame(bytes);
          if (!d.ok || d.frame.message.type !== 'request') {
            this.malformed(socket, peer, d.ok ? 'arbiter-frame-not-a-request' : d.reason);
            return;
          }
          const answer = this.decide(d.frame.service, d.frame.message, peer);
          if (answer === undefined) return; // fatal: nothing more is answered
          socket.write(framed.seal(encodeArbiterFrame(d.frame.service, answer)));
        },
        refused: (reason, message) => {
          this.stats.refused[reason]++;
          this.eventHandler?.({ type: 'refused', reason, message: `arbiter: refused ${peer}: ${message}`, peer });
        },
        malformed: (reason) => this.malformed(socket, peer, reason),
      },
    );
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (framed.partialBytes > 0) this.stats.truncatedFrames++;
    });
    framed.start();
  }

  private malformed(socket: net.Socket, peer: string, reason: string): void {
    this.stats.malformedFrames++;
    this.eventHandler?.({ type: 'malformed', reason, peer });
    socket.destroy();
  }

  /** The test-and-set. Undefined when the flag could not be persisted (the server stops). */
  private decide(service: string, req: ArbiterRequest, peer: string): ArbiterResponse | undefined {
    if (this.fatalMessage !== undefined) return undefined;
    this.stats.requests++;
    let flag = this.state.get(service, req.epoch);
    if (flag === undefined) {
      flag = { service, epoch: req.epoch, winner: req.replica, grantedAt: new Date().toISOString() };
      try {
        this.state.grant(flag);
      } catch (error) {
        this.fail(error instanceof ArbiterStateError ? error.message : String(error));
        return undefined;
      }
      this.stats.granted++;
      this.stats.maxPersistUs = Math.max(this.stats.maxPersistUs, this.state.lastPersistUs);
      this.eventHandler?.({ type: 'granted', service, epoch: req.epoch, winner: req.replica, persistUs: this.state.lastPersistUs, peer });
    } else {
      if (flag.winner === req.replica) this.stats.repeats++;
      else this.stats.lost++;
      this.eventHandler?.({ type: 'answered', service, epoch: req.epoch, asker: req.replica, winner: flag.winner, peer });
    }
    return { type: 'response', id: req.id, epoch: req.epoch, replica: req.replica, winner: flag.winner };
  }

  private fail(message: string): void {
    this.fatalMessage = `${message}; the arbiter stopped answering (listening was ${formatEndpoint(this.local)})`;
    this.eventHandler?.({ type: 'fatal', message: this.fatalMessage });
    void this.close();
  }
}
