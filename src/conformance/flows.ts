/**
 * The connections of a script run as the runner tracks them, for either target: the target's
 * ISN per port pair (learnt from the SYNs it sends), the TS clock mapping, and which ports a
 * packet line without written ports means.
 *
 * Ports, when a packet line does not write them (`< 40001>8080 S ...` does): towards a
 * listener, each passive connection gets its own remote port, as packetdrill's does: the
 * first SYN after a listen() starts a new connection from the next port (`--remote_port`,
 * default 44444, then 44445, ...), and the lines after it stay on that connection; towards
 * connect(), the script plays `--connect_port` (8080) facing the target's ephemeral port.
 */
import type { TcpSegment } from '../wire/tcp.js';
import { TCP_ACK, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import type { Ipv4Addr } from '../wire/addr.js';
import type { PacketEvent } from './script.js';
import type { RunSettings } from './settings.js';
import { buildIcmpInbound } from './icmp-line.js';
import { buildInbound, tsShiftOf, type Sent } from './segments.js';

export class Flows {
  /** The target's ISN per `localPort:remotePort`, learnt from the SYNs it sends. */
  private readonly ourIsn = new Map<string, number>();
  /**
   * Per `localPort:remotePort`, the target's TS clock minus the script's, learnt (as
   * packetdrill's ts_val_mapping) from the first outbound packet whose TS val the script
   * writes: inbound TS ecr values are shifted by it, so that they echo the target's clock.
   */
  private readonly tsMapping = new Map<string, number>();
  /**
   * Port pairs on which the script just sent a SYN without ACK: a new connection attempt.
   * Until the target answers, its ISN there is unknown: a SYN-ACK teaches the new one, a RST
   * (no connection took the SYN) is numbered from 0, anything else keeps the old one.
   */
  private readonly newAttempt = new Set<string>();
  private defaultFlow: { local: number; remote: number };
  /** A listen() ran and no unported SYN has come since: the next one opens a new passive connection. */
  private listening = false;
  private passiveConnections = 0;
  private ipId = 1;

  constructor(private readonly settings: RunSettings) {
    this.defaultFlow = { local: settings.bindPort, remote: settings.remotePort };
  }

  /** connect(): the script answers from `remote` to the target's `local` port. */
  connected(local: number, remote: number): void {
    this.defaultFlow = { local, remote };
    this.listening = false;
  }

  /** listen() on `port`: the next SYN without written ports starts a new passive connection. */
  listened(port: number): void {
    this.defaultFlow = { local: port, remote: this.defaultFlow.remote };
    this.listening = true;
  }

  /** A packet the target sent, with the ISN of its connection. */
  sent(timeUs: number, src: Ipv4Addr, dst: Ipv4Addr, seg: TcpSegment): Sent {
    const key = `${seg.srcPort}:${seg.dstPort}`;
    if (seg.flags & TCP_SYN) this.ourIsn.set(key, seg.seq);
    // An active open's SYN names the flow (packetdrill learns it the same way), even while connect() blocks.
    if ((seg.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) this.connected(seg.srcPort, seg.dstPort);
    let ourIsn = this.ourIsn.get(key) ?? 0;
    if (this.newAttempt.delete(key) && (seg.flags & (TCP_SYN | TCP_RST)) === TCP_RST) ourIsn = 0;
    return { timeUs, src, dst, seg, ourIsn };
  }

  /** The ports of inbound line `e` (src is the script's). */
  inboundPorts(e: PacketEvent): { src: number; dst: number } {
    if (e.ports !== undefined) return e.ports;
    if (this.listening && (e.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
      this.listening = false;
      this.defaultFlow = { local: this.defaultFlow.local, remote: (this.settings.remotePort + this.passiveConnections++ - 1) % 65535 + 1 };
    }
    return { src: this.defaultFlow.remote, dst: this.defaultFlow.local };
  }

  /** The bytes of inbound line `e` on `ports`. */
  inbound(e: PacketEvent, ports: { src: number; dst: number }): Uint8Array {
    const key = `${ports.dst}:${ports.src}`;
    if (e.icmp !== undefined) {
      const addrs = { local: this.settings.localAddress, remote: this.settings.remoteAddress };
      return buildIcmpInbound(e.icmp, addrs, ports, this.ourIsn.get(key) ?? 0, this.ipId++);
    }
    const bytes = buildInbound(e, this.settings, ports, this.ourIsn.get(key) ?? 0, this.tsMapping.get(key), this.ipId++);
    if ((e.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) this.newAttempt.add(key);
    return bytes;
  }

  /**
   * With `--tcp_ts_tick_usecs`, packetdrill's check of an outbound TS val: counted from the
   * connection's first one the script writes (the mapping), it may differ from the
   * script's by no more ticks than the tolerance covers (RFC 7323 §5.4: the clock ticks
   * between 1 ms and 1 s; the script says which).
   */
  tsValProblem(e: PacketEvent, seg: TcpSegment): string | undefined {
    const tick = this.settings.tsTickUs;
    if (tick === 0) return undefined;
    const shift = this.tsMapping.get(`${seg.srcPort}:${seg.dstPort}`);
    const want = e.options === 'any' ? undefined : e.options.find((o) => o.kind === 'ts');
    const got = seg.options.find((o) => o.kind === 'ts');
    if (shift === undefined || want?.kind !== 'ts' || got?.kind !== 'ts') return undefined;
    const ticks = Math.abs(((got.val - shift - want.val) << 0));
    if (ticks * tick <= this.settings.toleranceUs) return undefined;
    return `TS val ${(got.val - shift) >>> 0} in script terms, ${ticks} ticks of ${tick} us from ${want.val}`;
  }

  /** After outbound line `e` matched `seg`: learn the TS mapping of its connection once. */
  matched(e: PacketEvent, seg: TcpSegment): void {
    const key = `${seg.srcPort}:${seg.dstPort}`;
    if (this.tsMapping.has(key)) return;
    const shift = tsShiftOf(e, seg);
    if (shift !== undefined) this.tsMapping.set(key, shift);
  }
}
