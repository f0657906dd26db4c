/**
 * The soak page's model: a soak result (soak-load.ts) as the verdict rows, the pair's RSS
 * over time, each replica's RSS over its life, the two windows the flatness verdict compares
 * (soak-rss.ts), and one tick per fault. Pure: no I/O.
 */
import { RSS_JUDGED_FROM_S } from '../soak-rss.js';
import { faultCounts, restoredStats } from '../soak-stats.js';
import type { SoakRecord } from './soak-load.js';

/** [seconds since the soak started, KiB] */
export type RssPoint = [atS: number, kib: number];

export interface ReplicaLife {
  name: string;
  points: RssPoint[];
}

export interface SoakWindow {
  name: 'first' | 'last';
  fromS: number;
  toS: number;
  /** The verdict's mean of the pair's RSS over the window. */
  meanKiB: number | null;
}

export interface SoakTick {
  n: number;
  atS: number;
  kind: string;
  restoredAfterMs: number | null;
  /** The pair was not restored after it: the soak stopped there. */
  error?: string;
}

export interface SoakPageModel {
  ok: boolean;
  rows: Array<[string, string]>;
  problems: string[];
  /** The time axis runs from 0 to here: the run's duration, or its last sample if later. */
  endS: number;
  pair: RssPoint[];
  replicas: ReplicaLife[];
  windows: SoakWindow[];
  ticks: SoakTick[];
  /** Every fault kind with its count, the known ones first (0 too). */
  kinds: Array<[string, number]>;
  rssVerdict: string;
}

export const mib = (kib: number): string => (kib / 1024).toFixed(1);

/** Each replica's samples in time order, replicas in the order they were first seen. */
function replicaLives(r: SoakRecord): ReplicaLife[] {
  const lives = new Map<string, RssPoint[]>();
  for (const s of r.rss.samples) {
    for (const [name, kib] of Object.entries(s.byReplica)) {
      let points = lives.get(name);
      if (points === undefined) lives.set(name, (points = []));
      points.push([s.atS, kib]);
    }
  }
  return [...lives].map(([name, points]) => ({ name, points }));
}

/** The windows rssVerdict() averaged: the first after warm-up, and the last ending at the last sample. */
function verdictWindows(r: SoakRecord): SoakWindow[] {
  const v = r.rss.verdict;
  const end = r.rss.samples.at(-1)?.atS ?? 0;
  const first: SoakWindow = { name: 'first', fromS: v.warmUpS, toS: v.warmUpS + v.windowS, meanKiB: v.firstKiB };
  const last: SoakWindow = { name: 'last', fromS: Math.max(end - v.windowS, first.toS), toS: end, meanKiB: v.lastKiB };
  return last.toS > last.fromS ? [first, last] : [first];
}

function rssVerdictText(r: SoakRecord): string {
  const v = r.rss.verdict;
  const judged = r.durationS >= RSS_JUDGED_FROM_S ? '' : ' (not judged under 10 minutes)';
  if (v.firstKiB === null || v.lastKiB === null || v.flat === null) return `too few samples to judge${judged}`;
  const change = ((v.lastKiB - v.firstKiB) / v.firstKiB) * 100;
  const sign = change >= 0 ? '+' : '';
  return `${mib(v.firstKiB)} MiB (first ${v.windowS} s window after ${v.warmUpS} s warm-up) → ${mib(v.lastKiB)} MiB (last ${v.windowS} s), ${sign}${change.toFixed(1)} %: ${v.flat ? 'flat (within 10 %)' : 'NOT flat'}${judged}`;
}

/** Names in the order first seen, shortened past a few: "a, b, j1, … j698". */
function replicaNames(lives: readonly ReplicaLife[]): string {
  const names = lives.map((l) => l.name);
  return names.length <= 6 ? names.join(', ') : `${names.slice(0, 4).join(', ')}, … ${names.at(-1)!}`;
}

export function buildSoakModel(r: SoakRecord): SoakPageModel {
  const restored = restoredStats(r.faults);
  const kinds = faultCounts(r.faults);
  const replicas = replicaLives(r);
  const rssVerdict = rssVerdictText(r);
  const rows: Array<[string, string]> = [
    ['verdict', `${r.ok ? 'ok' : 'FAILED'}${r.interrupted ? ' (interrupted)' : ''}`],
    ['duration', `${r.durationS} s (${(r.durationS / 60).toFixed(1)} min), seed ${r.seed}`],
    ['faults', `${r.faults.length} (${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}), survived ${r.faultsSurvived}`],
    ['restored after', restored === null ? 'n/a' : `median ${restored.medianMs} ms, max ${restored.maxMs} ms`],
    ['load rounds', String(r.loadRounds)],
    ['streams', `${r.streams.intact} intact, ${r.streams.broken} broken`],
    ['uploads checked', r.uploads === undefined ? 'not recorded (a result of a build before the upload check)' : `${r.uploads.checked} (${r.uploads.broken} wrong), ${r.uploads.unchecked} not checked`],
    ['resets', String(r.resets)],
    ['false failovers', String(r.falseFailovers)],
    ['RSS of the pair', rssVerdict],
    ['replicas sampled', `${replicas.length} (${replicaNames(replicas)}), ${r.rss.samples.length} samples`],
    ['problems', r.problems.length === 0 ? 'none' : String(r.problems.length)],
  ];
  const lastSample = r.rss.samples.at(-1)?.atS ?? 0;
  return {
    ok: r.ok,
    rows,
    problems: r.problems,
    endS: Math.max(r.durationS, lastSample, 1),
    pair: r.rss.samples.map((s) => [s.atS, s.pairKiB]),
    replicas,
    windows: verdictWindows(r),
    ticks: r.faults.map((f) => ({ n: f.n, atS: f.atS, kind: f.fault, restoredAfterMs: f.restoredAfterMs, ...(f.error !== undefined ? { error: String(f.error) } : {}) })),
    kinds,
    rssVerdict,
  };
}
