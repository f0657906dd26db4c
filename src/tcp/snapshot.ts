/**
 * snapshot() / restore() framing. The stack's whole state is plain data (StackState in
 * stack-core.ts), serialised mechanically as JSON, with three tagged encodings:
 * Uint8Array -> {"$u8": base64}, ByteRing -> {"$ring": base64, "limit": n},
 * Map -> {"$map": [[key, value], ...]} in iteration order (which restore preserves).
 *
 * Framed by snapshot-frame.ts (magic "FTCPSNAP", SNAPSHOT_VERSION, length, CRC-32), the
 * payload UTF-8 JSON.
 * Anything wrong with the bytes is a StackError('EINVAL') that says what.
 */
import { ByteRing } from './bytering.js';
import type { StackState } from './stack-core.js';
import { frameSnapshot, snapshotCorrupt, unframeSnapshot, type SnapshotFormat } from './snapshot-frame.js';

/**
 * 2: RFC 7323 / RFC 2018 option state in the TCB.
 * 3: the sender's SACK scoreboard, loss recovery state (RFC 6582 / RFC 6675) and CUBIC state.
 * 4: RACK-TLP (RFC 8985: segments in flight, RACK and TLP variables, two timers) and PRR (RFC 6937).
 */
export const SNAPSHOT_VERSION = 4;
const FORMAT: SnapshotFormat = { magic: 'FTCPSNAP', version: SNAPSHOT_VERSION, what: 'snapshot', magicWhat: 'ftcp stack snapshot' };

function toBase64(u8: Uint8Array): string {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('base64');
}

function fromBase64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { $u8: toBase64(value) };
  if (value instanceof ByteRing) return { $ring: toBase64(value.toBytes()), limit: value.limit };
  if (value instanceof Map) return { $map: [...value.entries()] };
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`snapshot: non-finite number at '${_key}'`);
  return value;
}

/**
 * The tagged encodings back to their values, in place, children first (what a JSON.parse
 * reviver would do). A walk after a plain JSON.parse rather than a reviver: V8 calls a reviver
 * for every value of the payload and it made decoding four times slower (a joiner restoring
 * 10,000 connections spent most of its silence there).
 */
function revive(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (v !== null && typeof v === 'object') value[i] = revive(v);
    }
    return value;
  }
  const o = value as Record<string, unknown>;
  for (const k in o) {
    const v = o[k];
    if (v !== null && typeof v === 'object') o[k] = revive(v);
  }
  if (typeof o.$u8 === 'string') return fromBase64(o.$u8);
  if (typeof o.$ring === 'string' && typeof o.limit === 'number') {
    if (!(Number.isInteger(o.limit) && o.limit >= 0)) throw new Error(`$ring with limit ${o.limit}`);
    return ByteRing.from(o.limit, fromBase64(o.$ring));
  }
  if (Array.isArray(o.$map)) return new Map(o.$map as [unknown, unknown][]);
  return value;
}

export function encodeSnapshot(state: StackState): Uint8Array {
  return frameSnapshot(FORMAT, new TextEncoder().encode(JSON.stringify(state, replacer)));
}

function bad(why: string): never {
  return snapshotCorrupt(FORMAT, why);
}

export function decodeSnapshot(bytes: Uint8Array): StackState {
  const payload = unframeSnapshot(FORMAT, bytes);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (e) {
    bad(`payload is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  let state: unknown;
  try {
    state = revive(json);
  } catch (e) {
    bad(`a tagged value ($u8, $ring or $map) is malformed (${e instanceof Error ? e.message : String(e)})`);
  }
  validate(state);
  return state;
}

/** Structural checks, so a well-framed but wrong payload fails here and not later. */
function validate(s: unknown): asserts s is StackState {
  if (s === null || typeof s !== 'object') bad('payload is not an object');
  const o = s as Record<string, unknown>;
  const need = (k: string, ok: (v: unknown) => boolean): void => {
    if (!ok(o[k])) bad(`field '${k}' missing or of the wrong type`);
  };
  const isObj = (v: unknown): boolean => v !== null && typeof v === 'object';
  need('cfg', isObj);
  need('prng', isObj);
  need('isnKey', isObj);
  need('ipId', Number.isInteger);
  need('nextId', Number.isInteger);
  need('stats', isObj);
  need('listeners', (v) => v instanceof Map);
  need('conns', (v) => v instanceof Map);
  need('events', Array.isArray);
  need('transmitQueue', (v) => Array.isArray(v) && v.every((p) => p instanceof Uint8Array));
  for (const t of (o.conns as Map<unknown, unknown>).values()) {
    const c = t as Record<string, unknown>;
    if (!isObj(c) || !(c.sndBuf instanceof ByteRing) || !(c.rcvBuf instanceof ByteRing) || !Array.isArray(c.timers) || !isObj(c.ooo)) {
      bad('a connection record is malformed');
    }
  }
}
