/**
 * Plain SVG for the soak page: the RSS plot (the pair's sum, each replica over its life, the
 * verdict's two windows with their means, a tick per fault in a row per kind below the time
 * axis) and the "restored after" plot, one point per fault. Sized for an hour: ~1800
 * samples, ~800 faults, ~700 short-lived replicas, each replica a thin line over its life.
 */
import { esc } from './svg.js';
import { mib, type SoakPageModel, type SoakTick } from './soak-model.js';

const W = 1100;
const LEFT = 110;
const RIGHT = 16;
const TOP = 16;
/** One row of fault ticks per kind, this tall. */
const ROW = 9;

export const KIND_COLOUR: Record<string, string> = {
  'kill-primary': '#c00000',
  'kill-backup': '#e07b00',
  'pause-primary': '#6a0dad',
  'pause-backup': '#1f77b4',
  'arbiter-restart': '#2e8b57',
  'false-failover': '#ff0000',
};
const OTHER_KIND = '#777777';
const colourOf = (kind: string): string => KIND_COLOUR[kind] ?? OTHER_KIND;
/** Replica lines take these in turn, so that neighbours in time differ. */
const REPLICA_COLOURS = ['#6f9fd8', '#e39b5b', '#6dbb6d'];
const PAIR_COLOUR = '#222222';

/** A round step (1, 2 or 5 times a power of ten) giving about `count` ticks over `span`. */
export function niceStep(span: number, count: number): number {
  const raw = Math.max(span, 1e-9) / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
}

function ticks(max: number, step: number): number[] {
  const out: number[] = [];
  for (let i = 0; i * step <= max + step * 1e-9; i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

const fmt = (v: number): string => String(Number(v.toFixed(3)));

interface Frame {
  x: (s: number) => number;
  y: (v: number) => number;
  top: number;
  bottom: number;
}

/** Time axis (s) at `frame.bottom` + `below`, with grid, y axis with its unit, and both labels. */
function axes(f: Frame, endS: number, yMax: number, yStep: number, yLabel: string, below: number, xLabelY: number): string[] {
  const out: string[] = [];
  for (const v of ticks(yMax, yStep)) {
    out.push(`<line class="grid" x1="${LEFT}" y1="${f.y(v)}" x2="${W - RIGHT}" y2="${f.y(v)}" stroke="#e4e4e4"/><text x="${LEFT - 6}" y="${f.y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  out.push(`<line x1="${LEFT}" y1="${f.bottom}" x2="${W - RIGHT}" y2="${f.bottom}" stroke="#000"/><line x1="${LEFT}" y1="${f.bottom}" x2="${LEFT}" y2="${f.top}" stroke="#000"/>`);
  for (const t of ticks(endS, niceStep(endS, 12))) {
    out.push(`<line x1="${f.x(t)}" y1="${f.bottom + below}" x2="${f.x(t)}" y2="${f.bottom + below + 4}" stroke="#000"/><text x="${f.x(t)}" y="${f.bottom + below + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<text class="axis-label" x="${LEFT + (W - LEFT - RIGHT) / 2}" y="${xLabelY}" text-anchor="middle">time since the soak started (s)</text>`);
  const mid = (f.top + f.bottom) / 2;
  out.push(`<text class="axis-label" x="16" y="${mid}" text-anchor="middle" transform="rotate(-90 16 ${mid})">${esc(yLabel)}</text>`);
  return out;
}

function frame(endS: number, top: number, bottom: number, yMax: number): Frame {
  return {
    x: (s) => Number((LEFT + (s / endS) * (W - LEFT - RIGHT)).toFixed(1)),
    y: (v) => Number((bottom - (v / yMax) * (bottom - top)).toFixed(1)),
    top,
    bottom,
  };
}

const points = (pts: ReadonlyArray<[number, number]>, f: Frame): string => pts.map(([t, kib]) => `${f.x(t)},${f.y(kib / 1024)}`).join(' ');

function tickTitle(t: SoakTick): string {
  const after = t.error !== undefined ? `not restored: ${t.error}` : `restored after ${t.restoredAfterMs} ms`;
  return `fault ${t.n} at ${t.atS} s: ${t.kind}; ${after}`;
}

/** A row per kind below the axis, a tick per fault; false failovers and unrestored faults also cross the plot. */
function faultRows(m: SoakPageModel, f: Frame, kinds: readonly string[]): string[] {
  const out: string[] = [];
  kinds.forEach((kind, i) => {
    const y0 = f.bottom + 3 + i * ROW;
    out.push(`<text x="${LEFT - 6}" y="${y0 + ROW - 2}" text-anchor="end" font-size="9" fill="${colourOf(kind)}">${esc(kind)}</text>`);
    for (const t of m.ticks.filter((x) => x.kind === kind)) {
      out.push(`<line class="fault" data-kind="${esc(kind)}" x1="${f.x(t.atS)}" y1="${y0}" x2="${f.x(t.atS)}" y2="${y0 + ROW - 2}" stroke="${colourOf(kind)}" stroke-width="1.5"><title>${esc(tickTitle(t))}</title></line>`);
    }
  });
  for (const t of m.ticks.filter((x) => x.kind === 'false-failover' || x.error !== undefined)) {
    const colour = t.error !== undefined ? '#000' : colourOf(t.kind);
    const label = t.error !== undefined ? `✖ fault ${t.n} not restored` : '▼ false failover';
    out.push(`<g class="${t.error !== undefined ? 'unrestored' : 'false-failover'}"><line x1="${f.x(t.atS)}" y1="${f.top}" x2="${f.x(t.atS)}" y2="${f.bottom}" stroke="${colour}" stroke-dasharray="3 2"/><text x="${f.x(t.atS) + 3}" y="${f.top + 10}" fill="${colour}" font-weight="bold">${label}</text><title>${esc(tickTitle(t))}</title></g>`);
  }
  return out;
}

/** The kinds that get a row: those that happened, in the known order. */
function kindsSeen(m: SoakPageModel): string[] {
  return m.kinds.filter(([, n]) => n > 0).map(([k]) => k);
}

function legend(m: SoakPageModel, y: number): string {
  const items: Array<[string, string]> = [
    [`<line x1="0" y1="-4" x2="18" y2="-4" stroke="${PAIR_COLOUR}" stroke-width="2"/>`, 'the pair (sum)'],
    [`<line x1="0" y1="-4" x2="18" y2="-4" stroke="${REPLICA_COLOURS[0]}"/><line x1="6" y1="-1" x2="18" y2="-1" stroke="${REPLICA_COLOURS[1]}"/>`, `each replica over its life (${m.replicas.length})`],
    ['<rect x="0" y="-10" width="18" height="10" fill="#f3e39b" fill-opacity="0.6"/>', 'windows the flatness verdict compares'],
  ];
  for (const [kind, n] of m.kinds) if (n > 0 || kind === 'false-failover') items.push([`<line x1="9" y1="-10" x2="9" y2="0" stroke="${colourOf(kind)}" stroke-width="2"/>`, `${kind} ${n}`]);
  const out = [`<g class="legend" font-size="11">`];
  let x = LEFT;
  let row = 0;
  for (const [mark, text] of items) {
    const width = 28 + text.length * 6.2;
    if (x + width > W - RIGHT) [x, row] = [LEFT, row + 1];
    out.push(`<g transform="translate(${x.toFixed(0)},${y + row * 16})">${mark}<text x="22" y="0">${esc(text)}</text></g>`);
    x += width + 10;
  }
  out.push('</g>');
  return out.join('');
}

/** The RSS plot: MiB over seconds. */
export function rssPlotSvg(m: SoakPageModel): string {
  const kinds = kindsSeen(m);
  const maxKiB = Math.max(1024, ...m.pair.map((p) => p[1]), ...m.replicas.flatMap((r) => r.points.map((p) => p[1])));
  const yStep = niceStep(maxKiB / 1024, 8);
  const yMax = Math.ceil(maxKiB / 1024 / yStep) * yStep;
  const top = TOP + 16;
  const bottom = 356;
  const f = frame(m.endS, top, bottom, yMax);
  const below = 4 + kinds.length * ROW;
  const height = bottom + below + 80;
  const out = [`<svg id="rss" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" font-size="11" font-family="sans-serif">`];
  for (const w of m.windows) {
    out.push(`<rect class="window" data-window="${w.name}" x="${f.x(w.fromS)}" y="${top}" width="${Math.max(1, f.x(w.toS) - f.x(w.fromS)).toFixed(1)}" height="${bottom - top}" fill="#f3e39b" fill-opacity="0.6"/>`);
  }
  out.push(...axes(f, m.endS, yMax, yStep, 'VmRSS (MiB)', below, bottom + below + 34));
  m.replicas.forEach((r, i) => {
    const colour = REPLICA_COLOURS[i % REPLICA_COLOURS.length]!;
    const first = r.points[0]!;
    const last = r.points.at(-1)!;
    const tip = `<title>${esc(`${r.name}: ${first[0]}..${last[0]} s, ${mib(first[1])} → ${mib(last[1])} MiB`)}</title>`;
    out.push(
      r.points.length === 1
        ? `<circle class="replica" data-name="${esc(r.name)}" cx="${f.x(first[0])}" cy="${f.y(first[1] / 1024)}" r="1.5" fill="${colour}">${tip}</circle>`
        : `<polyline class="replica" data-name="${esc(r.name)}" fill="none" stroke="${colour}" stroke-width="1" points="${points(r.points, f)}">${tip}</polyline>`,
    );
  });
  out.push(`<polyline class="pair" fill="none" stroke="${PAIR_COLOUR}" stroke-width="1.2" points="${points(m.pair, f)}"><title>the pair: the sum of the running replicas' VmRSS</title></polyline>`);
  for (const w of m.windows) {
    if (w.meanKiB === null) continue;
    const y = f.y(w.meanKiB / 1024);
    const x = f.x(w.fromS);
    out.push(`<line class="window-mean" x1="${x}" y1="${y}" x2="${f.x(w.toS)}" y2="${y}" stroke="#8a6d00" stroke-width="2" stroke-dasharray="6 3"/>`);
    // Above the plot, so that the lines do not cross it: the first window's from its start, the last's up to its end.
    const anchor = w.name === 'first' ? `x="${x}" text-anchor="start"` : `x="${f.x(w.toS)}" text-anchor="end"`;
    out.push(`<text class="window-mean" data-window="${w.name}" ${anchor} y="${top - 6}" fill="#5c4900" font-weight="bold">${w.name} window: mean ${mib(w.meanKiB)} MiB</text>`);
  }
  out.push(...faultRows(m, f, kinds));
  out.push(legend(m, bottom + below + 58));
  out.push('</svg>');
  return out.join('\n');
}

/** "Restored after" (s) per fault, on the same time axis; a fault the pair did not come back from is a cross at the top. */
export function restoredPlotSvg(m: SoakPageModel): string {
  const maxS = Math.max(0.001, ...m.ticks.map((t) => (t.restoredAfterMs ?? 0) / 1000));
  const yStep = niceStep(maxS, 5);
  const yMax = Math.ceil(maxS / yStep) * yStep;
  const bottom = 190;
  const f = frame(m.endS, TOP, bottom, yMax);
  const out = [`<svg id="restored" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${bottom + 50}" font-size="11" font-family="sans-serif">`];
  out.push(...axes(f, m.endS, yMax, yStep, 'restored after (s)', 0, bottom + 40));
  for (const t of m.ticks) {
    const tip = `<title>${esc(tickTitle(t))}</title>`;
    out.push(
      t.restoredAfterMs === null
        ? `<text class="restored unrestored" x="${f.x(t.atS) - 4}" y="${TOP + 4}" fill="#000">✖${tip}</text>`
        : `<circle class="restored" data-kind="${esc(t.kind)}" cx="${f.x(t.atS)}" cy="${f.y(t.restoredAfterMs / 1000)}" r="2" fill="${colourOf(t.kind)}">${tip}</circle>`,
    );
  }
  out.push('</svg>');
  return out.join('\n');
}
