/**
 * A host's link to a real Ethernet segment (DESIGN.md, "Network"): a TAP device made by
 * socat, bridged on the host as a hypervisor bridges a VM's tap, and carried to this
 * process over UDP on the loopback, one Ethernet frame per datagram:
 *
 *   socat -b 65536 TUN,tun-type=tap,iff-no-pi,up,tun-name=<dev> UDP:127.0.0.1:<port>,sourceport=<socatPort>
 *
 * The link does not start socat (the lab or the operator does): tapSocatArgs() is that
 * argv, so both sides agree on it. socat's UDP socket is connected, and it exits when a
 * datagram it sends is refused, so open() the link (bind <port>) before socat starts.
 *
 * Frames are bytes here: inbound, a datagram is delivered only if it comes from socat's
 * port and is at least an Ethernet header long; anything else is counted by reason and
 * dropped, never thrown. Outbound, a frame too short or too long for one datagram, or one
 * that finds the send queue full, is counted and dropped (send returns false).
 */
import * as dgram from 'node:dgram';
import type { Endpoint } from './endpoint.js';
import { bindUdpSocket, DEFAULT_MAX_SEND_QUEUE, DEFAULT_SOCKET_BUFFER_BYTES } from './udp-link.js';

/** Destination MAC, source MAC, EtherType (IEEE 802.3 clause 3.1.1); the FCS is not carried. */
export const ETHERNET_HEADER_BYTES = 14;
/**
 * The largest frame one datagram carries: a UDP payload over IPv4 is at most 65535 - 20 - 8
 * bytes. socat's `-b 65536` is above it, so socat never cuts a frame that fits.
 */
export const MAX_TAP_FRAME_BYTES = 65_507;
/** socat's read/write buffer: without `-b` it cuts frames to 8192 bytes, silently. */
export const SOCAT_BUFFER_BYTES = 65_536;

export interface TapSocatOptions {
  /** The TAP device's name (at most 15 characters, as every Linux interface name). */
  device: string;
  /** The link's UDP port on 127.0.0.1 (TapLinkOptions.port). */
  port: number;
  /** socat's own UDP source port (TapLinkOptions.socatPort). */
  socatPort: number;
}

/** socat's argv (without "socat") for a TAP device bridged to a TapLink. */
export function tapSocatArgs(o: TapSocatOptions): string[] {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(o.device)) throw new RangeError(`a TAP device name is 1..15 letters, digits, '_', '.' or '-', got ${JSON.stringify(o.device)}`);
  for (const [what, p] of [['port', o.port], ['socatPort', o.socatPort]] as const) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`${what} must be 1..65535, got ${p}`);
  }
  return ['-b', String(SOCAT_BUFFER_BYTES), `TUN,tun-type=tap,iff-no-pi,up,tun-name=${o.device}`, `UDP:127.0.0.1:${o.port},sourceport=${o.socatPort}`];
}

export type TapDropReason = 'foreign' | 'runt' | 'send-too-small' | 'send-too-big' | 'send-queue-full' | 'closed';

export interface TapLinkStats {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  /** Frames the socket failed to send after send() accepted them (asynchronous errors). */
  sendErrors: number;
  dropped: Record<TapDropReason, number>;
}

export interface TapLinkOptions {
  /** The UDP port bound on 127.0.0.1 (socat's peer); 0 picks a free one. */
  port: number;
  /** socat's source port: the only source accepted, and where frames go. */
  socatPort: number;
  socketBufferBytes?: number;
  maxSendQueue?: number;
  /** The flag named in a bind error ("--tap-port"). */
  bindFlag?: string;
}

export class TapLink {
  readonly local: Endpoint;
  readonly peer: Endpoint;
  readonly stats: TapLinkStats = {
    framesIn: 0,
    bytesIn: 0,
    framesOut: 0,
    bytesOut: 0,
    sendErrors: 0,
    dropped: { foreign: 0, runt: 0, 'send-too-small': 0, 'send-too-big': 0, 'send-queue-full': 0, closed: 0 },
  };
  private frameHandler: ((frame: Uint8Array) => void) | undefined;
  private closed = false;
  private readonly maxSendQueue: number;

  private constructor(
    private readonly socket: dgram.Socket,
    opts: TapLinkOptions,
  ) {
    const a = socket.address();
    this.local = { host: a.address, port: a.port };
    this.peer = { host: '127.0.0.1', port: opts.socatPort };
    this.maxSendQueue = opts.maxSendQueue ?? DEFAULT_MAX_SEND_QUEUE;
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    // Asynchronous socket errors (rare for UDP) are counted; the link stays up.
    socket.on('error', () => void this.stats.sendErrors++);
  }

  /** Binds 127.0.0.1:port. Rejects with a LinkError (one line, what to do) when it cannot. */
  static async open(opts: TapLinkOptions): Promise<TapLink> {
    if (!Number.isInteger(opts.socatPort) || opts.socatPort < 1 || opts.socatPort > 65535) throw new RangeError(`socatPort must be 1..65535, got ${opts.socatPort}`);
    const socket = await bindUdpSocket({ host: '127.0.0.1', port: opts.port }, opts.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER_BYTES, opts.bindFlag ?? '--tap-port');
    return new TapLink(socket, opts);
  }

  /** socat's argv for this link's ports and `device`. */
  socatArgs(device: string): string[] {
    return tapSocatArgs({ device, port: this.local.port, socatPort: this.peer.port });
  }

  /** Sends one Ethernet frame (no FCS) to the TAP device. False when it was dropped (counted). */
  send(frame: Uint8Array): boolean {
    const reason = this.closed ? 'closed' : frame.length < ETHERNET_HEADER_BYTES ? 'send-too-small' : frame.length > MAX_TAP_FRAME_BYTES ? 'send-too-big' : this.socket.getSendQueueCount() >= this.maxSendQueue ? 'send-queue-full' : undefined;
    if (reason !== undefined) {
      this.stats.dropped[reason]++;
      return false;
    }
    this.stats.framesOut++;
    this.stats.bytesOut += frame.length;
    this.socket.send(frame, this.peer.port, this.peer.host, (error) => {
      if (error) this.stats.sendErrors++;
    });
    return true;
  }

  /** The handler for every inbound frame (one handler; a later call replaces it). */
  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandler = handler;
  }

  /** Closes the socket; later sends are dropped (counted). Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (rinfo.port !== this.peer.port || rinfo.address !== this.peer.host) {
      this.stats.dropped.foreign++;
      return;
    }
    if (msg.length < ETHERNET_HEADER_BYTES) {
      this.stats.dropped.runt++;
      return;
    }
    this.stats.framesIn++;
    this.stats.bytesIn += msg.length;
    this.frameHandler?.(new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
  }
}
