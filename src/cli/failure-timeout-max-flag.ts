/** --failure-timeout-max-ms: Dmax, the failure detector's upper bound (src/replica/failure-detector.ts). */
import type { Command } from 'commander';
import { UsageError } from './io.js';
import { parseMilliseconds } from './validate.js';

export const FAILURE_TIMEOUT_MAX_HELP =
  "Dmax: the failure detector waits up to this long for a peer whose frames have come late before (it learns the gaps it sees, and does not count this process's own stalls); default: D, a fixed timeout";

export function addFailureTimeoutMaxOption(command: Command): Command {
  return command.option('--failure-timeout-max-ms <ms>', FAILURE_TIMEOUT_MAX_HELP);
}

/** Dmax in ms, or undefined (a fixed timeout D). Below D is bad usage. */
export function parseFailureTimeoutMax(text: string | undefined, failureTimeoutMs: number): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseMilliseconds('--failure-timeout-max-ms', text, 600_000);
  if (ms < failureTimeoutMs) throw new UsageError(`--failure-timeout-max-ms (${ms}) must be at least --failure-timeout-ms (${failureTimeoutMs})`);
  return ms;
}

/** `{ key: value }`, or nothing when value is undefined (for spreading into options). */
export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
