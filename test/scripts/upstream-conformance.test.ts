// scripts/upstream-conformance.mjs: counts an upstream suite's scripts as expressible
// (PASS or FAIL) or not (ERROR, grouped by construct), leaving out the excluded features.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeWithDist, root } from '../helpers/process.js';

const PASS = `0.1 < S 0:0(0) win 65535\n +0 > R. 0:0(0) ack 1\n`;
const FAIL = `0.1 < S 0:0(0) win 65535\n +0 > R 0:0(0)\n`;
const dir = mkdtempSync(join(tmpdir(), 'ftcp-upstream-'));
mkdirSync(join(dir, 'sub'));
mkdirSync(join(dir, 'fastopen'));
writeFileSync(join(dir, 'pass.pkt'), PASS);
writeFileSync(join(dir, 'sub', 'fail.pkt'), FAIL);
writeFileSync(join(dir, 'sub', 'opt-a.pkt'), `--frobnicate=1\n${PASS}`);
writeFileSync(join(dir, 'sub', 'opt-b.pkt'), `--frobnicate=2\n${PASS}`);
writeFileSync(join(dir, 'flag.pkt'), `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bogus(3) = 0\n`);
// Excluded by the defaults (fast open) and by --exclude; both would be ERRORs if run.
writeFileSync(join(dir, 'fastopen', 'tfo.pkt'), `--frobnicate=3\n${PASS}`);
writeFileSync(join(dir, 'skip-me.pkt'), `--frobnicate=4\n${PASS}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'upstream-conformance.mjs'), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describeWithDist('scripts/upstream-conformance.mjs', ['cli/main', 'conformance/runner', 'conformance/settings'], () => {
  it('counts expressible, pass, fail and error, and groups errors by construct', () => {
    const r = run(['--list', '--exclude', '^skip-', dir]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('scripts 7 excluded 2 in-scope 5 expressible 2 (40%) pass 1 (20%) fail 1 error 3 crash 0');
    expect(lines[1]).toBe("tail rule ignore (packetdrill's): 0 of the passes left packets after their last outbound line unchecked");
    expect(lines).toContain('excluded 1: fast open (TFO)');
    expect(lines).toContain('excluded 1: --exclude');
    // The two unknown options are one construct (their values folded), listed before the single one.
    const errors = lines.filter((l) => l.startsWith('error '));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^error 2: unknown option --frobnicate/);
    expect(errors[1]).toMatch(/^error 1: .*bogus/);
    expect(lines).toContain('ok pass.pkt');
    expect(lines.some((l) => l.startsWith('FAIL sub/fail.pkt:2 '))).toBe(true);
  });

  it('without the default exclusions the fast-open script is in scope', () => {
    const r = run(['--no-default-excludes', '--tail', 'fail', dir]);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[1]).toBe('tail rule fail (every packet a target sends must be listed)');
    expect(r.stdout.split('\n')[0]).toBe('scripts 7 excluded 0 in-scope 7 expressible 2 (28.6%) pass 1 (14.3%) fail 1 error 5 crash 0');
  });

  it('a missing DIR or an empty one is a usage error, exit 2', () => {
    expect(run([]).status).toBe(2);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const r = run([empty]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no \.pkt scripts in scope/);
  });
});
