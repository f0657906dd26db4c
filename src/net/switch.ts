/**
 * The loopback network's switch (DESIGN.md, "Network"): one UDP socket; hosts register
 * their virtual addresses with control datagrams (switch-control.ts), and every IPv4
 * packet is forwarded, unchanged, to the host that holds its destination address.
 *
 * Address ownership (the ARP table):
 * - A claim with epoch >= 1 is fenced: the highest epoch holds the address, a tie keeps
 *   the first holder. This is how the service address moves to a replica that went live
 *   (the gratuitous ARP), and how an old primary loses it for good.
 * - A claim with epoch 0 (clients) is not fenced: the latest registration wins, so a
 *   restarted client gets its address back from a new port.
 * - The loser of a claim, and a holder that an address moves away from, are told with a
 *   `superseded` datagram carrying the winning epoch.
 *
 * A packet is forwarded only if its source address is held by the host it came from.
 * From a host whose claim on that address is older than the holder's: dropped as
 * `stale-epoch` (the fencing of an old primary); from any other non-holder: `not-owner`.
 * Everything the switch does not forward is counted by reason, never thrown.
 *
 * The capture is the client-side view: every packet forwarded to or from an address
 * other than the service address, timestamped with the wall clock, in a pcapng file
 * written block by block (capture-file.ts), with a packet comment when the service
 * address moves.
 *
 * With a cluster key (switch-auth.ts), a `register` must carry a MAC under the
 * key, the nonce this switch gave its endpoint and a counter above the last one taken
 * from there; anything else is dropped as `bad-auth` (by reason in `badAuth`), one line
 * per reason (the first, then every 100th), and never touches the table. Its answers
 * carry a MAC too. Without a key it takes the unauthenticated format as before, and
 * refuses the authenticated one (the host has a key the switch lacks).
 *
 * With `captureDropped` (`ftcp chaos`), the datagrams it refuses as `stale-epoch`
 * or `not-owner` go to a second interface of the same capture, each with a comment naming
 * the UDP endpoint it came from: the network's own record of what a fenced replica tried
 * to send, independent of the replica's captures.
 */
import * as dgram from 'node:dgram';
import { formatIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { PcapngWriter } from '../pcap/pcapng.js';
import { CaptureFile } from '../pcap/capture-file.js';
import { teeSinks, type LiveCapture } from '../pcap/live-sink.js';
import { formatEndpoint, type Endpoint } from './endpoint.js';
import type { ClusterKey } from './cluster-key.js';
import { AUTH_CONTROL_BYTES, CONTROL_AUTH_REFUSALS, ControlAuthSwitch, isAuthControl, type ControlAuthRefusal } from './switch-auth.js';
import { decodeControl, encodeControl, isControl, type SwitchControl } from './switch-control.js';
import { acceptDatagram, bindUdpSocket, checkMtu, DEFAULT_MAX_SEND_QUEUE, DEFAULT_SOCKET_BUFFER_BYTES, MAX_MTU } from './udp-link.js';

export const DEFAULT_SERVICE_ADDRESS = '192.0.2.10';
/** Most addresses the switch keeps; registrations beyond are dropped (counted). */
export const DEFAULT_MAX_HOSTS = 4096;

export type SwitchDropReason =
  | 'malformed'
  | 'oversize'
  | 'bad-control'
  | 'bad-auth'
  | 'unregistered-source'
  | 'stale-epoch'
  | 'not-owner'
  | 'no-route'
  | 'table-full'
  | 'send-queue-full'
  | 'send-error';

export interface SwitchStats {
  datagramsIn: number;
  bytesIn: number;
  forwarded: number;
  bytesForwarded: number;
  controlIn: number;
  registrations: number;
  refreshes: number;
  /** Claims that lost (older or tied epoch). */
  refused: number;
  /** Addresses that changed holder. */
  moves: number;
  captured: number;
  /** Challenges sent (a keyed host's first register, or a nonce this switch did not give). */
  challenges: number;
  dropped: Record<SwitchDropReason, number>;
  /** The `bad-auth` drops by reason. */
  badAuth: Record<ControlAuthRefusal, number>;
  /** Malformed datagrams by parseIpv4 reason. */
  malformed: Record<string, number>;
}

export type SwitchEvent =
  | { type: 'registered'; address: Ipv4Addr; epoch: number; host: Endpoint }
  | { type: 'moved'; address: Ipv4Addr; epoch: number; from: Endpoint; fromEpoch: number; to: Endpoint }
  | { type: 'refused'; address: Ipv4Addr; epoch: number; host: Endpoint; holderEpoch: number }
  /** A control datagram failed the cluster-key check: the first of each reason, then every 100th. */
  | { type: 'auth-refused'; reason: ControlAuthRefusal; host: Endpoint; count: number }
  /** The capture could not be written (disk full...): it stopped; forwarding goes on. */
  | { type: 'capture-failed'; message: string };

export interface SwitchOptions {
  listen: Endpoint;
  /** The replicated service's address; default 192.0.2.10. */
  service?: Ipv4Addr;
  /** pcapng file of the client-side view; none when undefined. */
  capturePath?: string;
  /** also stream the capture live (a FIFO, a file, or stdout) as it is written */
  live?: LiveCapture;
  /** Largest datagram forwarded; default 65507 (the largest UDP payload). */
  mtu?: number;
  maxHosts?: number;
  socketBufferBytes?: number;
  maxSendQueue?: number;
  /** Capture timestamps, µs since the Unix epoch; default the wall clock. */
  clockUs?: () => number;
  /** The flag named in a listen error. */
  listenFlag?: string;
  // ---- static entries (the TUN bridge) ----
  /**
   * Addresses pinned to a UDP endpoint from the start, for a host that cannot speak the
   * control datagrams (socat bridging a TUN device: src/lab/netns.ts). A pinned address
   * is held with epoch 0 and never moves: other hosts' claims on it are refused. The
   * service address cannot be pinned (its epoch fencing stays as it is).
   */
  staticHosts?: ReadonlyArray<{ address: Ipv4Addr; host: Endpoint }>;
  /** also capture the datagrams refused as stale-epoch or not-owner (a second interface). */
  captureDropped?: boolean;
  /** registrations must be authenticated with this key (switch-auth.ts). */
  clusterKey?: ClusterKey | undefined;
}

interface Holder {
  host: Endpoint;
  key: string;
  epoch: number;
  /** A static entry (SwitchOptions.staticHosts): never moves. */
  pinned?: boolean;
}

const endpointKey = (host: string, port: number) => `${host}:${port}`;

function wallClockUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export class UdpSwitch {
  readonly local: Endpoint;
  readonly service: Ipv4Addr;
  readonly stats: SwitchStats = {
    datagramsIn: 0,
    bytesIn: 0,
    forwarded: 0,
    bytesForwarded: 0,
    controlIn: 0,
    registrations: 0,
    refreshes: 0,
    refused: 0,
    moves: 0,
    captured: 0,
    challenges: 0,
    dropped: {
      malformed: 0,
      oversize: 0,
      'bad-control': 0,
      'bad-auth': 0,
      'unregistered-source': 0,
      'stale-epoch': 0,
      'not-owner': 0,
      'no-route': 0,
      'table-full': 0,
      'send-queue-full': 0,
      'send-error': 0,
    },
    malformed: {},
    badAuth: Object.fromEntries(CONTROL_AUTH_REFUSALS.map((r) => [r, 0])) as Record<ControlAuthRefusal, number>,
  };
  readonly capturePath: string | undefined;
  /** The live stream of the capture, when asked for. */
  readonly live: LiveCapture | undefined;
  /** Set when writing the capture failed (it stopped there). */
  captureError: string | undefined;
  private readonly table = new Map<Ipv4Addr, Holder>();
  /** Per host endpoint, the epoch of its latest claim on each address (won or lost). */
  private readonly claims = new Map<string, Map<Ipv4Addr, number>>();
  private eventHandler: ((e: SwitchEvent) => void) | undefined;
  private capture: { writer: PcapngWriter; file: CaptureFile | undefined; iface: number; droppedIface?: number } | undefined;
  private pendingComment: string | undefined;
  private closed = false;
  private readonly mtu: number;
  private readonly maxHosts: number;
  private readonly maxSendQueue: number;
  private readonly clockUs: () => number;
  private readonly auth: ControlAuthSwitch | undefined;

  private constructor(
    private readonly socket: dgram.Socket,
    opts: SwitchOptions,
    capture: UdpSwitch['capture'],
  ) {
    const a = socket.address();
    this.local = { host: a.address, port: a.port };
    this.service = opts.service ?? 0xc000020a;
    this.capturePath = opts.capturePath;
    this.live = opts.live;
    this.capture = capture;
    this.mtu = opts.mtu ?? MAX_MTU;
    this.maxHosts = opts.maxHosts ?? DEFAULT_MAX_HOSTS;
    this.maxSendQueue = opts.maxSendQueue ?? DEFAULT_MAX_SEND_QUEUE;
    this.clockUs = opts.clockUs ?? wallClockUs;
    this.auth = opts.clusterKey === undefined ? undefined : new ControlAuthSwitch(opts.clusterKey, 4 * this.maxHosts);
    // Static entries: pinned before the first datagram.
    for (const s of opts.staticHosts ?? []) {
      this.table.set(s.address, { host: { ...s.host }, key: endpointKey(s.host.host, s.host.port), epoch: 0, pinned: true });
    }
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    socket.on('error', () => void this.stats.dropped['send-error']++);
  }

  /**
   * Binds the socket and opens the capture. Rejects with a LinkError (one line, what to
   * do) when the address cannot be bound; a capture file that cannot be created throws
   * its fs error.
   */
  static async start(opts: SwitchOptions): Promise<UdpSwitch> {
    if (opts.mtu !== undefined) checkMtu(opts.mtu);
    for (const s of opts.staticHosts ?? []) {
      if (s.address === (opts.service ?? 0xc000020a)) throw new RangeError(`the service address ${formatIpv4Addr(s.address)} cannot be a static entry`);
    }
    const socket = await bindUdpSocket(opts.listen, opts.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER_BYTES, opts.listenFlag ?? '--listen');
    let capture: UdpSwitch['capture'];
    if (opts.capturePath !== undefined || opts.live !== undefined) {
      let file: CaptureFile | undefined;
      try {
        file = opts.capturePath === undefined ? undefined : new CaptureFile(opts.capturePath);
        const sinks = [file?.sink, opts.live?.sink].filter((sink) => sink !== undefined);
        const writer = new PcapngWriter(teeSinks(...sinks), { application: 'ftcp switch' });
        const iface = writer.addInterface('switch', { description: 'client-side view: packets the switch forwarded to or from client addresses' });
        capture = { writer, file, iface };
        // refused datagrams, each commented with the endpoint it came from.
        if (opts.captureDropped === true) capture.droppedIface = writer.addInterface('switch-dropped', { description: 'datagrams the switch refused: from a host whose claim on the source address is older (stale-epoch) or that does not hold it (not-owner)' });
      } catch (error) {
        file?.close();
        socket.close();
        throw error;
      }
    }
    return new UdpSwitch(socket, opts, capture);
  }

  onEvent(handler: (e: SwitchEvent) => void): void {
    this.eventHandler = handler;
  }

  /** Who holds `address`, and with which epoch. */
  holder(address: Ipv4Addr): { host: Endpoint; epoch: number } | undefined {
    const h = this.table.get(address);
    return h === undefined ? undefined : { host: { ...h.host }, epoch: h.epoch };
  }

  /** True when registrations must be authenticated. */
  get authenticated(): boolean {
    return this.auth !== undefined;
  }

  get hosts(): number {
    return this.table.size;
  }

  /** Closes the socket and the capture. Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.capture?.file?.close();
    await this.live?.close();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  // ---- datagrams ----------------------------------------------------------------------

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    this.stats.datagramsIn++;
    this.stats.bytesIn += msg.length;
    const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
    if (isControl(bytes)) {
      this.onControl(bytes, { host: rinfo.address, port: rinfo.port });
      return;
    }
    const header = acceptDatagram(bytes, this.mtu, this.stats);
    if (header === undefined) return;
    const { src, dst } = header;
    const key = endpointKey(rinfo.address, rinfo.port);
    const source = this.table.get(src);
    if (source === undefined) {
      this.stats.dropped['unregistered-source']++;
      return;
    }
    if (source.key !== key) {
      const claimed = this.claims.get(key)?.get(src);
      const reason = claimed !== undefined && claimed < source.epoch ? 'stale-epoch' : 'not-owner';
      this.stats.dropped[reason]++;
      if (this.capture?.droppedIface !== undefined) this.record(bytes, this.capture.droppedIface, `dropped (${reason}) from ${key}`);
      return;
    }
    const target = this.table.get(dst);
    if (target === undefined) {
      this.stats.dropped['no-route']++;
      return;
    }
    if (this.socket.getSendQueueCount() >= this.maxSendQueue) {
      this.stats.dropped['send-queue-full']++;
      return;
    }
    this.socket.send(bytes, target.host.port, target.host.host, (error) => {
      if (error) this.stats.dropped['send-error']++;
    });
    this.stats.forwarded++;
    this.stats.bytesForwarded += bytes.length;
    if (this.capture !== undefined && (src !== this.service || dst !== this.service)) this.record(bytes);
  }

  private onControl(bytes: Uint8Array, host: Endpoint): void {
    if (isAuthControl(bytes)) {
      if (this.auth === undefined) {
        if (bytes.length === AUTH_CONTROL_BYTES) this.refuseAuth('unexpected-mac', host);
        else this.stats.dropped['bad-control']++;
        return;
      }
      const v = this.auth.check(bytes, endpointKey(host.host, host.port));
      if (v.ok === true) {
        this.stats.controlIn++;
        this.register(v.m, host, v.counter);
        return;
      }
      if (v.ok === false && v.reason === 'malformed') {
        this.stats.dropped['bad-control']++;
        return;
      }
      if (v.challenge !== undefined) {
        this.stats.challenges++;
        this.send(host, v.challenge);
      }
      if (v.ok === false) this.refuseAuth(v.reason, host);
      else this.stats.controlIn++;
      return;
    }
    const m = decodeControl(bytes);
    if (m === undefined || m.type !== 'register') {
      this.stats.dropped['bad-control']++;
      return;
    }
    if (this.auth !== undefined) {
      // A keyless host: tell it the switch has a key (a challenge it cannot use); change nothing.
      this.send(host, this.auth.keylessAnswer(m.address, m.epoch));
      this.refuseAuth('no-mac', host);
      return;
    }
    this.stats.controlIn++;
    this.register(m, host, 0);
  }

  private refuseAuth(reason: ControlAuthRefusal, host: Endpoint): void {
    this.stats.dropped['bad-auth']++;
    const count = ++this.stats.badAuth[reason];
    if (count === 1 || count % 100 === 0) this.eventHandler?.({ type: 'auth-refused', reason, host, count });
  }

  private record(bytes: Uint8Array, iface?: number, droppedComment?: string): void {
    const capture = this.capture!;
    const comment = droppedComment ?? this.pendingComment;
    if (droppedComment === undefined) this.pendingComment = undefined;
    try {
      capture.writer.writePacket(iface ?? capture.iface, this.clockUs(), bytes, comment);
      this.stats.captured++;
    } catch (error) {
      // A full disk must not stop the network: stop capturing, keep forwarding, say so.
      this.capture = undefined;
      this.captureError = error instanceof Error ? error.message : String(error);
      try {
        capture.file?.close();
      } catch {
        // already reported
      }
      this.eventHandler?.({ type: 'capture-failed', message: `capture ${this.capturePath ?? ''} stopped: ${this.captureError}` });
    }
  }

  // ---- the address table ------------------------------------------------------------

  /** `counter`: the authenticated register's (echoed in the answers to its sender). */
  private register(m: SwitchControl, host: Endpoint, counter: number): void {
    const key = endpointKey(host.host, host.port);
    const { address, epoch } = m;
    const current = this.table.get(address);
    if (current === undefined && this.table.size >= this.maxHosts) {
      this.stats.dropped['table-full']++;
      return;
    }
    let mine = this.claims.get(key);
    if (mine === undefined) {
      if (this.claims.size >= 4 * this.maxHosts) {
        this.stats.dropped['table-full']++;
        return;
      }
      mine = new Map();
      this.claims.set(key, mine);
    }
    mine.set(address, epoch);

    if (current === undefined) {
      this.table.set(address, { host, key, epoch });
      this.stats.registrations++;
      this.reply(host, { type: 'registered', address, epoch }, counter);
      this.eventHandler?.({ type: 'registered', address, epoch, host });
      return;
    }
    if (current.key === key) {
      if (epoch >= current.epoch) {
        if (epoch > current.epoch) this.stats.registrations++;
        else this.stats.refreshes++;
        current.epoch = epoch;
        this.reply(host, { type: 'registered', address, epoch }, counter);
      } else {
        this.refuse(host, address, epoch, current.epoch, counter);
      }
      return;
    }
    // Another host claims the address: the higher epoch wins; epoch 0 (unfenced) goes to the latest.
    // A static entry never moves.
    const wins = current.pinned !== true && (epoch > current.epoch || (epoch === 0 && current.epoch === 0));
    if (!wins) {
      this.refuse(host, address, epoch, current.epoch, counter);
      return;
    }
    const from = current.host;
    this.table.set(address, { host, key, epoch });
    this.stats.registrations++;
    this.stats.moves++;
    this.reply(host, { type: 'registered', address, epoch }, counter);
    this.reply(from, { type: 'superseded', address, epoch }, 0);
    if (address === this.service) {
      this.pendingComment = `switch: service address ${formatIpv4Addr(address)} moved from ${formatEndpoint(from)} (epoch ${current.epoch}) to ${formatEndpoint(host)} (epoch ${epoch})`;
    }
    this.eventHandler?.({ type: 'moved', address, epoch, from, fromEpoch: current.epoch, to: host });
  }

  private refuse(host: Endpoint, address: Ipv4Addr, epoch: number, holderEpoch: number, counter: number): void {
    this.stats.refused++;
    this.reply(host, { type: 'superseded', address, epoch: holderEpoch }, counter);
    this.eventHandler?.({ type: 'refused', address, epoch, host, holderEpoch });
  }

  private reply(to: Endpoint, m: SwitchControl, counter: number): void {
    this.send(to, this.auth === undefined ? encodeControl(m) : this.auth.answer(m, endpointKey(to.host, to.port), counter));
  }

  private send(to: Endpoint, bytes: Uint8Array): void {
    this.socket.send(bytes, to.port, to.host, (error) => {
      if (error) this.stats.dropped['send-error']++;
    });
  }
}
