/**
 * The soak page `ftcp report` draws for a soak's run directory: the verdict, the problems,
 * the RSS plot and the "restored after" plot (soak-svg.ts). No script: plain SVG whose
 * marks name themselves on hover (their <title>).
 */
import { esc } from './svg.js';
import { pageHead, verdictTable } from './page.js';
import { restoredPlotSvg, rssPlotSvg } from './soak-svg.js';
import type { SoakPageModel } from './soak-model.js';

const CSS = `#verdict td{max-width:60em}.ok{color:#006400}.failed{color:#c00000}.plot{overflow-x:auto}svg text{user-select:none}`;
/** Past this many, the problems list is cut (the soak.json beside the page has them all). */
const MAX_PROBLEMS = 200;

function problemsList(problems: readonly string[]): string {
  if (problems.length === 0) return '<p id="problems">none</p>';
  const more = problems.length > MAX_PROBLEMS ? `<li>… and ${problems.length - MAX_PROBLEMS} more (all are in soak.json)</li>` : '';
  return `<ul id="problems">${problems
    .slice(0, MAX_PROBLEMS)
    .map((p) => `<li>${esc(p)}</li>`)
    .join('')}${more}</ul>`;
}

/** The whole soak page for a model. */
export function renderSoakReport(m: SoakPageModel, title: string): string {
  return `${pageHead(title, CSS)}
<p class="${m.ok ? 'ok' : 'failed'}"><b>${m.ok ? 'ok' : 'FAILED'}</b>: ${esc(m.rows.find(([k]) => k === 'faults')?.[1] ?? '')}</p>
<h2>Verdict</h2>
${verdictTable(m.rows)}
<h2>Problems</h2>
${problemsList(m.problems)}
<h2>RSS of each replica over time</h2>
<p>${esc(`The pair's VmRSS (the sum over its running replicas, every 2 s) in black; each replica's own over its life as a thin line (colours taken in turn). Shaded: the windows the flatness verdict compares, with their means: ${m.rssVerdict}. Below the time axis a tick per fault, a row per kind; hover a mark for its details.`)}</p>
<div class="plot">${rssPlotSvg(m)}</div>
<h2>Restored after, per fault</h2>
<p>From the fault to the new backup's joined (for arbiter-restart, to the arbiter's restart), coloured by kind as above.</p>
<div class="plot">${restoredPlotSvg(m)}</div>
</body></html>
`;
}
