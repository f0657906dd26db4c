/**
 * Arithmetic of `ftcp bench` (src/lab/bench-run.ts), kept apart so that it is tested in
 * process: ratios of two measurements and the targets a figure is compared with
 * (percentiles live with the log channel's round-trip probe, src/net/log-rtt.ts). A benchmark reports; nothing here asserts a time.
 */

/** a ÷ b, or NaN when either is not a positive finite number. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 && a >= 0 ? a / b : NaN;
}

/** Megabytes (10^6) per second. */
export function mbPerS(bytes: number, seconds: number): number {
  return ratio(bytes / 1e6, seconds);
}

/** A target: the figure must be at most / at least `value`, or is only reported. */
export interface Target {
  op: '<=' | '>=' | 'report';
  value: number;
  text: string;
}

export const TARGETS: Record<string, Target> = {
  'stack.ratio65535': { op: '>=', value: 0.5, text: '>= 0.5' },
  'replicated.throughputRatio': { op: '>=', value: 0.8, text: '>= 0.8' },
  'failover.p50Ms': { op: '<=', value: 50, text: '<= 50 ms' },
  'failover.p99Ms': { op: '<=', value: 100, text: '<= 100 ms' },
  'failover.broken': { op: '<=', value: 0, text: '0' },
  'log.bytesPerClientByte': { op: '<=', value: 1.1, text: '<= 1.10' },
  'scale.connections': { op: '>=', value: 100_000, text: '100,000' },
  'scale.bytesPerConnection': { op: '<=', value: 4096, text: '<= 4 KiB' },
  'scale.bytesPerConnection.primary': { op: '<=', value: 4096, text: '<= 4 KiB' },
  'scale.bytesPerConnection.backup': { op: '<=', value: 4096, text: '<= 4 KiB' },
};

/** 'met', 'MISSED' or 'report' (no target, or the figure is not a number). */
export function verdict(key: string, value: number): 'met' | 'MISSED' | 'report' {
  const t = TARGETS[key];
  if (t === undefined || t.op === 'report' || !Number.isFinite(value)) return 'report';
  return (t.op === '<=' ? value <= t.value : value >= t.value) ? 'met' : 'MISSED';
}

/**
 * replicated.latencyOverheadP50Us against its target, which is relative: the overhead
 * should be at most 1.5 x the log channel's own round trip.
 */
export function latencyVerdict(overheadUs: number, logRttUs: number): 'met' | 'MISSED' | 'report' {
  if (!Number.isFinite(overheadUs) || !Number.isFinite(logRttUs)) return 'report';
  return overheadUs <= 1.5 * logRttUs ? 'met' : 'MISSED';
}

/** Rounds a figure for the JSON object: 4 significant digits; null for NaN/Infinity (JSON has none). */
export function jsonNumber(v: number): number | null {
  return Number.isFinite(v) ? Number(v.toPrecision(4)) : null;
}
