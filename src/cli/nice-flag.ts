/** --nice N: the scheduling priority a cluster process gives itself at start (src/net/priority.ts). */
import type { Command } from 'commander';
import { DEFAULT_NICE, MAX_NICE, MIN_NICE } from '../net/priority.js';
import { UsageError } from './io.js';

export const NICE_HELP =
  `scheduling priority (nice value, ${MIN_NICE}..${MAX_NICE}) this process sets for itself at start, so CPU-bound neighbours at nice 0 cannot starve it; ` +
  'needs CAP_SYS_NICE (root) below the current value: when refused, one line and the process runs on; 0 leaves it as started';

export function addNiceOption(command: Command): Command {
  return command.option('--nice <n>', NICE_HELP, String(DEFAULT_NICE));
}

/** The nice value, or undefined for 0 (leave the priority alone). */
export function parseNice(text: string): number | undefined {
  const t = text.trim();
  const n = /^-?\d+$/.test(t) ? Number(t) : NaN;
  if (!(Number.isSafeInteger(n) && n >= MIN_NICE && n <= MAX_NICE)) throw new UsageError(`--nice must be an integer from ${MIN_NICE} to ${MAX_NICE}, got ${text}`);
  return n === 0 ? undefined : n;
}
