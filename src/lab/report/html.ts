/**
 * `ftcp report DIR`: the page. One self-contained file: inline CSS and script, plain SVG, and
 * a Content-Security-Policy of default-src 'none' so a browser fetches nothing for it
 * (page.ts). A soak's folder gets its own page (soak-html.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRunFolder } from './load.js';
import { buildModel, type ReportModel } from './model.js';
import { pageHead, verdictTable } from './page.js';
import { renderSoakReport } from './soak-html.js';
import { isSoakFolder, loadSoakResult } from './soak-load.js';
import { buildSoakModel } from './soak-model.js';
import { bytesChartSvg, esc, sequenceSvg } from './svg.js';

const CSS = `#seqbox{overflow:auto;max-height:80vh;border:1px solid #ddd}.hidden{display:none}.identical text{font-weight:bold}.frames td{font-family:monospace;font-size:11px}`;

// Zoom: show only the records within ±N ms of the cut-over, or all of them.
const SCRIPT = `(function(){var cut=Number(document.body.dataset.cutover);function zoom(ms){document.querySelectorAll('#seq g.mark').forEach(function(g){var t=Number(g.dataset.t);g.classList.toggle('hidden',ms>0&&!isNaN(cut)&&Math.abs(t-cut)>ms*1000);});}
document.querySelectorAll('button[data-zoom]').forEach(function(b){b.addEventListener('click',function(){zoom(Number(b.dataset.zoom));});});})();`;

function framesTable(model: ReportModel): string {
  const rows = model.marks.filter((m) => m.ref !== undefined && m.kind !== 'packet' && m.kind !== 'log');
  return `<table class="frames"><tr><th>file</th><th>frame</th><th>ms</th><th>what</th></tr>${rows
    .map((m) => {
      const [file, frame] = m.ref!.split('#');
      return `<tr id="f-${esc(m.ref!)}"><td>${esc(file!)}</td><td>${frame}</td><td>${((m.timeUs - model.startUs) / 1000).toFixed(3)}</td><td>${esc(m.label)}</td></tr>`;
    })
    .join('')}</table>`;
}

/** The whole page for a model. */
export function renderReport(model: ReportModel, title: string): string {
  const cut = model.cutoverUs === null ? '' : String(model.cutoverUs - model.startUs);
  return `${pageHead(title, CSS, ` data-cutover="${cut}"`)}
<h2>Verdict</h2>
${verdictTable(model.checks)}
<h2>Bytes delivered per client connection</h2>
${bytesChartSvg(model)}
<h2>Sequence</h2>
<p>Zoom: <button data-zoom="0">whole run</button> <button data-zoom="200">cut-over ±200 ms</button> <button data-zoom="50">cut-over ±50 ms</button>
Hover a record for its packet; click it for its frame number and file.</p>
<div id="seqbox">${sequenceSvg(model)}</div>
<h2>Frames of interest</h2>
${framesTable(model)}
<script>${SCRIPT}</script>
</body></html>
`;
}

/**
 * Reads `dir`, writes `dir/report.html`, returns its path. A soak's folder (soak.json) gets
 * the soak page, drawn from that file alone. Throws ReportInputError on bad input.
 */
export function writeReport(dir: string): string {
  const soak = isSoakFolder(dir);
  const page = soak ? renderSoakReport(buildSoakModel(loadSoakResult(dir)), `ftcp soak ${dir}`) : renderReport(buildModel(loadRunFolder(dir)), `ftcp run ${dir}`);
  const path = join(dir, 'report.html');
  writeFileSync(path, page);
  return path;
}
