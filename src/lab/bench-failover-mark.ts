/**
 * What makes a failover trial's figure mean "the new primary's bytes reached the client":
 * the bench marks the client (SIGUSR1) once the new primary reports it is live, and the client reports the first byte it reads after that mark, with its
 * offset in the stream. Since the backup now suspects a dead primary within a millisecond
 * (the closed log channel), bytes the old primary sent just before it died may still be on
 * their way at the mark. So each trial is checked against the old primary's own capture
 * (written as it sends, readable after kill -9): a first byte at or beyond the end of
 * everything the old primary put on the wire can only have come from the new one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { LINKTYPE_ETHERNET } from '../pcap/pcapng.js';
import { readPcapng } from '../pcap/reader.js';
import { parseCaptureTag } from '../replica/capture-tags.js';
import { ETHERNET_HEADER_BYTES } from '../wire/ethernet.js';
import { parseTcpPacket } from '../wire/packet.js';
import { TCP_ACK, TCP_SYN } from '../wire/tcp.js';

/**
 * The end (stream offset, exclusive) of the data a replica put on the wire towards clients
 * on the server port `port`, from its wire capture: the capture holds one connection's
 * download here (the bench's one bulk connection); its SYN-ACK gives the initial sequence
 * number (RFC 9293 §3.4: the first data byte is ISN + 1). Undefined when the capture is
 * missing or holds no SYN-ACK.
 */
export function sentStreamEnd(path: string, port: number): number | undefined {
  if (!existsSync(path)) return undefined;
  const r = readPcapng(new Uint8Array(readFileSync(path)));
  const skip = r.interfaces.some((i) => i.linkType === LINKTYPE_ETHERNET) ? ETHERNET_HEADER_BYTES : 0;
  let isn: number | undefined;
  let end = 0;
  for (const p of r.packets) {
    if (parseCaptureTag(p.comments.join('; '))?.epoch === undefined) continue; // not a packet it sent
    const t = parseTcpPacket(p.data.subarray(skip), false);
    if (!t.ok || t.segment.srcPort !== port) continue;
    const s = t.segment;
    if ((s.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) {
      isn = s.seq;
      continue;
    }
    if (isn === undefined || s.payload.length === 0) continue;
    // RFC 9293 §3.4: sequence numbers are modulo 2^32.
    const offset = (s.seq - isn - 1) >>> 0;
    end = Math.max(end, offset + s.payload.length);
  }
  return isn === undefined ? undefined : end;
}
