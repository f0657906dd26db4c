// `ftcp report DIR` on a soak's run directory (only soak.json in it): the soak page written
// and its path printed, exit 0; a corrupt or foreign soak.json: one line, exit 2, no page.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { syntheticSoak } from '../helpers/soak-result.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-report-soak-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function folder(name: string, soakJson: string): string {
  const d = join(dir, name);
  mkdirSync(d);
  writeFileSync(join(d, 'soak.json'), soakJson);
  return d;
}

describe('ftcp report on a soak', () => {
  it('a folder holding only soak.json: report.html written, its path printed, exit 0', async () => {
    const d = folder('ok', JSON.stringify(syntheticSoak(true)));
    const r = await cli(['report', d]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`report: ${join(d, 'report.html')}\n`);
    const html = readFileSync(join(d, 'report.html'), 'utf8');
    expect(html).toContain('<svg id="rss"');
    expect(html).toMatch(/RSS of the pair<\/th><td>[^<]*NOT flat/);
  });

  it.each([
    ['corrupt', '{"ok":false,"faults":[{"n":1,'],
    ['not a soak result', JSON.stringify({ ok: true, streams: { intact: 1, broken: 0 } })],
    ['empty', ''],
  ])('%s soak.json: one line on stderr, exit 2, no page', async (name, content) => {
    const d = folder(name.replace(/ /g, '-'), content);
    const r = await cli(['report', d]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^error: ftcp report: ${join(d, 'soak.json').replace(/[.]/g, '\\.')} is not a soak result: `));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(d, 'report.html'))).toBe(false);
  });
});
