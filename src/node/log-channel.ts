/**
 * The log channel between primary and backup over TCP (DESIGN.md, "The replicated state
 * machine"): a transport for the channel frames of src/replica/channel.ts, which carry
 * their own length (offset 4) and CRC-32, so they are written to the stream as they are.
 *
 * One side listens (the primary: a new backup connects to it to join), the other dials
 * and redials after a break, forever, with a doubling delay. A listener that accepts a
 * new connection drops the older one: the newest connection is the channel.
 *
 * No entry is lost or applied twice across a break. The channel itself is at-most-once
 * (frames in flight when the connection breaks, or sent while it is down, are gone,
 * counted), and the replication protocol makes up the rest with the messages it has:
 * the backup applies entries strictly in index order and drops any it already has, and
 * the primary keeps every unacknowledged entry and sends it again on `resend`. To recover
 * at once rather than at the next heartbeat, the side that acknowledges (the backup)
 * remembers the last `ack` it sent, and on every new connection sends
 * `resend { from: acked + 1 }` before anything else.
 *
 * Backpressure: send() refuses (returns false, counted) a frame that would take the bytes
 * queued in the socket above maxBufferedBytes; nothing is buffered without bound. The
 * primary's log still holds what was refused, and the backup asks for it again when it
 * sees the gap. A received frame that is not a valid channel frame (length, version,
 * type, CRC) is counted and closes the connection (the dialer then reconnects).
 */
import * as net from 'node:net';
import { CHANNEL_FORMAT_VERSION, CHANNEL_FRAME_MAX_BYTES, decodeChannel, encodeChannel } from '../replica/channel.js';
import { describeConnectError, describeListenError, formatEndpoint, type Endpoint } from './endpoint.js';
import { FrameReader } from './frames.js';
import { LinkError } from './udp-link.js';

/** Channel frame header (12 bytes) plus CRC. */
const CHANNEL_FRAME_MIN_BYTES = 16;
const TYPE_ACK = 3;
const TWO32 = 0x1_0000_0000;

export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export interface LogChannelOptions {
  /** Bytes queued in the socket beyond which send() refuses. Default 16 MiB. */
  maxBufferedBytes?: number;
  /** Dialer: first redial delay after a failure, doubling. Default 20 ms. */
  reconnectDelayMs?: number;
  /** Dialer: longest redial delay. Default 500 ms. */
  reconnectMaxMs?: number;
  /** Dialer: a connect attempt that takes longer fails. Default 1000 ms. */
  connectTimeoutMs?: number;
  /** Send `resend { from: last ack + 1 }` on every new connection. Default true. */
  resendOnReconnect?: boolean;
  /** Check each received frame's CRC here (the replica checks it again). Default true. */
  verifyFrames?: boolean;
  /** The flag named in error messages. */
  flag?: string;
}

export type LogChannelDrop = 'not-connected' | 'backpressure' | 'closed' | 'too-big';

export interface LogChannelStats {
  framesSent: number;
  bytesSent: number;
  framesReceived: number;
  bytesReceived: number;
  connects: number;
  disconnects: number;
  connectFailures: number;
  /** Listener: older connections dropped for a newer one. */
  replaced: number;
  resendsOnReconnect: number;
  malformedFrames: number;
  dropped: Record<LogChannelDrop, number>;
  /** Largest socket write queue seen, bytes. */
  maxBufferedBytes: number;
}

export type LogChannelStatus =
  | { type: 'up'; peer: string }
  | { type: 'down'; peer: string; reason: string }
  /** Dialer: an attempt failed (one line, what to do); it tries again after delayMs. */
  | { type: 'connect-failed'; message: string; attempt: number; delayMs: number };

export class LogChannel {
  readonly stats: LogChannelStats = {
    framesSent: 0,
    bytesSent: 0,
    framesReceived: 0,
    bytesReceived: 0,
    connects: 0,
    disconnects: 0,
    connectFailures: 0,
    replaced: 0,
    resendsOnReconnect: 0,
    malformedFrames: 0,
    dropped: { 'not-connected': 0, backpressure: 0, closed: 0, 'too-big': 0 },
    maxBufferedBytes: 0,
  };
  /** Listener: the bound address. Dialer: the peer's. */
  readonly endpoint: Endpoint;
  private socket: net.Socket | undefined;
  private server: net.Server | undefined;
  private frameHandler: ((frame: Uint8Array) => void) | undefined;
  private statusHandler: ((s: LogChannelStatus) => void) | undefined;
  private lastAck: { epoch: number; index: number } | undefined;
  private corked = false;
  private closed = false;
  private redialTimer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private lastConnectError = '';
  private readonly upWaiters = new Set<() => void>();
  private readonly opts: Required<LogChannelOptions>;

  private constructor(
    readonly mode: 'listen' | 'dial',
    endpoint: Endpoint,
    opts: LogChannelOptions,
  ) {
    this.endpoint = endpoint;
    this.opts = {
      maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES,
      reconnectDelayMs: 20,
      reconnectMaxMs: 500,
      connectTimeoutMs: 1000,
      resendOnReconnect: true,
      verifyFrames: true,
      flag: mode === 'listen' ? '--channel-listen' : '--channel',
      ...opts,
    };
  }

  /** The primary's side: accepts the backup's connection. Rejects with a one-line LinkError when it cannot listen. */
  static async listen(listen: Endpoint, opts: LogChannelOptions = {}): Promise<LogChannel> {
    const server = net.createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(new LinkError(describeListenError(error, listen, opts.flag ?? '--channel-listen')));
      server.once('error', onError);
      server.listen({ host: listen.host, port: listen.port, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const a = server.address() as net.AddressInfo;
    const channel = new LogChannel('listen', { host: a.address, port: a.port }, opts);
    channel.server = server;
    server.on('connection', (socket) => channel.adopt(socket));
    server.on('error', () => {}); // after listening, errors concern single connections
    return channel;
  }

  /** The backup's side: dials `peer` now and again after every break, until close(). */
  static dial(peer: Endpoint, opts: LogChannelOptions = {}): LogChannel {
    const channel = new LogChannel('dial', peer, opts);
    channel.redial();
    return channel;
  }

  get connected(): boolean {
    return this.socket !== undefined && !this.socket.connecting && !this.socket.destroyed;
  }

  /** Bytes queued in the socket, not yet taken by the kernel. */
  get bufferedBytes(): number {
    return this.socket?.writableLength ?? 0;
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandler = handler;
  }

  onStatus(handler: (s: LogChannelStatus) => void): void {
    this.statusHandler = handler;
  }

  /** Resolves when a connection is up; rejects after timeoutMs with the last failure (one line). */
  whenConnected(timeoutMs: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.upWaiters.delete(up);
        reject(new LinkError(this.lastConnectError || `no log-channel connection at ${formatEndpoint(this.endpoint)} within ${timeoutMs} ms`));
      }, timeoutMs);
      const up = () => {
        clearTimeout(timer);
        this.upWaiters.delete(up);
        resolve();
      };
      this.upWaiters.add(up);
    });
  }

  /** Sends one channel frame (from Replica.pollChannel()). False when refused (counted). */
  send(frame: Uint8Array): boolean {
    if (frame.length > CHANNEL_FRAME_MAX_BYTES) {
      this.stats.dropped['too-big']++;
      return false;
    }
    if (frame[1] === TYPE_ACK && frame.length >= 20) this.noteAck(frame);
    if (this.closed) {
      this.stats.dropped.closed++;
      return false;
    }
    const socket = this.socket;
    if (socket === undefined || socket.connecting || socket.destroyed) {
      this.stats.dropped['not-connected']++;
      return false;
    }
    if (socket.writableLength + frame.length > this.opts.maxBufferedBytes) {
      this.stats.dropped.backpressure++;
      return false;
    }
    this.write(socket, frame);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.redialTimer !== undefined) clearTimeout(this.redialTimer);
    this.socket?.destroy();
    this.socket = undefined;
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Test hook and scenario tool: break the current connection as a network fault would. */
  breakConnection(): void {
    this.socket?.destroy();
  }

  // ---- internals ----------------------------------------------------------------------

  private write(socket: net.Socket, frame: Uint8Array): void {
    // Frames sent in one turn of the event loop go out in one write (cork until the next tick).
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    socket.write(frame);
    this.stats.framesSent++;
    this.stats.bytesSent += frame.length;
    if (socket.writableLength > this.stats.maxBufferedBytes) this.stats.maxBufferedBytes = socket.writableLength;
  }

  private noteAck(frame: Uint8Array): void {
    const view = new DataView(frame.buffer, frame.byteOffset, frame.length);
    const epoch = view.getUint32(8);
    const index = view.getUint32(12) * TWO32 + view.getUint32(16);
    if (this.lastAck === undefined || epoch !== this.lastAck.epoch || index > this.lastAck.index) this.lastAck = { epoch, index };
  }

  private redial(): void {
    this.redialTimer = undefined;
    if (this.closed) return;
    const socket = net.connect({ host: this.endpoint.host, port: this.endpoint.port, noDelay: true });
    let failure: unknown;
    socket.setTimeout(this.opts.connectTimeoutMs, () => {
      if (!socket.connecting) return;
      failure = Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' });
      socket.destroy();
    });
    socket.once('error', (error) => {
      failure ??= error;
    });
    socket.once('connect', () => {
      socket.setTimeout(0);
      this.attempts = 0;
    });
    this.adopt(socket, () => {
      // Closed before it ever connected: a failed attempt.
      this.stats.connectFailures++;
      this.attempts++;
      this.lastConnectError = describeConnectError(failure ?? new Error('connection closed'), this.endpoint, 'primary\'s log channel', this.opts.flag);
      const delayMs = Math.min(this.opts.reconnectDelayMs * 2 ** Math.min(this.attempts - 1, 20), this.opts.reconnectMaxMs);
      this.statusHandler?.({ type: 'connect-failed', message: this.lastConnectError, attempt: this.attempts, delayMs });
      this.scheduleRedial(delayMs);
    });
  }

  private scheduleRedial(delayMs: number): void {
    if (this.closed || this.redialTimer !== undefined) return;
    this.redialTimer = setTimeout(() => this.redial(), delayMs);
  }

  /** Makes `socket` the channel's connection (replacing any older one) and wires it up. */
  private adopt(socket: net.Socket, onConnectFailed?: () => void): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const old = this.socket;
    if (old !== undefined && old !== socket) {
      this.stats.replaced++;
      old.destroy();
    }
    this.socket = socket;
    socket.setNoDelay(true);
    let peer = `${socket.remoteAddress ?? this.endpoint.host}:${socket.remotePort ?? this.endpoint.port}`;
    let up = false;
    const reader = new FrameReader({ lengthOffset: 4, minBytes: CHANNEL_FRAME_MIN_BYTES, maxBytes: CHANNEL_FRAME_MAX_BYTES });
    const onUp = () => {
      up = true;
      peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
      this.stats.connects++;
      this.statusHandler?.({ type: 'up', peer });
      for (const w of [...this.upWaiters]) w();
      if (this.opts.resendOnReconnect && this.lastAck !== undefined) {
        this.stats.resendsOnReconnect++;
        this.write(socket, encodeChannel({ type: 'resend', epoch: this.lastAck.epoch, from: this.lastAck.index + 1 }));
      }
    };
    if (socket.connecting) socket.once('connect', onUp);
    else onUp();
    socket.on('error', () => {}); // 'close' follows with the outcome
    socket.on('data', (chunk: Buffer) => {
      const { frames, error } = reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      for (const frame of frames) {
        if (this.socket !== socket) return;
        if (!this.validFrame(frame)) {
          this.stats.malformedFrames++;
          socket.destroy();
          return;
        }
        this.stats.framesReceived++;
        this.stats.bytesReceived += frame.length;
        this.frameHandler?.(frame);
      }
      if (error !== undefined) {
        this.stats.malformedFrames++;
        socket.destroy();
      }
    });
    socket.on('close', () => {
      const current = this.socket === socket;
      if (current) this.socket = undefined;
      if (!up) {
        if (current) onConnectFailed?.();
        return;
      }
      this.stats.disconnects++;
      if (current) this.statusHandler?.({ type: 'down', peer, reason: this.closed ? 'closed' : 'connection lost' });
      if (current && this.mode === 'dial') this.scheduleRedial(this.opts.reconnectDelayMs);
    });
  }

  private validFrame(frame: Uint8Array): boolean {
    if (!this.opts.verifyFrames) return frame[0] === CHANNEL_FORMAT_VERSION;
    return decodeChannel(frame).ok;
  }
}
