/**
 * `ftcp report` on a soak's run directory: its soak.json (the SoakResult `ftcp soak` writes
 * at its end), read and checked field by field so that a cut or foreign file is one clear
 * line. The soak's captures are not read: an hour of them is gigabytes, and the page needs
 * only the result.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SoakResult } from '../soak.js';
import { listRunFolder, ReportInputError } from './load.js';

export const SOAK_RESULT_FILE = 'soak.json';

/** Whether `dir` is a soak's run directory (it holds soak.json); throws ReportInputError when it is no directory. */
export function isSoakFolder(dir: string): boolean {
  return listRunFolder(dir).includes(SOAK_RESULT_FILE);
}

/** A SoakResult as the page reads it: results of older builds have no `uploads`. */
export type SoakRecord = Omit<SoakResult, 'uploads'> & { uploads?: SoakResult['uploads'] };

/** What a field must be: a type (`?` also null), an array of one shape, an object's fields, or a map of names to numbers. */
type Shape = 'number' | 'number?' | 'boolean' | 'boolean?' | 'string' | 'map of numbers' | readonly [Shape] | { readonly [field: string]: Shape };

const FAULT: Shape = { n: 'number', fault: 'string', atS: 'number', primary: 'string', backup: 'string', restoredAfterMs: 'number?' };
const SAMPLE: Shape = { atS: 'number', pairKiB: 'number', byReplica: 'map of numbers' };
const VERDICT: Shape = { windowS: 'number', warmUpS: 'number', firstKiB: 'number?', lastKiB: 'number?', flat: 'boolean?' };
const UPLOADS: Shape = { checked: 'number', broken: 'number', unchecked: 'number' };
const RESULT: Shape = {
  ok: 'boolean',
  interrupted: 'boolean',
  seed: 'number',
  durationS: 'number',
  faults: [FAULT],
  faultsSurvived: 'number',
  loadRounds: 'number',
  streams: { intact: 'number', broken: 'number' },
  resets: 'number',
  falseFailovers: 'number',
  problems: ['string'],
  rss: { samples: [SAMPLE], verdict: VERDICT },
};

const isNumber = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first place where `v` is not `shape`, as "path is not what", or undefined when it all fits. */
function mismatch(v: unknown, shape: Shape, path: string): string | undefined {
  if (typeof shape === 'string') {
    const ok =
      shape === 'number' ? isNumber(v)
      : shape === 'number?' ? v === null || isNumber(v)
      : shape === 'boolean' ? typeof v === 'boolean'
      : shape === 'boolean?' ? v === null || typeof v === 'boolean'
      : shape === 'string' ? typeof v === 'string'
      : isObject(v) && Object.values(v).every(isNumber);
    return ok ? undefined : `${path} is ${v === undefined ? 'missing' : `not ${shape.endsWith('?') ? `a ${shape.slice(0, -1)} or null` : `a ${shape}`}`}`;
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(v)) return `${path} is ${v === undefined ? 'missing' : 'not a list'}`;
    for (let i = 0; i < v.length; i++) {
      const m = mismatch(v[i], shape[0] as Shape, `${path}[${i}]`);
      if (m !== undefined) return m;
    }
    return undefined;
  }
  if (!isObject(v)) return `${path} is ${v === undefined ? 'missing' : 'not an object'}`;
  for (const [field, s] of Object.entries(shape as Record<string, Shape>)) {
    const m = mismatch(v[field], s, path === '' ? field : `${path}.${field}`);
    if (m !== undefined) return m;
  }
  return undefined;
}

/** Reads `dir`/soak.json; throws ReportInputError with one line when it is not a soak result. */
export function loadSoakResult(dir: string): SoakRecord {
  const path = join(dir, SOAK_RESULT_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const why = error instanceof SyntaxError ? `not valid JSON (${error.message})` : error instanceof Error ? error.message : String(error);
    throw new ReportInputError(`${path} is not a soak result: ${why}`);
  }
  if (!isObject(parsed)) throw new ReportInputError(`${path} is not a soak result: not a JSON object`);
  const wrong = mismatch(parsed, RESULT, '') ?? (parsed['uploads'] === undefined ? undefined : mismatch(parsed['uploads'], UPLOADS, 'uploads'));
  if (wrong !== undefined) throw new ReportInputError(`${path} is not a soak result: ${wrong}`);
  return parsed as unknown as SoakRecord;
}
