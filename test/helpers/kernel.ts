// Kernel interop tests (issue 7): they need root, iproute2, socat, /dev/net/tun, tcpdump and
// tshark. describeKernel skips with the reason printed when something is missing, and under
// CI=true fails instead (CI installs them), like describeTshark (tshark.ts).
import { describe, it } from 'vitest';
import { kernelModeMissing } from '../../src/node/netns.js';
import { tsharkAvailable, TSHARK_INSTALL_HINT } from './tshark.js';

function inCi(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** What the kernel tests lack here ('' when nothing). */
export function kernelTestsMissing(): string {
  const missing = kernelModeMissing({ tcpdump: true });
  if (!tsharkAvailable()) missing.push(TSHARK_INSTALL_HINT);
  return missing.join('; ');
}

export function describeKernel(name: string, fn: () => void): void {
  const missing = kernelTestsMissing();
  if (missing === '') {
    describe(name, fn);
  } else if (inCi()) {
    describe(name, () => {
      it('needs root, socat, iproute2, tcpdump and tshark (CI has them)', () => {
        throw new Error(`missing: ${missing}; under CI this is a failure, not a skip`);
      });
    });
  } else {
    console.warn(`[skip] ${name}: missing ${missing}`);
    describe.skip(`${name} (skipped: missing ${missing})`, fn);
  }
}

/** The packets of a classic libpcap file (what tcpdump -w writes), data only. */
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
