/**
 * `ftcp soak`'s memory record: VmRSS of each replica process, sampled from
 * /proc/PID/status, and the flatness verdict (the last window within 10 % of the first
 * window after warm-up; for an hour: warm-up 10 %, windows of ten minutes).
 */
import { readFileSync } from 'node:fs';

/** Runs at least this long fail when the pair's RSS is not flat. */
export const RSS_JUDGED_FROM_S = 600;

export interface RssSample {
  /** Seconds since the soak started. */
  atS: number;
  /** The sum of the running replicas' VmRSS, KiB. */
  pairKiB: number;
  byReplica: Record<string, number>;
}

export interface RssVerdict {
  windowS: number;
  warmUpS: number;
  firstKiB: number | null;
  lastKiB: number | null;
  /** null: too few samples to judge. */
  flat: boolean | null;
}

/** VmRSS of a process in KiB, or undefined when it is gone. */
export function vmRssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** Windows scaled from an hour's: warm-up a tenth of the run, each window a sixth. */
export function rssVerdict(samples: readonly RssSample[], durationS: number): RssVerdict {
  const warmUpS = durationS / 10;
  const windowS = durationS / 6;
  const mean = (xs: number[]) => (xs.length === 0 ? null : Math.round(xs.reduce((a, b) => a + b, 0) / xs.length));
  const end = samples.length === 0 ? 0 : samples[samples.length - 1]!.atS;
  const first = mean(samples.filter((s) => s.atS >= warmUpS && s.atS < warmUpS + windowS).map((s) => s.pairKiB));
  const last = mean(samples.filter((s) => s.atS > end - windowS && s.atS >= warmUpS + windowS).map((s) => s.pairKiB));
  const flat = first === null || last === null ? null : Math.abs(last - first) <= first * 0.1;
  return { windowS: Math.round(windowS), warmUpS: Math.round(warmUpS), firstKiB: first, lastKiB: last, flat };
}
