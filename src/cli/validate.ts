/**
 * Flag validation with messages that name the flag, say what is expected and repeat what
 * was given: "--loss must be a probability between 0 and 1, got 1.5".
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LOAD_APPS, type LoadApp } from '../sim/cluster-load.js';
import { UsageError } from './io.js';

/** A whole number from `min` to `max`: "--connections must be an integer from 1 to 1000, got 0". */
export function parseIntegerFlag(flag: string, text: string, min: number, max: number): number {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!(Number.isSafeInteger(n) && n >= min && n <= max)) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got ${text}`);
  return n;
}

/** The app a load client drives: a built-in one, or http (an upstream HTTP server behind the replicas). */
export function parseLoadApp(flag: string, text: string): LoadApp {
  if (!(LOAD_APPS as readonly string[]).includes(text)) throw new UsageError(`${flag} must be one of ${LOAD_APPS.join(', ')}, got ${text}`);
  return text as LoadApp;
}

/** A probability in [0, 1], written as a decimal number ("0.05", "1", ".5", "5e-2"). */
export function parseProbability(flag: string, text: string): number {
  const value = strictNumber(text);
  if (value === undefined || !(value >= 0 && value <= 1)) {
    throw new UsageError(`${flag} must be a probability between 0 and 1, got ${text}`);
  }
  return value;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
};

/** A byte count: digits (underscores allowed between them) with an optional unit K, M, G (10^3..) or KiB, MiB, GiB (2^10..). */
export function parseByteCount(flag: string, text: string): number {
  const m = /^(\d(?:_?\d)*)(k|K|M|G|KiB|MiB|GiB)?$/.exec(text.trim());
  const value = m ? Number(m[1]!.replaceAll('_', '')) * SIZE_UNITS[m[2] ?? '']! : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new UsageError(`${flag} must be a whole number of bytes (e.g. 100000, 10_000_000, 10M, 4MiB), got ${text}`);
  }
  return value;
}

/** A run seed: an integer 0..4294967295 (u32), decimal or 0x-hex. */
export function parseSeed(flag: string, text: string): number {
  const t = text.trim();
  const value = /^\d+$/.test(t) ? Number(t) : /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t.slice(2), 16) : NaN;
  if (!(Number.isSafeInteger(value) && value >= 0 && value <= 0xffff_ffff)) {
    throw new UsageError(`${flag} must be an integer from 0 to 4294967295, got ${text}`);
  }
  return value;
}

/** Milliseconds, fractional allowed down to 1 µs, within [0, maxMs]. */
export function parseMilliseconds(flag: string, text: string, maxMs: number): number {
  const value = strictNumber(text);
  if (value === undefined || !(value >= 0 && value <= maxMs)) {
    throw new UsageError(`${flag} must be a number of milliseconds from 0 to ${maxMs}, got ${text}`);
  }
  if (Math.abs(value * 1000 - Math.round(value * 1000)) > 1e-6) {
    throw new UsageError(`${flag} has a resolution of 1 µs (0.001 ms), got ${text}`);
  }
  return value;
}

/** Number(text) accepts "", " ", "0x10", "Infinity": only plain decimal notation is taken here. */
function strictNumber(text: string): number | undefined {
  const t = text.trim();
  if (!/^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return undefined;
  const value = Number(t);
  return Number.isFinite(value) ? value : undefined;
}

// ---- output paths ------------------------------------------------------------------------

/** Kernel file systems: a capture written there fails or blocks (a read of /proc/... never ends). */
const KERNEL_FILE_SYSTEMS = ['/proc', '/sys', '/dev'];

/** The path's nearest part that exists (itself, or an ancestor), and its stat. */
function nearestExisting(path: string): { at: string; stat: Stats } {
  let at = resolve(path);
  for (;;) {
    try {
      return { at, stat: statSync(at) };
    } catch {
      const up = dirname(at);
      if (up === at) throw new UsageError(`cannot find any part of ${path}`);
      at = up;
    }
  }
}

function checkWritableDir(flag: string, given: string, dir: string): void {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag} ${given}: ${dir === resolve(given) ? 'the directory' : `its parent ${dir}`} is not writable (${code === 'EROFS' ? 'a read-only file system' : (code ?? 'no access')})`);
  }
}

function checkNotKernel(flag: string, given: string): void {
  const abs = resolve(given);
  const fs = KERNEL_FILE_SYSTEMS.find((k) => abs === k || abs.startsWith(`${k}/`));
  if (fs !== undefined) throw new UsageError(`${flag} ${given}: ${fs} is a kernel file system, not a place for output; give a directory on disk`);
}

/**
 * An output directory (--capture-dir): empty, in /proc, /sys or /dev, an existing file, or
 * one that cannot be made or written is refused with one line, before anything starts.
 * It is not created here.
 */
export function checkOutputDir(flag: string, dir: string): void {
  if (dir.trim() === '') throw new UsageError(`${flag} must not be empty`);
  checkNotKernel(flag, dir);
  const { at, stat } = nearestExisting(dir);
  if (!stat.isDirectory()) throw new UsageError(at === resolve(dir) ? `${flag} ${dir}: is a file, not a directory` : `${flag} ${dir}: ${at} is a file, so no directory can be made under it`);
  checkWritableDir(flag, dir, at);
}

/** An output file (--capture FILE): not a directory, not in a kernel file system, in a directory that can be written. */
export function checkOutputFile(flag: string, file: string): void {
  if (file.trim() === '') throw new UsageError(`${flag} must not be empty`);
  checkNotKernel(flag, file);
  const { at, stat } = nearestExisting(file);
  if (at === resolve(file)) {
    if (stat.isDirectory()) throw new UsageError(`${flag} ${file}: is a directory; give a file name`);
    checkWritableDir(flag, file, dirname(at));
    return;
  }
  if (!stat.isDirectory()) throw new UsageError(`${flag} ${file}: ${at} is a file, so no directory can be made under it`);
  checkWritableDir(flag, file, at);
}
