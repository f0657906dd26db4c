/**
 * The frame around a snapshot payload, shared by the snapshots of the tcp layer (the
 * stack's, snapshot.ts, and EtherHost's, ether-snapshot.ts):
 *   0  8 bytes  magic (8 ASCII characters naming the format)
 *   8  u32      format version
 *  12  u32      payload length in bytes
 *  16  u32      CRC-32 (IEEE) of the payload
 *  20  payload
 * Corrupt bytes are a StackError('EINVAL') that says what is wrong.
 */
import { StackError } from './types.js';
import { crc32 } from '../wire/crc32.js';

export const SNAPSHOT_HEADER_BYTES = 20;

export interface SnapshotFormat {
  magic: string;
  version: number;
  /** Names the format in error messages ("EtherHost snapshot"). */
  what: string;
  /** What bytes with another magic are not, in that message; default `what`. */
  magicWhat?: string;
}

export function frameSnapshot(format: SnapshotFormat, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(SNAPSHOT_HEADER_BYTES + payload.length);
  for (let i = 0; i < 8; i++) out[i] = format.magic.charCodeAt(i);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, format.version);
  dv.setUint32(12, payload.length);
  dv.setUint32(16, crc32(payload));
  out.set(payload, SNAPSHOT_HEADER_BYTES);
  return out;
}

export function snapshotCorrupt(format: SnapshotFormat, why: string): never {
  throw new StackError('EINVAL', `restore: corrupt ${format.what}: ${why}`);
}

/** The payload of a framed snapshot, after checking magic, version, length and CRC. */
export function unframeSnapshot(format: SnapshotFormat, bytes: Uint8Array): Uint8Array {
  const bad = (why: string): never => snapshotCorrupt(format, why);
  if (!(bytes instanceof Uint8Array)) bad('not a Uint8Array');
  if (bytes.length < SNAPSHOT_HEADER_BYTES) bad(`${bytes.length} bytes is shorter than the ${SNAPSHOT_HEADER_BYTES}-byte header`);
  for (let i = 0; i < 8; i++) if (bytes[i] !== format.magic.charCodeAt(i)) bad(`bad magic (not an ${format.magicWhat ?? format.what})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8);
  if (version !== format.version) bad(`format version ${version}, this build reads version ${format.version}`);
  const length = dv.getUint32(12);
  if (length !== bytes.length - SNAPSHOT_HEADER_BYTES) bad(`payload length ${length} but ${bytes.length - SNAPSHOT_HEADER_BYTES} bytes follow the header`);
  const payload = bytes.subarray(SNAPSHOT_HEADER_BYTES);
  const crc = crc32(payload);
  if (crc !== dv.getUint32(16)) bad(`CRC-32 mismatch (stored ${dv.getUint32(16).toString(16)}, computed ${crc.toString(16)})`);
  return payload;
}
