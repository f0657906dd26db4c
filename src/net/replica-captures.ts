/**
 * A replica process's captures, written block by block (capture-file.ts) so a kill -9 leaves
 * them readable:
 *   <dir>/<name>.pcapng         client packets it received and put on the wire (and, with
 *                               --capture-live, the same blocks streamed to a viewer)
 *   <dir>/<name>-shadow.pcapng  what it generated while a backup (suppressed), opened on first use
 *   <dir>/<name>-log.pcapng     log-channel frames and arbiter messages, as UDP on virtual
 *                               addresses, each with a decoded summary as its comment
 */

import { CaptureFile } from '../pcap/capture-file.js';
import { teeSinks, type LiveCapture } from '../pcap/live-sink.js';
import { CaptureFile as PcapFile } from '../pcap/vantage.js';
import { shadowTag } from '../replica/capture-tags.js';
import { describeControlPacket } from '../replica/describe.js';
import { ARBITER_PORT, LOG_PORT } from '../replica/replay-input.js';
import { formatIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { udpPacket } from '../wire/udp.js';
import { wallClockUs } from './clock.js';

export interface ReplicaCaptureSetup {
  name: string;
  /** the replica's own virtual address (the log channel's and arbiter's packets use it) */
  address: Ipv4Addr;
  service: Ipv4Addr;
  arbiterAddress: Ipv4Addr;
  /** where client packets come from: the switch's UDP link or a TAP device */
  linkKind: 'switch' | 'tap';
  linkType: number;
  /** the RSM's configuration in words, for the log interface's description */
  rsmDescription: string;
  paths: { wire: string; shadow: string; log: string };
  live?: LiveCapture | undefined;
}

interface Open {
  file: PcapFile;
  disk: CaptureFile;
  iface: number;
}

export class ReplicaCaptures {
  private ipId = 0;
  private readonly wireCap: Open;
  private readonly logCap: Open & { arbIface: number };
  private shadowCap: Open | undefined;

  constructor(private readonly s: ReplicaCaptureSetup) {
    const open = (path: string, what: string, live?: LiveCapture) => {
      const disk = new CaptureFile(path);
      return { disk, file: new PcapFile(live === undefined ? disk.sink : teeSinks(disk.sink, live.sink), `ftcp replica ${s.name} (${what})`) };
    };
    const wire = open(s.paths.wire, 'wire view', s.live);
    this.wireCap = { ...wire, iface: wire.file.iface(`replica ${s.name} ${formatIpv4Addr(s.address)}`, `client packets replica ${s.name} received from the ${s.linkKind === 'tap' ? 'TAP device' : 'switch'} and put on the wire (as ${formatIpv4Addr(s.service)})`, s.linkType) };
    const log = open(s.paths.log, 'log channel');
    const logIface = log.file.iface('log channel', `frames replica ${s.name} sent and received on the log channel (UDP ${LOG_PORT}), with a decoded summary as the comment; ${s.rsmDescription}`);
    const arbIface = log.file.iface('arbiter', `test-and-set requests and answers of replica ${s.name} (UDP ${ARBITER_PORT})`);
    this.logCap = { ...log, iface: logIface, arbIface };
  }

  close(): void {
    this.wireCap.disk.close();
    this.logCap.disk.close();
    this.shadowCap?.disk.close();
  }

  wire(packet: Uint8Array, comment: string): void {
    this.wireCap.file.write(this.wireCap.iface, wallClockUs(), packet, comment);
  }

  /** A packet generated while a backup (suppressed); the shadow file opens on first use. */
  shadow(index: number, packet: Uint8Array): void {
    if (this.shadowCap === undefined) {
      const disk = new CaptureFile(this.s.paths.shadow);
      const file = new PcapFile(disk.sink, `ftcp replica ${this.s.name} (shadow)`);
      this.shadowCap = { disk, file, iface: file.iface(`shadow of ${this.s.name}`, `O(i) replica ${this.s.name} generated while a backup (suppressed)`, this.s.linkType) };
    }
    this.shadowCap.file.write(this.shadowCap.iface, wallClockUs(), packet, shadowTag(index));
  }

  /** A log-channel frame, sent to or received from `peer`. */
  log(frame: Uint8Array, sent: boolean, peer: Ipv4Addr): void {
    const [src, dst] = sent ? [this.s.address, peer] : [peer, this.s.address];
    const packet = udpPacket(src, dst, LOG_PORT, LOG_PORT, frame, this.ipId++);
    this.logCap.file.write(this.logCap.iface, wallClockUs(), packet, describeControlPacket(packet).summary);
  }

  /** A test-and-set request (sent) or answer. */
  arbiter(message: Uint8Array, sent: boolean): void {
    const [src, dst] = sent ? [this.s.address, this.s.arbiterAddress] : [this.s.arbiterAddress, this.s.address];
    const packet = udpPacket(src, dst, ARBITER_PORT, ARBITER_PORT, message, this.ipId++);
    this.logCap.file.write(this.logCap.arbIface, wallClockUs(), packet, describeControlPacket(packet).summary);
  }

  noteWire(text: string): void {
    this.wireCap.file.note(this.wireCap.iface, text);
  }

  /** A note in the wire view and beside the arbiter's messages. */
  noteAll(text: string): void {
    this.noteWire(text);
    this.logCap.file.note(this.logCap.arbIface, text);
  }
}
