/**
 * A reader for classic libpcap files (what `tcpdump -w` writes; the project's own captures
 * are pcapng, reader.ts): the link type and each packet's captured bytes. A truncated last
 * record is left out.
 */
export function readPcap(bytes: Uint8Array): { linkType: number; packets: Uint8Array[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const magic = view.getUint32(0, true);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!little && view.getUint32(0, false) !== 0xa1b2c3d4 && view.getUint32(0, false) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const linkType = view.getUint32(20, little);
  const packets: Uint8Array[] = [];
  for (let off = 24; off + 16 <= bytes.length; ) {
    const caplen = view.getUint32(off + 8, little);
    if (off + 16 + caplen > bytes.length) break;
    packets.push(bytes.subarray(off + 16, off + 16 + caplen));
    off += 16 + caplen;
  }
  return { linkType, packets };
}
