// The soak page of `ftcp report`: its model and SVG from a synthetic soak result (the RSS
// grows, or stays flat), soak.json read and refused field by field, the soak's captures
// left unread, and the page in headless Chromium (no console messages, the plot drawn).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../src/lab/report/html.js';
import { ReportInputError } from '../../src/lab/report/load.js';
import { renderSoakReport } from '../../src/lab/report/soak-html.js';
import { loadSoakResult } from '../../src/lab/report/soak-load.js';
import { buildSoakModel } from '../../src/lab/report/soak-model.js';
import { niceStep, rssPlotSvg, restoredPlotSvg } from '../../src/lab/report/soak-svg.js';
import { describeChromium, dumpDomAndConsole, screenshot } from '../helpers/chromium.js';
import { pairKiBAt, SYNTHETIC_FAULTS, syntheticSoak } from '../helpers/soak-result.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-soak-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A folder holding `content` as its soak.json. */
function soakFolder(name: string, content: string): string {
  const d = join(dir, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d);
  writeFileSync(join(d, 'soak.json'), content);
  return d;
}

/** The `points` of the SVG element with `cls`, as [x, y] pairs. */
function polylinePoints(svg: string, cls: string): Array<[number, number]> {
  const m = new RegExp(`<polyline class="${cls}"[^>]* points="([^"]+)"`).exec(svg);
  expect(m, `no polyline.${cls}`).not.toBeNull();
  return m![1]!.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
}

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

describe('soak page model and SVG', () => {
  const growing = buildSoakModel(syntheticSoak(true));
  const flat = buildSoakModel(syntheticSoak(false));

  it('the verdict rows: NOT flat for a growing pair, flat for a flat one; faults by kind; replicas', () => {
    const row = (m: typeof growing, k: string) => m.rows.find(([name]) => name === k)?.[1];
    expect(row(growing, 'RSS of the pair')).toMatch(/→ .* MiB \(last 200 s\), \+\d+\.\d %: NOT flat$/);
    expect(row(flat, 'RSS of the pair')).toMatch(/150\.0 MiB .* → 150\.0 MiB .*\+0\.0 %: flat \(within 10 %\)$/);
    expect(row(growing, 'verdict')).toBe('FAILED');
    expect(row(growing, 'faults')).toBe(`17 (${SYNTHETIC_FAULTS.map(([k, n]) => `${k} ${n}`).join(', ')}), survived 17`);
    expect(row(growing, 'restored after')).toBe('median 1800 ms, max 2600 ms');
    expect(row(growing, 'uploads checked')).toBe('1000 (0 wrong), 0 not checked');
    expect(row(growing, 'replicas sampled')).toBe('22 (a, b, j1, j2, … j20), 600 samples');
    expect(growing.kinds).toEqual(SYNTHETIC_FAULTS);
    expect(growing.replicas.map((r) => r.name).slice(0, 3)).toEqual(['a', 'b', 'j1']);
    expect(growing.replicas[1]!.points[0]).toEqual([2, pairKiBAt(2, true) - Math.round(pairKiBAt(2, true) * 0.55)]);
    // The windows rssVerdict() averaged: after a tenth of warm-up, a sixth each.
    expect(growing.windows.map((w) => [w.name, w.fromS, w.toS])).toEqual([
      ['first', 120, 320],
      ['last', 1000, 1200],
    ]);
  });

  it('the plot shows the growth: the pair line and the last window\'s mean stand higher than the first', () => {
    const svg = rssPlotSvg(growing);
    const pair = polylinePoints(svg, 'pair');
    expect(pair).toHaveLength(600);
    // SVG y grows downwards: higher RSS, smaller y.
    expect(pair.at(-1)![1]).toBeLessThan(pair[0]![1] - 50);
    const [first, last] = growing.windows.map((w) => w.meanKiB!);
    expect(last! / first!).toBeGreaterThan(1.2);
    expect(svg).toContain(`first window: mean ${(first! / 1024).toFixed(1)} MiB`);
    expect(svg).toContain(`last window: mean ${(last! / 1024).toFixed(1)} MiB`);
    expect(count(svg, /<rect class="window"/g)).toBe(2);
    // Flat: the pair line stays level.
    const level = polylinePoints(rssPlotSvg(flat), 'pair');
    expect(new Set(level.map((p) => p[1])).size).toBe(1);
  });

  it('each replica is a line over its life; axes say s and MiB', () => {
    const svg = rssPlotSvg(growing);
    // j20 is seen once, in the last sample: a dot.
    expect(count(svg, /<polyline class="replica"/g)).toBe(21);
    expect(svg).toMatch(/<circle class="replica" data-name="j20"/);
    expect(svg).toContain('time since the soak started (s)');
    expect(svg).toContain('VmRSS (MiB)');
  });

  it('a tick per fault, counted by kind, each kind in the legend; the false failover crosses the plot', () => {
    const svg = rssPlotSvg(growing);
    for (const [kind, n] of SYNTHETIC_FAULTS) {
      expect(count(svg, new RegExp(`<line class="fault" data-kind="${kind}"`, 'g')), kind).toBe(n);
      expect(svg).toContain(`>${kind} ${n}</text>`);
    }
    expect(count(svg, /<g class="false-failover">/g)).toBe(1);
    expect(svg).toContain('fault 17 at 990 s: false-failover; restored after 2600 ms');
    const restored = restoredPlotSvg(growing);
    expect(count(restored, /<circle class="restored"/g)).toBe(17);
    expect(restored).toContain('restored after (s)');
  });

  it('a fault the pair did not come back from is marked on both plots', () => {
    const r = syntheticSoak(false);
    r.faults[3] = { ...r.faults[3]!, restoredAfterMs: null, error: 'j3 joining b: timed out' };
    const m = buildSoakModel(r);
    expect(rssPlotSvg(m)).toContain('✖ fault 4 not restored');
    expect(restoredPlotSvg(m)).toContain('class="restored unrestored"');
  });

  it('the page escapes what it shows and fetches nothing', () => {
    const html = renderSoakReport(growing, 'ftcp soak <dir>');
    expect(html).toContain(`default-src 'none'`);
    expect(html).toContain('j15 won &lt;b&gt;');
    expect(html).not.toContain('<b>;');
    expect(html).toContain('<title>ftcp soak &lt;dir&gt;</title>');
    expect(html.match(/(?:src|href)="https?:/g) ?? []).toEqual([]);
  });

  it('round steps for the axes', () => {
    expect([niceStep(3600, 12), niceStep(250, 8), niceStep(5.5, 5), niceStep(40, 12)]).toEqual([500, 50, 2, 5]);
  });
});

describe('soak.json', () => {
  it('a result of an older build without uploads is read; the row says so', () => {
    const r = syntheticSoak(true) as Partial<ReturnType<typeof syntheticSoak>>;
    delete r.uploads;
    const d = soakFolder('old', JSON.stringify(r));
    expect(buildSoakModel(loadSoakResult(d)).rows.find(([k]) => k === 'uploads checked')?.[1]).toMatch(/^not recorded/);
  });

  it.each([
    ['not JSON', '{"ok": tru', /soak\.json is not a soak result: not valid JSON/],
    ['cut short', JSON.stringify(syntheticSoak(true)).slice(0, 5000), /not valid JSON/],
    ['an array', '[]', /not a JSON object/],
    ['no rss', JSON.stringify({ ...syntheticSoak(true), rss: undefined }), /: rss is missing$/],
    ['a bad sample', JSON.stringify(syntheticSoak(true)).replace('"pairKiB":', '"pairKiB":"x","was":'), /: rss\.samples\[0\]\.pairKiB is not a number$/],
    ['a bad fault', JSON.stringify(syntheticSoak(true)).replace('"restoredAfterMs":1000', '"restoredAfterMs":"soon"'), /: faults\[0\]\.restoredAfterMs is not a number or null$/],
    ['bad uploads', JSON.stringify({ ...syntheticSoak(true), uploads: 3 }), /: uploads is not an object$/],
  ])('%s: ReportInputError, one line naming what is wrong', (_what, content, says) => {
    const d = soakFolder('bad', content);
    let error: unknown;
    try {
      writeReport(d);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ReportInputError);
    const message = (error as Error).message;
    expect(message).toMatch(says);
    expect(message).not.toContain('\n');
    expect(existsSync(join(d, 'report.html'))).toBe(false);
  });

  it('the soak page is drawn from soak.json alone: the captures beside it are not read', () => {
    const d = soakFolder('with-captures', JSON.stringify(syntheticSoak(true)));
    // A capture the failover page would refuse (not pcapng): the soak page never opens it.
    writeFileSync(join(d, 'a.pcapng'), 'not a capture');
    const html = readFileSync(writeReport(d), 'utf8');
    expect(html).toContain('<svg id="rss"');
    expect(html).not.toContain('id="seq"');
  });
});

describeChromium('soak page in headless Chromium', () => {
  it('renders with nothing on the console, and has the RSS plot with its lines, windows and ticks', () => {
    const d = soakFolder('chromium', JSON.stringify(syntheticSoak(true)));
    const page = writeReport(d);
    const { dom, console } = dumpDomAndConsole(page);
    expect(console).toEqual([]);
    expect(dom).toContain('<svg id="rss"');
    expect(dom).toMatch(/<polyline class="pair"[^>]* points="[\d., ]+"/);
    expect(count(dom, /class="replica"/g)).toBe(22);
    expect(count(dom, /<rect class="window"/g)).toBe(2);
    expect(count(dom, /<line class="fault"/g)).toBe(17);
    expect(dom).toContain('<svg id="restored"');
    const png = join(d, 'report.png');
    screenshot(page, png);
    expect(existsSync(png) && statSync(png).size > 10_000).toBe(true);
  }, 300_000);
});
