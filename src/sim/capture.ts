/**
 * Vantage-point captures: a pcapng file per host, recording what that host's TCP saw.
 *
 * What a vantage point records:
 * - egress: every packet the host put on the wire, exactly as its stack emitted it, before
 *   any fault. When the network then lost, duplicated, held back or corrupted it, the
 *   packet carries a comment saying so ("sim: lost in flight", ...).
 * - ingress: every copy the network delivered to the host, at its arrival time, except
 *   copies the network corrupted. Those are not recorded: the stack drops them on their
 *   bad checksum, so they never reached TCP, and recording them would make every capture
 *   of a corrupting run fail the "no bad checksums" check. The sender's egress comment
 *   names the flipped bit; the receiver's drop counters count them.
 *   Duplicate and held-back copies are recorded with a comment.
 *
 * Timestamps are virtual µs, so a fixed seed gives byte-identical files.
 */
import { PcapngWriter, type BlockSink } from '../pcap/pcapng.js';
import { formatIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import type { CopyFate, Network, SendFate } from './network.js';

export interface VantagePoint {
  readonly name: string;
  readonly address: Ipv4Addr;
  readonly writer: PcapngWriter;
  /** Packets written (egress + ingress). */
  packets: number;
}

/** Record `address`'s view of `network` into a pcapng written to `sink`. */
export function attachCapture(network: Network, name: string, address: Ipv4Addr, sink: BlockSink): VantagePoint {
  const writer = new PcapngWriter(sink, { application: 'ftcp simulator' });
  const interfaceId = writer.addInterface(`${name} ${formatIpv4Addr(address)}`, {
    description: `simulated host ${name}: its egress before network faults, its ingress after them (corrupted copies omitted)`,
  });
  const vantage: VantagePoint = { name, address, writer, packets: 0 };
  network.addTap({
    onSend(trace) {
      if (trace.from !== address) return;
      writer.writePacket(interfaceId, trace.timeUs, trace.bytes, sendComment(trace.fate));
      vantage.packets++;
    },
    onDeliver(trace) {
      if (trace.to !== address || trace.copy.corruptedBit !== undefined) return;
      writer.writePacket(interfaceId, trace.timeUs, trace.bytes, deliverComment(trace.copy));
      vantage.packets++;
    },
  });
  return vantage;
}

export function sendComment(fate: SendFate): string | undefined {
  switch (fate.dropped) {
    case 'lost':
      return 'sim: lost in flight';
    case 'partitioned':
      return 'sim: dropped, link down (partition)';
    case 'queue-full':
      return 'sim: dropped, link queue full';
    case 'unroutable':
      return 'sim: dropped, no host has the destination address';
    case undefined:
      break;
  }
  const notes: string[] = [];
  if (fate.copies.length > 1) notes.push('duplicated in flight');
  for (const copy of fate.copies) {
    const which = fate.copies.length > 1 ? (copy.copy === 0 ? 'original ' : 'duplicate ') : '';
    if (copy.reordered) notes.push(`${which}held back so later packets overtake it`);
    if (copy.corruptedBit !== undefined) {
      notes.push(`${which}corrupted in flight (bit ${copy.corruptedBit} flipped; the receiver drops it on its checksum)`);
    }
  }
  return notes.length === 0 ? undefined : `sim: ${notes.join('; ')}`;
}

function deliverComment(copy: CopyFate): string | undefined {
  const notes: string[] = [];
  if (copy.copy > 0) notes.push('duplicate copy made by the network');
  if (copy.reordered) notes.push('held back by the network (reordered)');
  return notes.length === 0 ? undefined : `sim: ${notes.join('; ')}`;
}
