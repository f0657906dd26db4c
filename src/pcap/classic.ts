/**
 * A reader for classic libpcap files (what `tcpdump -w` writes; the project's own captures
 * are pcapng, reader.ts): the link type, each packet's captured bytes and its timestamp
 * (microseconds since the Unix epoch; nanosecond files are rounded). A truncated last
 * record is left out.
 */
export function readPcap(bytes: Uint8Array): { linkType: number; packets: Uint8Array[]; timesUs: number[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const magic = view.getUint32(0, true);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!little && view.getUint32(0, false) !== 0xa1b2c3d4 && view.getUint32(0, false) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const nano = view.getUint32(0, little) === 0xa1b23c4d;
  const linkType = view.getUint32(20, little);
  const packets: Uint8Array[] = [];
  const timesUs: number[] = [];
  for (let off = 24; off + 16 <= bytes.length; ) {
    const caplen = view.getUint32(off + 8, little);
    if (off + 16 + caplen > bytes.length) break;
    packets.push(bytes.subarray(off + 16, off + 16 + caplen));
    const fraction = view.getUint32(off + 4, little);
    timesUs.push(view.getUint32(off, little) * 1_000_000 + (nano ? Math.round(fraction / 1000) : fraction));
    off += 16 + caplen;
  }
  return { linkType, packets, timesUs };
}
