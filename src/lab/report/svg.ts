/**
 * Plain SVG for the report (no library: nothing to fetch at view time). The sequence diagram
 * has one column per vantage point and one row per record, in time order; each row carries
 * data-t (µs from the start) so the page's script can zoom to the cut-over by hiding rows.
 */
import type { Mark, ReportModel } from './model.js';

const ROW = 16;
const LANE = 170;
const LEFT = 90;
const TOP = 40;
/** Past this many rows, records away from the cut-over are thinned (every n-th packet). */
const MAX_ROWS = 4000;

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const COLOR: Record<Mark['kind'], string> = {
  packet: '#4a6fa5',
  log: '#7b7b7b',
  held: '#b8860b',
  reemitted: '#d2691e',
  answer: '#2e8b57',
  kill: '#c00000',
  silence: '#8b008b',
  tas: '#6a0dad',
  live: '#008000',
  event: '#555555',
};

function keep(m: Mark, i: number, model: ReportModel, stride: number): boolean {
  if (m.kind !== 'packet' && m.kind !== 'log') return true;
  if (model.cutoverUs !== null && Math.abs(m.timeUs - model.cutoverUs) < 200_000) return true;
  return i % stride === 0;
}

/** The sequence diagram. */
export function sequenceSvg(model: ReportModel): string {
  const stride = Math.max(1, Math.ceil(model.marks.length / MAX_ROWS));
  const rows = model.marks.filter((m, i) => keep(m, i, model, stride));
  const width = LEFT + LANE * model.lanes.length + 20;
  const height = TOP + ROW * rows.length + 10;
  const x = (lane: string) => LEFT + LANE * model.lanes.indexOf(lane) + LANE / 2;
  const out: string[] = [`<svg id="seq" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-size="11" font-family="monospace">`];
  model.lanes.forEach((l) => {
    out.push(`<text x="${x(l)}" y="20" text-anchor="middle" font-weight="bold">${esc(l)}</text>`);
    out.push(`<line x1="${x(l)}" y1="28" x2="${x(l)}" y2="${height}" stroke="#ccc"/>`);
  });
  rows.forEach((m, i) => {
    const y = TOP + ROW * i + ROW / 2;
    const t = (m.timeUs - model.startUs) / 1000;
    const cls = `mark ${m.kind}${m.identical === true ? ' identical' : m.identical === false ? ' different' : ''}`;
    const tip = `${m.label}${m.ref ? ` (frame ${m.ref.split('#')[1]} of ${m.ref.split('#')[0]})` : ''}`;
    const tag = m.kind === 'reemitted' ? (m.identical ? 're-sent, byte-identical' : 're-sent, not on the old primary’s wire') : m.kind === 'packet' || m.kind === 'log' || m.kind === 'held' || m.kind === 'event' ? '' : m.kind;
    const shape = m.kind === 'kill' ? `<text x="${x(m.lane) - 5}" y="${y + 4}" fill="${COLOR.kill}" font-size="14">✖</text>` : `<circle cx="${x(m.lane)}" cy="${y}" r="${m.kind === 'packet' || m.kind === 'log' ? 3 : 5}" fill="${COLOR[m.kind]}"/>`;
    const body = `<text x="4" y="${y + 4}" fill="#888">${t.toFixed(3)}</text>${shape}<text x="${x(m.lane) + 8}" y="${y + 4}" fill="${COLOR[m.kind]}">${esc(tag ? `${tag}: ${m.label}`.slice(0, 60) : m.label.slice(0, 40))}</text><title>${esc(tip)}</title>`;
    const link = m.ref ? `<a href="#f-${esc(m.ref)}">${body}</a>` : body;
    out.push(`<g class="${cls}" data-t="${m.timeUs - model.startUs}" data-kind="${m.kind}"${m.ref ? ` data-frame="${esc(m.ref)}"` : ''}>${link}</g>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Bytes delivered per client connection over time: the stall and the resume. */
export function bytesChartSvg(model: ReportModel): string {
  const W = 760;
  const H = 260;
  const pad = 50;
  const max = Math.max(1, ...model.series.flatMap((s) => s.points.map((p) => p[1])));
  const span = Math.max(1, model.endUs - model.startUs);
  const px = (t: number) => pad + ((t - model.startUs) / span) * (W - pad - 10);
  const py = (b: number) => H - pad + 10 - (b / max) * (H - pad - 10);
  const hues = ['#4a6fa5', '#d2691e', '#2e8b57', '#8b008b', '#b8860b', '#c00000'];
  const out = [`<svg id="bytes" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-size="11" font-family="sans-serif">`];
  out.push(`<line x1="${pad}" y1="${py(0)}" x2="${W - 10}" y2="${py(0)}" stroke="#000"/><line x1="${pad}" y1="${py(0)}" x2="${pad}" y2="10" stroke="#000"/>`);
  out.push(`<text x="4" y="14">${max} B</text><text x="${W - 120}" y="${H - 8}">${(span / 1000).toFixed(0)} ms</text>`);
  if (model.cutoverUs !== null) out.push(`<line class="cutover" x1="${px(model.cutoverUs)}" y1="10" x2="${px(model.cutoverUs)}" y2="${py(0)}" stroke="#008000" stroke-dasharray="4"/><text x="${px(model.cutoverUs) + 3}" y="22" fill="#008000">cut-over</text>`);
  model.series.forEach((s, i) => {
    const pts = s.points.map(([t, b]) => `${px(t).toFixed(1)},${py(b).toFixed(1)}`).join(' ');
    out.push(`<polyline class="conn" fill="none" stroke="${hues[i % hues.length]}" points="${pts}"><title>${esc(s.conn)}</title></polyline>`);
    out.push(`<text x="${pad + 5}" y="${30 + 13 * i}" fill="${hues[i % hues.length]}">${esc(s.conn)}: ${s.points.at(-1)?.[1] ?? 0} B</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
