/**
 * One TCP connection of the log channel or of the arbiter protocol, as frames: it cuts the
 * byte stream into frames (frames.ts) and, with a cluster key, runs the handshake,
 * encrypts every frame it sends and decrypts and checks the tag and counter of every frame
 * it receives (cluster-auth.ts) before the owner sees it.
 *
 * Without a key the inner frames travel as they are (the inner protocol's framing). With
 * one, the stream holds only envelopes, and no inner byte travels in clear. The first byte tells which a peer speaks, so a
 * mismatch is refused with a reason that says which side lacks the key.
 *
 * A refusal (auth) or a framing error (length out of bounds) is reported once; the socket
 * then delivers nothing more and is closed (a refusal with a FIN after what was already
 * written, so that the peer can still read our proof and see its own mismatch).
 */
import type * as net from 'node:net';
import { AUTH_MARKER, AUTH_REFUSAL_TEXT, AuthSession, envelopeReaderOptions, type AuthRefusal, type AuthRole } from './cluster-auth.js';
import type { ClusterKey } from './cluster-key.js';
import { FrameReader, type FrameReaderError, type FrameReaderOptions } from './frames.js';

export interface FramedSocketOptions {
  key: ClusterKey | undefined;
  role: AuthRole;
  /** The inner protocol's framing (offset of its length, bounds). */
  inner: FrameReaderOptions;
  /** With a key: the handshake must finish within this. Default 2000 ms. */
  handshakeTimeoutMs?: number;
}

export interface FramedSocketHandlers {
  /** Ready to carry frames: at once without a key, after the handshake with one. */
  ready: () => void;
  frame: (inner: Uint8Array) => void;
  /** The peer failed authentication; the message is the log line's reason. */
  refused: (reason: AuthRefusal, message: string) => void;
  /** A frame length out of bounds (oversized, or too short to be a frame). */
  malformed: (reason: FrameReaderError) => void;
}

/** How long a refused socket may linger half-closed before it is destroyed. */
const REFUSED_LINGER_MS = 1000;

export class FramedSocket {
  private readonly reader: FrameReader;
  private readonly session: AuthSession | undefined;
  private sawFirstByte = false;
  private done = false;
  private isReady = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: net.Socket,
    private readonly opts: FramedSocketOptions,
    private readonly on: FramedSocketHandlers,
  ) {
    const inner = opts.inner;
    this.session = opts.key === undefined ? undefined : new AuthSession(opts.key, opts.role);
    this.reader = new FrameReader(this.session === undefined ? inner : envelopeReaderOptions(inner));
    socket.on('data', (chunk: Buffer) => this.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
    socket.on('close', () => this.stopTimer());
  }

  /** Ready and not refused since: frames may be sent. */
  get ready(): boolean {
    return this.isReady && !this.done;
  }

  /** Bytes of a frame begun and never finished (meaningful once the socket closed). */
  get partialBytes(): number {
    return this.reader.bufferedBytes;
  }

  /** Call once connected: sends the hello (with a key) or reports ready (without). */
  start(): void {
    if (this.done) return;
    if (this.session === undefined) {
      this.isReady = true;
      this.on.ready();
      return;
    }
    this.socket.write(this.session.hello);
    this.timer = setTimeout(() => this.refuse('handshake-timeout', `within ${this.opts.handshakeTimeoutMs ?? 2000} ms`), this.opts.handshakeTimeoutMs ?? 2000);
    this.timer.unref();
  }

  /** The bytes to write for an inner frame (once ready). */
  seal(inner: Uint8Array): Uint8Array {
    return this.session === undefined ? inner : this.session.seal(inner);
  }

  private onData(chunk: Uint8Array): void {
    if (this.done || this.socket.destroyed || chunk.length === 0) return;
    if (!this.sawFirstByte) {
      this.sawFirstByte = true;
      const authed = chunk[0] === AUTH_MARKER;
      if (this.session !== undefined && !authed) return this.refuse('no-key');
      if (this.session === undefined && authed) return this.refuse('peer-has-key');
    }
    const { frames, error } = this.reader.push(chunk);
    for (const frame of frames) {
      if (this.done || this.socket.destroyed) return;
      if (this.session === undefined) {
        this.on.frame(frame);
        continue;
      }
      const step = this.session.receive(frame);
      switch (step.type) {
        case 'send':
          this.socket.write(step.bytes);
          break;
        case 'ready':
          this.stopTimer();
          this.isReady = true;
          this.on.ready();
          break;
        case 'frame':
          this.on.frame(step.inner);
          break;
        case 'refused':
          return this.refuse(step.reason, step.detail);
      }
    }
    if (error !== undefined && !this.done && !this.socket.destroyed) {
      this.done = true;
      this.on.malformed(error);
      this.socket.destroy();
    }
  }

  private refuse(reason: AuthRefusal, detail?: string): void {
    if (this.done) return;
    this.done = true;
    this.stopTimer();
    this.on.refused(reason, detail === undefined ? AUTH_REFUSAL_TEXT[reason] : `${AUTH_REFUSAL_TEXT[reason]}: ${detail}`);
    if (this.socket.destroyed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), REFUSED_LINGER_MS).unref();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
