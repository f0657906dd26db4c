/**
 * The byte framing of an RSM snapshot (Rsm.snapshot / Rsm.restore), apart from what the
 * parts hold:
 *   "FRSM" u8 version, 3 reserved, then for each part u32 length and its bytes,
 *   then u32 CRC-32 of all before it.
 * The RSM writes three parts (meta JSON, app JSON, stack snapshot).
 */
import { crc32 } from '../wire/crc32.js';

/** Thrown on misuse (entries out of order, time going back, a corrupt snapshot). */
export class RsmError extends Error {
  constructor(message: string) {
    super(`RSM: ${message}`);
    this.name = 'RsmError';
  }
}

const SNAPSHOT_MAGIC = [0x46, 0x52, 0x53, 0x4d]; // "FRSM"
export const RSM_SNAPSHOT_VERSION = 1;

/** Frame the parts as one checksummed snapshot. */
export function frameRsmSnapshot(parts: readonly Uint8Array[]): Uint8Array {
  const total = 8 + parts.reduce((n, p) => n + 4 + p.length, 0) + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(SNAPSHOT_MAGIC, 0);
  out[4] = RSM_SNAPSHOT_VERSION;
  let pos = 8;
  for (const part of parts) {
    view.setUint32(pos, part.length);
    out.set(part, pos + 4);
    pos += 4 + part.length;
  }
  view.setUint32(pos, crc32(out, 0, pos));
  return out;
}

/** The `count` parts of a framed snapshot (views into `bytes`). Throws RsmError on corrupt bytes. */
export function unframeRsmSnapshot(bytes: Uint8Array, count: number): Uint8Array[] {
  if (bytes.length < 8 + 4 * count + 4) throw new RsmError('snapshot truncated');
  for (let i = 0; i < 4; i++) if (bytes[i] !== SNAPSHOT_MAGIC[i]) throw new RsmError('not an RSM snapshot (bad magic)');
  if (bytes[4] !== RSM_SNAPSHOT_VERSION) throw new RsmError(`snapshot version ${bytes[4]} is not ${RSM_SNAPSHOT_VERSION}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (crc32(bytes, 0, bytes.length - 4) !== view.getUint32(bytes.length - 4)) throw new RsmError('snapshot CRC mismatch');
  const parts: Uint8Array[] = [];
  let pos = 8;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > bytes.length - 4) throw new RsmError('snapshot truncated');
    const n = view.getUint32(pos);
    if (pos + 4 + n > bytes.length - 4) throw new RsmError('snapshot part overruns the buffer');
    parts.push(bytes.subarray(pos + 4, pos + 4 + n));
    pos += 4 + n;
  }
  if (pos !== bytes.length - 4) throw new RsmError('snapshot has trailing bytes');
  return parts;
}
