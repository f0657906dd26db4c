/**
 * The bytes of the embedded arbiter's state file (arbiter-state.ts has the file's rules):
 * encoding a line, and parsing and checking a whole file, version 2 (append-only lines)
 * or version 1 (one JSON document), into its flags.
 */
import { crc32 } from '../wire/crc32.js';

export const ARBITER_STATE_FORMAT = 'ftcp-arbiter-state';
/** The version written; version 1 files are still read (and compacted into version 2). */
export const ARBITER_STATE_VERSION = 2;

export interface ArbiterFlag {
  service: string;
  epoch: number;
  winner: string;
  /** When it was granted (wall clock, ISO 8601); for people reading the file. */
  grantedAt: string;
}

export type ArbiterStateErrorCode = 'ARBITER_STATE_MISSING' | 'ARBITER_STATE_EXISTS' | 'ARBITER_STATE_CORRUPT' | 'ARBITER_STATE_IO';

export class ArbiterStateError extends Error {
  constructor(
    readonly code: ArbiterStateErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ArbiterStateError';
  }
}

export interface ParsedState {
  version: 1 | 2;
  flags: ArbiterFlag[];
  /** Bytes after the last '\n' (a write cut short by a crash; never answered), dropped. */
  tornBytes: number;
}

const utf8 = new TextEncoder();

export const flagKey = (service: string, epoch: number) => `${epoch}\u0000${service}`;

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function crcHex(value: unknown): string {
  return crc32(utf8.encode(JSON.stringify(value))).toString(16).padStart(8, '0');
}

/** The four fields in a fixed order: the CRC covers their JSON, recomputed from the parsed fields on load. */
const fields = ({ service, epoch, winner, grantedAt }: ArbiterFlag): ArbiterFlag => ({ service, epoch, winner, grantedAt });

export function encodeHeaderLine(): string {
  return `${JSON.stringify({ format: ARBITER_STATE_FORMAT, version: ARBITER_STATE_VERSION })}\n`;
}

export function encodeFlagLine(flag: ArbiterFlag): string {
  const f = fields(flag);
  return `${JSON.stringify({ ...f, crc32: crcHex(f) })}\n`;
}

/** Parses and checks a state file's text; throws ARBITER_STATE_CORRUPT saying what is wrong. */
export function parseState(filePath: string, text: string): ParsedState {
  const corrupt = (what: string) =>
    new ArbiterStateError(
      'ARBITER_STATE_CORRUPT',
      `state file ${filePath} is corrupt (${what}); refusing to start, since a reset could grant an epoch twice: restore it from a copy, or, if no replica will ever ask about its epochs again, move it away and start with --init`,
    );
  const end = text.lastIndexOf('\n');
  const firstLine = end < 0 ? text : text.slice(0, text.indexOf('\n'));
  // Version 1: one JSON document over several lines, its first line an opening brace alone.
  if (firstLine.trim() === '{' || (end < 0 && text.trim().startsWith('{') && text.includes('"flags"'))) return { version: 1, flags: parseVersion1(text, corrupt), tornBytes: 0 };
  if (end < 0) throw corrupt(text.length === 0 ? 'empty' : 'no complete header line');
  const lines = text.slice(0, end).split('\n');
  const tornBytes = Buffer.byteLength(text.slice(end + 1), 'utf8');
  const header = parseObject(lines[0]!, 'line 1', corrupt);
  if (header['format'] !== ARBITER_STATE_FORMAT) throw corrupt(`line 1: "format" is not "${ARBITER_STATE_FORMAT}"`);
  if (header['version'] !== 2) throw corrupt(`line 1: "version" ${JSON.stringify(header['version'])} is not 2`);
  const seen = new Set<string>();
  const flags: ArbiterFlag[] = [];
  for (let i = 1; i < lines.length; i++) {
    const at = `line ${i + 1}`;
    const o = parseObject(lines[i]!, at, corrupt);
    const f = checkFlag(o, at, corrupt);
    if (o['crc32'] !== crcHex(f)) throw corrupt(`${at}: CRC-32 is ${JSON.stringify(o['crc32'])}, the flag gives "${crcHex(f)}"`);
    if (seen.has(flagKey(f.service, f.epoch))) throw corrupt(`epoch ${f.epoch} of ${f.service} appears twice`);
    seen.add(flagKey(f.service, f.epoch));
    flags.push(f);
  }
  return { version: 2, flags, tornBytes };
}

type Corrupt = (what: string) => ArbiterStateError;

function parseObject(text: string, at: string, corrupt: Corrupt): Record<string, unknown> {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (error) {
    throw corrupt(`${at}: not JSON: ${errorText(error)}`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw corrupt(`${at}: not a JSON object`);
  return o as Record<string, unknown>;
}

function checkFlag(f: Record<string, unknown>, at: string, corrupt: Corrupt): ArbiterFlag {
  const { service, epoch, winner, grantedAt } = f;
  if (typeof service !== 'string' || service.length === 0) throw corrupt(`${at}: service is not a non-empty string`);
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0 || epoch > 0xffff_ffff) throw corrupt(`${at}: epoch is not a u32`);
  if (typeof winner !== 'string' || winner.length === 0) throw corrupt(`${at}: winner is not a non-empty string`);
  if (typeof grantedAt !== 'string') throw corrupt(`${at}: grantedAt is not a string`);
  return { service, epoch, winner, grantedAt };
}

/** Version 1: { format, version: 1, flags: [...], crc32: CRC-32 of JSON.stringify(flags) }, written whole (never torn). */
function parseVersion1(text: string, corrupt: Corrupt): ArbiterFlag[] {
  const d = parseObject(text, 'version 1 document', corrupt);
  if (d['format'] !== ARBITER_STATE_FORMAT) throw corrupt(`"format" is not "${ARBITER_STATE_FORMAT}"`);
  if (d['version'] !== 1) throw corrupt(`"version" ${JSON.stringify(d['version'])} is not 1`);
  const list = d['flags'];
  if (!Array.isArray(list)) throw corrupt('"flags" is not a list');
  const seen = new Set<string>();
  const out = list.map((f: unknown, i) => {
    if (typeof f !== 'object' || f === null) throw corrupt(`flags[${i}] is not an object`);
    const flag = checkFlag(f as Record<string, unknown>, `flags[${i}]`, corrupt);
    if (seen.has(flagKey(flag.service, flag.epoch))) throw corrupt(`epoch ${flag.epoch} of ${flag.service} appears twice`);
    seen.add(flagKey(flag.service, flag.epoch));
    return flag;
  });
  if (d['crc32'] !== crcHex(out)) throw corrupt(`CRC-32 is ${JSON.stringify(d['crc32'])}, the flags give "${crcHex(out)}"`);
  return out;
}
