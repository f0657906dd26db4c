/**
 * A replica's connection to the embedded arbiter (`ftcp arbiter`, arbiter-server.ts).
 *
 * It implements the replica's arbiter interface of src/replica/arbiter.ts, which is a
 * pair of messages: feed it every request from `replica.pollArbiter()` with send(), and
 * give every answer it reports through onResponse() to `replica.handleArbiter(now, bytes)`.
 * That interface already fits an asynchronous server: the replica asks again after
 * arbiterRetryMs until answered, and asking again is always safe (the answer names the
 * winner). So the client never retries on its own behalf and never throws: a request it
 * cannot deliver (no connection, connection refused, no answer in time) is counted and
 * reported through onError, and the replica's next retry tries again.
 *
 * Connections: one TCP connection, opened on demand and kept; after a failure the next
 * attempt waits reconnectDelayMs (doubling to reconnectMaxMs). Requests made while
 * connecting wait in a small bounded queue. An open connection on which a request has
 * waited requestTimeoutMs with no answer to anything meanwhile is presumed dead and closed.
 *
 * keepConnected() (a replica): the connection is opened at once and reopened whenever it
 * closes, before anything is asked, so that a test-and-set costs one round trip rather
 * than a connect (and a cluster-key handshake) first. These background attempts never
 * stand in a request's way: their failures are counted (backgroundFailures), not
 * reported, and their backoff is their own; a request finding no connection connects at
 * once, and only failures of connections that carried requests are reported and delay
 * the next request-driven attempt. An idle connection is replaced every idleRecycleMs,
 * by the client, so that it is never the arbiter's idle timeout that closes a connection
 * a request has just been written to.
 *
 * With a cluster key (cluster-auth.ts), a connection is open only once the handshake proved
 * that the arbiter holds the same key, and every answer's MAC and counter are checked; a
 * refusal is reported (one line, the reason) and counted, and the connection closed.
 *
 * testAndSet() is a promise-based convenience for tools and tests: it asks (again every
 * retryMs) until answered or its timeout passes.
 */
import * as net from 'node:net';
import type { ArbiterRequest, ArbiterResponse } from '../replica/arbiter.js';
import { ARBITER_FRAME_MAX_BYTES, ARBITER_FRAME_MIN_BYTES, decodeArbiterFrame, encodeArbiterFrame } from './arbiter-wire.js';
import { emptyRefusalCounts, type AuthRefusal } from './cluster-auth.js';
import type { ClusterKey } from './cluster-key.js';
import { wallClockMs } from './clock.js';
import { describeConnectError, formatEndpoint, type Endpoint } from './endpoint.js';
import { FramedSocket } from './framed-socket.js';

export interface ArbiterClientOptions {
  server: Endpoint;
  /** The service whose epochs are asked about; by convention its address, "192.0.2.10". */
  service: string;
  /** Default 1000 ms. */
  connectTimeoutMs?: number;
  /** Default 1000 ms. */
  requestTimeoutMs?: number;
  /** First delay before reconnecting after a failure; default 50 ms, doubling. */
  reconnectDelayMs?: number;
  /** Default 1000 ms. */
  reconnectMaxMs?: number;
  /** Requests waiting for a connection; beyond this the oldest is dropped. Default 16. */
  maxQueued?: number;
  /** The flag named in error messages ("--arbiter"). */
  flag?: string;
  /** keepConnected(): an idle connection is replaced after this long. Default 20 s (the arbiter closes idle ones after 60 s). */
  idleRecycleMs?: number;
  /** Authenticate the arbiter and every frame with this key. Default none. */
  clusterKey?: ClusterKey | undefined;
}

export interface ArbiterClientStats {
  requestsSent: number;
  responses: number;
  connects: number;
  connectFailures: number;
  /** Connections closed because a request went unanswered for requestTimeoutMs. */
  timeouts: number;
  /** Connections lost while open (reset, closed by the server). */
  disconnects: number;
  /** Requests that could not be sent (queue full, connection failed, client closed). */
  dropped: number;
  malformedFrames: number;
  /** Connections refused by the cluster-key check (either side's), by reason. */
  refused: Record<AuthRefusal, number>;
  /** keepConnected(): connect attempts made before anything was asked that failed (not reported). */
  backgroundFailures: number;
  /** keepConnected(): idle connections replaced. */
  recycled: number;
}

type ConnState = 'idle' | 'connecting' | 'open';

export class ArbiterClient {
  readonly stats: ArbiterClientStats = { requestsSent: 0, responses: 0, connects: 0, connectFailures: 0, timeouts: 0, disconnects: 0, dropped: 0, malformedFrames: 0, refused: emptyRefusalCounts(), backgroundFailures: 0, recycled: 0 };
  private socket: net.Socket | undefined;
  private framed: FramedSocket | undefined;
  private state: ConnState = 'idle';
  private queue: ArbiterRequest[] = [];
  /** Sent requests awaiting an answer on the open connection: key -> time sent (ms). */
  private readonly outstanding = new Map<string, number>();
  private responseHandler: ((bytes: Uint8Array, response: ArbiterResponse) => void) | undefined;
  private errorHandler: ((message: string) => void) | undefined;
  /** The last failure reported, and how many there were. */
  lastError: string | undefined;
  private errorCount = 0;
  private readonly waiters = new Set<(r: ArbiterResponse) => void>();
  private retryAfterMs = 0;
  private backoffMs: number;
  private connectTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;
  private nextId = 0x8000_0000;
  private lastResponseMs = 0;
  /** keepConnected(): reconnect in the background; its timer and backoff (apart from requests'). */
  private keepAlive = false;
  private backgroundTimer: NodeJS.Timeout | undefined;
  private backgroundBackoffMs: number;
  private recycleTimer: NodeJS.Timeout | undefined;
  private lastActivityMs = 0;
  /** When the request answered last was written (wall clock ms), for the replica's timings. */
  private answeredSentAtMs: number | undefined;
  /** The connection the watchdog closed (a request went unanswered). */
  private timedOutSocket: net.Socket | undefined;
  private readonly opts: Required<Omit<ArbiterClientOptions, 'clusterKey'>> & { clusterKey: ClusterKey | undefined };

  constructor(opts: ArbiterClientOptions) {
    this.opts = {
      connectTimeoutMs: 1000,
      requestTimeoutMs: 1000,
      reconnectDelayMs: 50,
      reconnectMaxMs: 1000,
      maxQueued: 16,
      flag: '--arbiter',
      clusterKey: undefined,
      idleRecycleMs: 20_000,
      ...opts,
    };
    this.backoffMs = this.opts.reconnectDelayMs;
    this.backgroundBackoffMs = this.opts.reconnectDelayMs;
  }

  /**
   * Opens the connection now and keeps one open from now on (see the header): a replica's
   * test-and-set then costs one round trip. Returns this.
   */
  keepConnected(): this {
    if (this.keepAlive || this.closed) return this;
    this.keepAlive = true;
    if (this.state === 'idle') this.connect();
    const period = Math.max(10, Math.floor(this.opts.idleRecycleMs / 4));
    this.recycleTimer = setInterval(() => this.recycleIdle(), period);
    this.recycleTimer.unref();
    return this;
  }

  /** When the request whose answer came last was written to the arbiter (wall clock ms). */
  answeredRequestSentAtMs(): number | undefined {
    return this.answeredSentAtMs;
  }

  get connected(): boolean {
    return this.state === 'open';
  }

  /** Where every answer goes: pass `bytes` to Replica.handleArbiter(now, bytes). */
  onResponse(handler: (bytes: Uint8Array, response: ArbiterResponse) => void): void {
    this.responseHandler = handler;
  }

  /** One line per failure, saying what to do (for the process's log). */
  onError(handler: (message: string) => void): void {
    this.errorHandler = handler;
  }

  /** Sends a request (from Replica.pollArbiter()). Never throws; failures are counted and reported. */
  send(request: ArbiterRequest): void {
    if (this.closed) {
      this.stats.dropped++;
      return;
    }
    if (this.state === 'open') {
      this.write(request);
      return;
    }
    this.queue.push(request);
    if (this.queue.length > this.opts.maxQueued) {
      this.queue.shift();
      this.stats.dropped++;
    }
    this.ensureConnecting();
  }

  /** Asks for the test-and-set of `epoch` as `replica` until answered; rejects after timeoutMs. */
  testAndSet(epoch: number, replica: string, opts: { timeoutMs?: number; retryMs?: number } = {}): Promise<ArbiterResponse> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const retryMs = opts.retryMs ?? Math.min(200, this.opts.requestTimeoutMs);
    const id = this.nextId++ >>> 0;
    const request: ArbiterRequest = { type: 'request', id, epoch, replica };
    const errorsBefore = this.errorCount;
    return new Promise<ArbiterResponse>((resolve, reject) => {
      const waiter = (r: ArbiterResponse) => {
        if (r.id !== id || r.epoch !== epoch || r.replica !== replica) return;
        done();
        resolve(r);
      };
      const retry = setInterval(() => this.send(request), retryMs);
      const timer = setTimeout(() => {
        done();
        const why = this.errorCount > errorsBefore && this.lastError !== undefined ? this.lastError : `no answer from the arbiter at ${formatEndpoint(this.opts.server)} within ${timeoutMs} ms`;
        reject(new Error(why));
      }, timeoutMs);
      const done = () => {
        clearInterval(retry);
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
      this.send(request);
    });
  }

  /** Closes the connection; later requests are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    if (this.backgroundTimer !== undefined) clearTimeout(this.backgroundTimer);
    if (this.recycleTimer !== undefined) clearInterval(this.recycleTimer);
    this.stopWatchdog();
    this.stats.dropped += this.queue.length;
    this.queue = [];
    this.socket?.destroy();
    this.socket = undefined;
    this.state = 'idle';
  }

  // ---- connection -------------------------------------------------------------------

  private ensureConnecting(): void {
    if (this.state !== 'idle' || this.connectTimer !== undefined) return;
    const wait = this.retryAfterMs - Date.now();
    if (wait > 0) {
      this.connectTimer = setTimeout(() => {
        this.connectTimer = undefined;
        if (this.queue.length > 0) this.ensureConnecting();
      }, wait);
      return;
    }
    this.connect();
  }

  private connect(): void {
    if (this.backgroundTimer !== undefined) clearTimeout(this.backgroundTimer);
    this.backgroundTimer = undefined;
    this.state = 'connecting';
    const { host, port } = this.opts.server;
    const socket = net.connect({ host, port, noDelay: true });
    this.socket = socket;
    let opened = false;
    let failure: unknown;
    let refusal: string | undefined;
    socket.setTimeout(this.opts.connectTimeoutMs, () => {
      if (opened) return;
      failure = Object.assign(new Error(socket.connecting ? 'connect timed out' : 'cluster-key handshake timed out'), { code: 'ETIMEDOUT' });
      socket.destroy();
    });
    const framed = new FramedSocket(
      socket,
      { key: this.opts.clusterKey, role: 'dialer', inner: { lengthOffset: 0, minBytes: ARBITER_FRAME_MIN_BYTES, maxBytes: ARBITER_FRAME_MAX_BYTES }, handshakeTimeoutMs: this.opts.connectTimeoutMs },
      {
        ready: () => {
          opened = true;
          socket.setTimeout(0);
          this.framed = framed;
          this.state = 'open';
          this.stats.connects++;
          this.backoffMs = this.opts.reconnectDelayMs;
          this.backgroundBackoffMs = this.opts.reconnectDelayMs;
          this.lastActivityMs = wallClockMs();
          const queued = this.queue;
          this.queue = [];
          for (const r of queued) this.write(r);
        },
        frame: (f) => this.onFrame(socket, f),
        refused: (reason, message) => {
          this.stats.refused[reason]++;
          refusal = `arbiter: refused ${formatEndpoint(this.opts.server)}: ${message}`;
        },
        malformed: () => this.malformed(socket),
      },
    );
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      framed.start();
    });
    socket.on('error', (error) => {
      failure ??= error;
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.framed = undefined;
      this.state = 'idle';
      this.stopWatchdog();
      const lost = this.outstanding.size;
      this.outstanding.clear();
      const timedOut = this.timedOutSocket === socket;
      this.timedOutSocket = undefined;
      if (this.closed) return;
      // Nothing was asked on it (keepConnected): count it, try again in the background, and
      // leave requests free to connect at once.
      if (this.keepAlive && this.queue.length === 0 && lost === 0 && !timedOut) {
        if (opened) this.stats.disconnects++;
        else {
          this.stats.connectFailures++;
          this.stats.backgroundFailures++;
        }
        this.reconnectInBackground();
        return;
      }
      this.retryAfterMs = Date.now() + this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, this.opts.reconnectMaxMs);
      if (this.keepAlive) this.reconnectInBackground();
      if (!opened) {
        this.stats.connectFailures++;
        this.stats.dropped += this.queue.length;
        this.queue = [];
        this.report(
          refusal ??
            (connected && failure === undefined
              ? `arbiter: ${formatEndpoint(this.opts.server)} closed the connection during the cluster-key handshake (does it use the same cluster key?)`
              : describeConnectError(failure ?? new Error('connection closed'), this.opts.server, 'arbiter', this.opts.flag)),
        );
      } else {
        this.stats.disconnects++;
        if (lost > 0) this.report(`lost the connection to the arbiter at ${formatEndpoint(this.opts.server)} with ${lost} request(s) unanswered; asking again`);
        if (this.queue.length > 0) this.ensureConnecting();
      }
    });
  }

  /** keepConnected(): the next attempt, after the background backoff (doubling). */
  private reconnectInBackground(): void {
    if (this.closed || this.backgroundTimer !== undefined) return;
    const wait = this.backgroundBackoffMs;
    this.backgroundBackoffMs = Math.min(this.backgroundBackoffMs * 2, this.opts.reconnectMaxMs);
    this.backgroundTimer = setTimeout(() => {
      this.backgroundTimer = undefined;
      if (this.state === 'idle' && !this.closed) this.connect();
    }, wait);
    this.backgroundTimer.unref();
  }

  /** keepConnected(): replaces a connection idle for idleRecycleMs (nothing asked, nothing waiting). */
  private recycleIdle(): void {
    if (this.state !== 'open' || this.outstanding.size > 0 || this.queue.length > 0) return;
    if (wallClockMs() - this.lastActivityMs < this.opts.idleRecycleMs) return;
    // Detached before it closes: a request from now on waits for the new connection rather
    // than being written to this one (its close is then not ours to handle).
    const old = this.socket;
    this.socket = undefined;
    this.framed = undefined;
    this.state = 'idle';
    old?.destroy();
    this.stats.recycled++;
    this.connect();
  }

  private report(message: string): void {
    this.lastError = message;
    this.errorCount++;
    this.errorHandler?.(message);
  }

  private write(r: ArbiterRequest): void {
    const socket = this.socket!;
    socket.write(this.framed!.seal(encodeArbiterFrame(this.opts.service, r)));
    this.stats.requestsSent++;
    this.lastActivityMs = wallClockMs();
    this.outstanding.set(requestKey(r), this.lastActivityMs);
    this.startWatchdog();
  }

  private onFrame(socket: net.Socket, bytes: Uint8Array): void {
    const d = decodeArbiterFrame(bytes);
    if (!d.ok || d.frame.message.type !== 'response' || d.frame.service !== this.opts.service) {
      this.malformed(socket);
      return;
    }
    const r = d.frame.message;
    this.answeredSentAtMs = this.outstanding.get(requestKey(r));
    this.outstanding.delete(requestKey(r));
    if (this.outstanding.size === 0) this.stopWatchdog();
    this.stats.responses++;
    this.lastResponseMs = this.lastActivityMs = wallClockMs();
    this.responseHandler?.(d.frame.messageBytes, r);
    for (const w of [...this.waiters]) w(r);
  }

  private malformed(socket: net.Socket): void {
    this.stats.malformedFrames++;
    this.report(`the arbiter at ${formatEndpoint(this.opts.server)} sent a malformed frame; reconnecting (is ${this.opts.flag} pointing at an ftcp arbiter?)`);
    socket.destroy();
  }

  /** Closes the connection when a request has waited longer than requestTimeoutMs. */
  private startWatchdog(): void {
    if (this.watchdog !== undefined) return;
    const period = Math.max(10, Math.floor(this.opts.requestTimeoutMs / 4));
    this.watchdog = setInterval(() => {
      const now = wallClockMs();
      for (const sentMs of this.outstanding.values()) {
        // Progress counts: a server answering others in turn (each after an fsync) is alive.
        if (now - Math.max(sentMs, this.lastResponseMs) < this.opts.requestTimeoutMs) continue;
        this.stats.timeouts++;
        this.report(`the arbiter at ${formatEndpoint(this.opts.server)} did not answer within ${this.opts.requestTimeoutMs} ms; reconnecting`);
        this.outstanding.clear(); // reported here, not again as lost by the close
        this.timedOutSocket = this.socket;
        this.socket?.destroy();
        return;
      }
    }, period);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog !== undefined) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }
}

function requestKey(r: { id: number; epoch: number; replica: string }): string {
  return `${r.id}/${r.epoch}/${r.replica}`;
}
