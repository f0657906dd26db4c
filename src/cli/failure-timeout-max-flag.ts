/** --failure-timeout-max-ms and --failure-timeout-start-ms: Dmax and S, the failure detector's bounds (src/replica/failure-detector.ts). */
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

export const FAILURE_TIMEOUT_START_HELP =
  'S: in the pair\'s start-up a silent peer is suspected only after S less the time it has been heard steadily (no gap over 2 H), until that is down to D (at most 10 S), ' +
  'and a backup that has heard nothing from its primary stops (wrong role) only after S; = D turns it off; default: 500, or Dmax if longer';

/** S in ms, or undefined (the replica's default). Below D or Dmax is bad usage. */
export function parseFailureTimeoutStart(text: string | undefined, failureTimeoutMs: number, failureTimeoutMaxMs: number | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseMilliseconds('--failure-timeout-start-ms', text, 600_000);
  if (ms < failureTimeoutMs) throw new UsageError(`--failure-timeout-start-ms (${ms}) must be at least --failure-timeout-ms (${failureTimeoutMs})`);
  if (failureTimeoutMaxMs !== undefined && ms < failureTimeoutMaxMs) throw new UsageError(`--failure-timeout-start-ms (${ms}) must be at least --failure-timeout-max-ms (${failureTimeoutMaxMs})`);
  return ms;
}
