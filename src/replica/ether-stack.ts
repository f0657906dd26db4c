/**
 * The replicated stack as an Ethernet host: an RsmStack whose packets are whole Ethernet II
 * frames. It puts an EtherHost (src/tcp/ether-host.ts: service MAC, ARP answers, the
 * neighbour table, gratuitous ARP) in front of the TCP stack, so that the neighbour table
 * is part of the replicated state and a backup's frames are byte-identical to the
 * primary's, Ethernet header included.
 *
 * The RSM drives it like any RsmStack: `handlePacket(now, frame)` takes a frame from the
 * TAP device, `pollTransmit()` hands out frames. EtherHost addresses a packet at the time it
 * is polled (an unresolved neighbour starts an ARP resolution whose retry deadline counts
 * from then), so this wrapper remembers the `now` of the last input or socket call: the
 * time of the log entry being applied, the same on every replica.
 *
 * `announce(now)` queues the RFC 5227 §3 announcements; the RSM calls it when it applies an
 * epoch entry, so the new primary's gratuitous ARPs are outputs of that entry, held and
 * re-emitted like any other.
 */
import { EtherHost, type EtherHostConfig, type EtherHostStats } from '../tcp/ether-host.js';
import { finish, mix } from '../tcp/state-hash.js';
import type { ConnectOptions, ListenOptions, SocketId, SocketInfo, StackConfig, StackEvent, StackStats, TcpStack } from '../tcp/types.js';
import { StackError } from '../tcp/types.js';
import { crc32 } from '../wire/crc32.js';
import { ETHERTYPE_IPV4 } from '../wire/ethernet.js';
import type { RsmStack, RsmStackFactory } from './rsm.js';

/** The Ethernet side of a replicated service: everything EtherHostConfig has but the address (the stack's). */
export type EtherLinkConfig = Omit<EtherHostConfig, 'address'>;

const ETHER_HEADER_BYTES = 14;
const SNAPSHOT_MAGIC = 0x46544553; // "FTES"
const SNAPSHOT_VERSION = 1;

/** The IPv4 packet inside an Ethernet II frame (a view), or undefined for any other frame. */
export function ipv4OfFrame(frame: Uint8Array): Uint8Array | undefined {
  if (frame.length < ETHER_HEADER_BYTES + 20) return undefined;
  if (((frame[12]! << 8) | frame[13]!) !== ETHERTYPE_IPV4) return undefined;
  return frame.subarray(ETHER_HEADER_BYTES);
}

export class EtherStack implements RsmStack {
  private nowUs: number;

  private constructor(
    readonly inner: RsmStack & Partial<Pick<TcpStack, 'connect'>>,
    readonly host: EtherHost,
    nowUs: number,
  ) {
    this.nowUs = nowUs;
  }

  static create(inner: RsmStack & Partial<Pick<TcpStack, 'connect'>>, address: number, link: EtherLinkConfig): EtherStack {
    return new EtherStack(inner, new EtherHost(inner, { ...link, address }), 0);
  }

  /** The inverse of snapshot(); the inner stack comes from `factory`. Throws on corrupt bytes. */
  static restore(bytes: Uint8Array, factory: RsmStackFactory): EtherStack {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 20 || view.getUint32(0) !== SNAPSHOT_MAGIC) throw new Error('not an Ethernet-stack snapshot');
    if (view.getUint32(4) !== SNAPSHOT_VERSION) throw new Error(`Ethernet-stack snapshot version ${view.getUint32(4)} is not ${SNAPSHOT_VERSION}`);
    const nowUs = view.getFloat64(8);
    const stackBytes = view.getUint32(16);
    if (20 + stackBytes > bytes.length) throw new Error('Ethernet-stack snapshot truncated');
    const inner = factory.restore(bytes.slice(20, 20 + stackBytes));
    const host = EtherHost.restore(inner, bytes.subarray(20 + stackBytes));
    return new EtherStack(inner, host, nowUs);
  }

  /** u32 magic, u32 version, f64 now, u32 stack length, the stack's snapshot, the host's. */
  snapshot(): Uint8Array {
    const stack = this.inner.snapshot();
    const host = this.host.snapshot();
    const out = new Uint8Array(20 + stack.length + host.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, SNAPSHOT_MAGIC);
    view.setUint32(4, SNAPSHOT_VERSION);
    view.setFloat64(8, this.nowUs);
    view.setUint32(16, stack.length);
    out.set(stack, 20);
    out.set(host, 20 + stack.length);
    return out;
  }

  /** The stack's digest mixed with a checksum of the host's whole state (small: a neighbour table). */
  stateDigest(): number {
    return finish(mix(mix(this.inner.stateDigest(), crc32(this.host.snapshot())), this.nowUs >>> 0));
  }

  /** RFC 5227 §3: announce the service address (go-live). */
  announce(nowUs: number): void {
    this.nowUs = nowUs;
    this.host.announce(nowUs);
  }

  etherStats(): EtherHostStats {
    return this.host.stats();
  }

  handlePacket(nowUs: number, frame: Uint8Array): void {
    this.nowUs = nowUs;
    this.host.handleFrame(nowUs, frame);
  }

  handleTimeout(nowUs: number): void {
    this.nowUs = nowUs;
    this.host.handleTimeout(nowUs);
  }

  pollTransmit(): Uint8Array | undefined {
    return this.host.pollTransmit(this.nowUs);
  }

  pollEvent(): StackEvent | undefined {
    return this.inner.pollEvent();
  }

  pollTimeout(): number | undefined {
    return this.host.pollTimeout();
  }

  listen(nowUs: number, options: ListenOptions): SocketId {
    this.nowUs = nowUs;
    return this.inner.listen(nowUs, options);
  }

  /** Not used by the RSM (a service only listens); for a client on the same kind of link. */
  connect(nowUs: number, options: ConnectOptions): SocketId {
    this.nowUs = nowUs;
    if (this.inner.connect === undefined) throw new StackError('EINVAL', 'this stack cannot connect');
    return this.inner.connect(nowUs, options);
  }

  accept(listener: SocketId): SocketId | undefined {
    return this.inner.accept(listener);
  }

  write(nowUs: number, socket: SocketId, bytes: Uint8Array): number {
    this.nowUs = nowUs;
    return this.inner.write(nowUs, socket, bytes);
  }

  read(nowUs: number, socket: SocketId, maxBytes?: number): Uint8Array {
    this.nowUs = nowUs;
    return this.inner.read(nowUs, socket, maxBytes);
  }

  shutdown(nowUs: number, socket: SocketId): unknown {
    this.nowUs = nowUs;
    return this.inner.shutdown(nowUs, socket);
  }

  close(nowUs: number, socket: SocketId): unknown {
    this.nowUs = nowUs;
    return this.inner.close(nowUs, socket);
  }

  abort(nowUs: number, socket: SocketId): unknown {
    this.nowUs = nowUs;
    return this.inner.abort(nowUs, socket);
  }

  retransmitUnacked(nowUs: number, skip: ReadonlySet<SocketId>): number {
    this.nowUs = nowUs;
    return this.inner.retransmitUnacked(nowUs, skip);
  }

  info(socket: SocketId): SocketInfo {
    return this.inner.info(socket);
  }

  stats(): StackStats {
    return this.inner.stats();
  }
}

/** A factory whose stacks are Ethernet hosts around the stacks of `inner`. */
export function etherStackFactory(inner: RsmStackFactory, link: EtherLinkConfig): RsmStackFactory {
  return {
    create: (config: StackConfig) => EtherStack.create(inner.create(config), config.addresses[0]!, link),
    restore: (snapshot: Uint8Array) => EtherStack.restore(snapshot, inner),
  };
}
