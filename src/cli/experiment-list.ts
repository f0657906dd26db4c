/** Lists in the flags of `ftcp experiment`: seeds and names. */
import { UsageError } from './io.js';
import { parseSeed } from './validate.js';

/** At most this many seeds per experiment (each seed is a few runs per mode and workload). */
export const MAX_EXPERIMENT_SEEDS = 200;

/** "1,2,5" or "1-30" or a mix: distinct seeds in the order given. */
export function parseSeedList(flag: string, text: string): number[] {
  const seeds: number[] = [];
  for (const part of text.split(',')) {
    const range = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(part);
    if (range !== null) {
      const lo = parseSeed(flag, range[1]!);
      const hi = parseSeed(flag, range[2]!);
      if (hi < lo || hi - lo >= MAX_EXPERIMENT_SEEDS) throw new UsageError(`${flag} range ${part.trim()} must go upwards and hold at most ${MAX_EXPERIMENT_SEEDS} seeds`);
      for (let s = lo; s <= hi; s++) seeds.push(s);
    } else {
      seeds.push(parseSeed(flag, part));
    }
  }
  const distinct = [...new Set(seeds)];
  if (distinct.length > MAX_EXPERIMENT_SEEDS) throw new UsageError(`${flag} holds ${distinct.length} seeds; at most ${MAX_EXPERIMENT_SEEDS}`);
  return distinct;
}

/** Names from a fixed set, comma-separated, at least one. */
export function parseNameList<T extends string>(flag: string, text: string, allowed: readonly T[]): T[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new UsageError(`${flag} needs at least one of ${allowed.join(', ')}`);
  for (const n of names) if (!(allowed as readonly string[]).includes(n)) throw new UsageError(`${flag}: ${n} is not one of ${allowed.join(', ')}`);
  return [...new Set(names)] as T[];
}
