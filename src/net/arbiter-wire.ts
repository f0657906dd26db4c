/**
 * Frames of the embedded arbiter's TCP protocol (`ftcp arbiter`). A frame wraps one
 * arbiter message of src/replica/arbiter.ts (request or response, with its own CRC) and
 * names the service whose epochs it is about, since one arbiter may serve several pairs.
 *
 *   offset size field
 *   0      4    frame length in bytes, CRC included (u32, big-endian)
 *   4      1    frame format version (ARBITER_FRAME_VERSION)
 *   5      1    service name length n, 1..255
 *   6      n    service name, UTF-8 (by convention the service address, "192.0.2.10")
 *   6+n    ...  the arbiter message (encodeArbiter), up to the CRC
 *   end-4  4    CRC-32 of every byte before it
 *
 * A request is answered by exactly one response frame on the same connection, in the
 * order the requests came. Decoding never throws: a bad frame is a returned reason.
 */
import { decodeArbiter, encodeArbiter, type ArbiterMessage } from '../replica/arbiter.js';
import { crc32 } from '../wire/crc32.js';

export const ARBITER_FRAME_VERSION = 1;
export const ARBITER_FRAME_MIN_BYTES = 4 + 1 + 1 + 1 + 18 + 4;
/** Two 255-byte names, a 255-byte service and the headers fit well within this. */
export const ARBITER_FRAME_MAX_BYTES = 1024;

export interface ArbiterFrame {
  service: string;
  message: ArbiterMessage;
  /** The arbiter message's own bytes (what Replica.handleArbiter takes). */
  messageBytes: Uint8Array;
}

export type ArbiterFrameError = 'arbiter-frame-length' | 'arbiter-frame-version' | 'arbiter-frame-crc' | 'arbiter-frame-service' | 'arbiter-frame-message';

const utf8 = new TextEncoder();

export function encodeArbiterFrame(service: string, message: ArbiterMessage | Uint8Array): Uint8Array {
  const name = utf8.encode(service);
  if (name.length === 0 || name.length > 255) throw new RangeError('arbiter frame: the service name must be 1..255 bytes of UTF-8');
  const body = message instanceof Uint8Array ? message : encodeArbiter(message);
  const length = 6 + name.length + body.length + 4;
  if (length > ARBITER_FRAME_MAX_BYTES) throw new RangeError(`arbiter frame: ${length} bytes exceeds ${ARBITER_FRAME_MAX_BYTES}`);
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  view.setUint32(0, length);
  out[4] = ARBITER_FRAME_VERSION;
  out[5] = name.length;
  out.set(name, 6);
  out.set(body, 6 + name.length);
  view.setUint32(length - 4, crc32(out, 0, length - 4));
  return out;
}

export function decodeArbiterFrame(buf: Uint8Array): { ok: true; frame: ArbiterFrame } | { ok: false; reason: ArbiterFrameError } {
  if (buf.length < ARBITER_FRAME_MIN_BYTES || buf.length > ARBITER_FRAME_MAX_BYTES) return { ok: false, reason: 'arbiter-frame-length' };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  if (view.getUint32(0) !== buf.length) return { ok: false, reason: 'arbiter-frame-length' };
  if (buf[4] !== ARBITER_FRAME_VERSION) return { ok: false, reason: 'arbiter-frame-version' };
  if (crc32(buf, 0, buf.length - 4) !== view.getUint32(buf.length - 4)) return { ok: false, reason: 'arbiter-frame-crc' };
  const n = buf[5]!;
  if (n === 0 || 6 + n > buf.length - 4) return { ok: false, reason: 'arbiter-frame-service' };
  let service: string;
  try {
    service = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(6, 6 + n));
  } catch {
    return { ok: false, reason: 'arbiter-frame-service' };
  }
  const messageBytes = buf.slice(6 + n, buf.length - 4);
  const message = decodeArbiter(messageBytes);
  if (message === undefined) return { ok: false, reason: 'arbiter-frame-message' };
  return { ok: true, frame: { service, message, messageBytes } };
}
