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
 *
 * Cluster key (cluster-auth.ts, framed-socket.ts): with one, a connection carries frames
 * only after the handshake proved that the peer holds the same key, every frame travels
 * encrypted, and its tag and counter are checked before it is handed on. A listener replaces its connection only
 * with one that passed the handshake, so a stranger cannot push the backup off. A refused
 * peer is counted by reason (stats.refused) and reported (status `refused`); nothing it
 * sent is ever handed on. Without a key, frames travel bare and anyone may connect.
 */
import * as net from 'node:net';
import { CHANNEL_FORMAT_VERSION, CHANNEL_FRAME_MAX_BYTES, decodeChannel, encodeChannel, type ChannelDecodeError, type ChannelMessage } from '../replica/channel.js';
import { emptyRefusalCounts, type AuthRefusal } from './cluster-auth.js';
import type { ClusterKey } from './cluster-key.js';
import { describeConnectError, describeListenError, formatEndpoint, type Endpoint } from './endpoint.js';
import type { FrameReaderError } from './frames.js';
import { FramedSocket } from './framed-socket.js';
import { LinkError } from './udp-link.js';

/** Channel frame header (12 bytes) plus CRC. */
const CHANNEL_FRAME_MIN_BYTES = 16;
const TYPE_ACK = 3;
/** Listener: connections allowed in the handshake at once (the rest are closed, counted). */
const MAX_PENDING = 8;
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
  /** Authenticate the peer and every frame with this key (cluster-auth.ts). Default none. */
  clusterKey?: ClusterKey | undefined;
  /** With a key: a connection whose handshake takes longer is refused. Default 2000 ms. */
  handshakeTimeoutMs?: number;
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
  /** Listener: connections closed at once because MAX_PENDING handshakes were under way. */
  busy: number;
  resendsOnReconnect: number;
  /** Frames refused as not channel frames (all kinds), then by kind. */
  malformedFrames: number;
  malformed: Record<FrameReaderError | ChannelDecodeError, number>;
  /** Connections that closed in the middle of a frame (the partial frame is discarded). */
  truncatedFrames: number;
  /** Peers refused by the cluster-key check, by reason. */
  refused: Record<AuthRefusal, number>;
  dropped: Record<LogChannelDrop, number>;
  /** Largest socket write queue seen, bytes. */
  maxBufferedBytes: number;
}

/**
 * Why a connection ended: this side closed the channel (`closed`), this side dropped the
 * connection after a frame that was not a channel frame (`bad frame`), or the peer's end
 * closed or reset it, or the network did (`connection lost`: only this one says anything
 * about the peer).
 */
export type LogChannelDownReason = 'closed' | 'bad frame' | 'connection lost';

export type LogChannelStatus =
  | { type: 'up'; peer: string }
  | { type: 'down'; peer: string; reason: LogChannelDownReason }
  /** A peer failed the cluster-key check (the message is the reason, one line); nothing it sent was taken. */
  | { type: 'refused'; peer: string; reason: AuthRefusal; message: string }
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
    busy: 0,
    resendsOnReconnect: 0,
    malformedFrames: 0,
    malformed: { 'frame-too-short': 0, 'frame-too-long': 0, 'channel-truncated': 0, 'channel-bad-version': 0, 'channel-bad-type': 0, 'channel-bad-length': 0, 'channel-bad-crc': 0, 'channel-bad-body': 0 },
    truncatedFrames: 0,
    refused: emptyRefusalCounts(),
    dropped: { 'not-connected': 0, backpressure: 0, closed: 0, 'too-big': 0 },
    maxBufferedBytes: 0,
  };
  /** Listener: the bound address. Dialer: the peer's. */
  readonly endpoint: Endpoint;
  private socket: net.Socket | undefined;
  private framed: FramedSocket | undefined;
  /** Connections not yet through the handshake (never more than MAX_PENDING). */
  private readonly pending = new Set<net.Socket>();
  private server: net.Server | undefined;
  private frameHandler: ((frame: Uint8Array, message: ChannelMessage | undefined) => void) | undefined;
  private statusHandler: ((s: LogChannelStatus) => void) | undefined;
  private lastAck: { epoch: number; index: number } | undefined;
  private corked = false;
  private closed = false;
  private redialTimer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private lastConnectError = '';
  private readonly upWaiters = new Set<() => void>();
  private readonly opts: Required<Omit<LogChannelOptions, 'clusterKey'>> & { clusterKey: ClusterKey | undefined };

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
      clusterKey: undefined,
      handshakeTimeoutMs: 2000,
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
    return this.socket !== undefined && this.framed?.ready === true && !this.socket.destroyed;
  }

  /** Whether frames are authenticated with a cluster key. */
  get authenticated(): boolean {
    return this.opts.clusterKey !== undefined;
  }

  /** Bytes queued in the socket, not yet taken by the kernel. */
  get bufferedBytes(): number {
    return this.socket?.writableLength ?? 0;
  }

  /** `message`: the frame decoded (when verifyFrames), so that the receiver need not decode it again. */
  onFrame(handler: (frame: Uint8Array, message: ChannelMessage | undefined) => void): void {
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
    if (socket === undefined || !this.connected) {
      this.stats.dropped['not-connected']++;
      return false;
    }
    if (socket.writableLength + frame.length > this.opts.maxBufferedBytes) {
      this.stats.dropped.backpressure++;
      return false;
    }
    this.write(this.framed!, frame);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.redialTimer !== undefined) clearTimeout(this.redialTimer);
    this.socket?.destroy();
    this.socket = undefined;
    for (const s of this.pending) s.destroy();
    this.pending.clear();
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Closes once what was sent has left (a last frame that must arrive, as a new primary's
   * `handover` to the old one): no redial; the socket is ended, not destroyed, so frames
   * still queued in it go out first.
   */
  closeAfterSent(): void {
    if (this.closed) return;
    const socket = this.socket;
    this.socket = undefined;
    void this.close();
    socket?.end();
    setTimeout(() => socket?.destroy(), 2000).unref();
  }

  /** Test hook and scenario tool: break the current connection as a network fault would. */
  breakConnection(): void {
    this.socket?.destroy();
  }

  // ---- internals ----------------------------------------------------------------------

  private write(framed: FramedSocket, frame: Uint8Array): void {
    const socket = framed.socket;
    // Frames sent in one turn of the event loop go out in one write (cork until the next tick).
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    socket.write(framed.seal(frame));
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
    let connected = false;
    socket.once('connect', () => {
      socket.setTimeout(0);
      connected = true;
    });
    this.adopt(socket, (refusal) => {
      // Closed before it was ready (connect failed, or the handshake did): a failed attempt.
      this.stats.connectFailures++;
      this.attempts++;
      this.lastConnectError =
        refusal ??
        (connected
          ? `log channel: ${formatEndpoint(this.endpoint)} closed the connection during the cluster-key handshake (does it use the same cluster key?)`
          : describeConnectError(failure ?? new Error('connection closed'), this.endpoint, 'primary\'s log channel', this.opts.flag));
      const delayMs = Math.min(this.opts.reconnectDelayMs * 2 ** Math.min(this.attempts - 1, 20), this.opts.reconnectMaxMs);
      this.statusHandler?.({ type: 'connect-failed', message: this.lastConnectError, attempt: this.attempts, delayMs });
      this.scheduleRedial(delayMs);
    });
  }

  private scheduleRedial(delayMs: number): void {
    if (this.closed || this.redialTimer !== undefined) return;
    this.redialTimer = setTimeout(() => this.redial(), delayMs);
  }

  /**
   * Wires up a new connection; once it is ready (at once without a key, after the
   * handshake with one) it becomes the channel's connection, replacing any older one.
   */
  private adopt(socket: net.Socket, onConnectFailed?: (refusal: string | undefined) => void): void {
    if (this.closed || (this.mode === 'listen' && this.pending.size >= MAX_PENDING)) {
      if (!this.closed) this.stats.busy++;
      socket.destroy();
      return;
    }
    this.pending.add(socket);
    if (this.mode === 'dial') this.socket = socket;
    socket.setNoDelay(true);
    let peer = `${socket.remoteAddress ?? this.endpoint.host}:${socket.remotePort ?? this.endpoint.port}`;
    let up = false;
    let refusal: string | undefined;
    /** This side ended the connection, and why (the `down` status's reason). */
    let closedHere: LogChannelDownReason | undefined;
    const framed = new FramedSocket(
      socket,
      { key: this.opts.clusterKey, role: this.mode === 'listen' ? 'listener' : 'dialer', inner: { lengthOffset: 4, minBytes: CHANNEL_FRAME_MIN_BYTES, maxBytes: CHANNEL_FRAME_MAX_BYTES }, handshakeTimeoutMs: this.opts.handshakeTimeoutMs },
      {
        ready: () => {
          this.pending.delete(socket);
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
          this.framed = framed;
          up = true;
          this.attempts = 0;
          this.stats.connects++;
          this.statusHandler?.({ type: 'up', peer });
          for (const w of [...this.upWaiters]) w();
          if (this.opts.resendOnReconnect && this.lastAck !== undefined) {
            this.stats.resendsOnReconnect++;
            this.write(framed, encodeChannel({ type: 'resend', epoch: this.lastAck.epoch, from: this.lastAck.index + 1 }));
          }
        },
        frame: (frame) => {
          if (this.socket !== socket) return;
          const checked = this.checkFrame(frame);
          if (!checked.ok) {
            this.countMalformed(checked.reason);
            closedHere = 'bad frame';
            socket.destroy();
            return;
          }
          this.stats.framesReceived++;
          this.stats.bytesReceived += frame.length;
          this.frameHandler?.(frame, checked.message);
        },
        refused: (reason, message) => {
          this.stats.refused[reason]++;
          refusal = `log channel: refused ${peer}: ${message}`;
          this.statusHandler?.({ type: 'refused', peer, reason, message: refusal });
        },
        malformed: (reason) => {
          // The framer destroys the socket after this (a frame it cannot read).
          closedHere = 'bad frame';
          this.countMalformed(reason);
        },
      },
    );
    const onConnected = () => {
      peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
      framed.start();
    };
    if (socket.connecting) socket.once('connect', onConnected);
    else onConnected();
    socket.on('error', () => {}); // 'close' follows with the outcome
    socket.on('close', () => {
      this.pending.delete(socket);
      if (framed.partialBytes > 0) this.stats.truncatedFrames++;
      const current = this.socket === socket;
      if (current) {
        this.socket = undefined;
        this.framed = undefined;
      }
      if (!up) {
        if (current) onConnectFailed?.(refusal);
        return;
      }
      this.stats.disconnects++;
      if (current) this.statusHandler?.({ type: 'down', peer, reason: this.closed ? 'closed' : (closedHere ?? 'connection lost') });
      if (current && this.mode === 'dial') this.scheduleRedial(this.opts.reconnectDelayMs);
    });
  }

  private countMalformed(reason: FrameReaderError | ChannelDecodeError): void {
    this.stats.malformedFrames++;
    this.stats.malformed[reason]++;
  }

  private checkFrame(frame: Uint8Array): { ok: true; message: ChannelMessage | undefined } | { ok: false; reason: ChannelDecodeError } {
    if (!this.opts.verifyFrames) return frame[0] === CHANNEL_FORMAT_VERSION ? { ok: true, message: undefined } : { ok: false, reason: 'channel-bad-version' };
    const d = decodeChannel(frame);
    return d.ok ? { ok: true, message: d.message } : d;
  }
}
