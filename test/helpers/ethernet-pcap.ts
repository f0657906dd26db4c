// Ethernet captures for tshark checks: a pcapng section with one interface of link type
// LINKTYPE_ETHERNET (1), written with the block encoders of src/pcap/pcapng.ts (its writer
// always declares raw IPv4, 101).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEnhancedPacket, encodeInterfaceDescription, encodeSectionHeader } from '../../src/pcap/pcapng.js';

/** LINKTYPE_ETHERNET: IEEE 802.3 / Ethernet II frames without FCS. */
export const LINKTYPE_ETHERNET = 1;

/** The bytes of a pcapng file holding `frames`, one microsecond apart from `startUs`. */
export function ethernetPcapng(frames: readonly Uint8Array[], startUs = 1_000_000): Uint8Array {
  const blocks = [encodeSectionHeader('ftcp-test'), encodeInterfaceDescription('eth', LINKTYPE_ETHERNET, 0)];
  frames.forEach((f, i) => blocks.push(encodeEnhancedPacket(0, startUs + i, f, f.length)));
  return Buffer.concat(blocks);
}

/** Writes the frames to a fresh temporary .pcapng, runs `fn` on its path, removes it. */
export function withEthernetCapture<T>(frames: readonly Uint8Array[], fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'ftcp-eth-'));
  try {
    const path = join(dir, 'frames.pcapng');
    writeFileSync(path, ethernetPcapng(frames));
    return fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
