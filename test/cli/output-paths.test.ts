// Output paths are checked before anything starts: an existing file given as a directory,
// a path in /proc, a directory that cannot be written (and, for a file, a directory given
// as one) each get one line and exit 2, never a stack trace or a hang.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { root } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-paths-'));
const file = join(dir, 'a-file');
writeFileSync(file, 'x');
const locked = join(dir, 'locked');
mkdirSync(locked);
chmodSync(locked, 0o500);
afterAll(() => {
  chmodSync(locked, 0o700);
  rmSync(dir, { recursive: true, force: true });
});
const isRoot = process.getuid?.() === 0;
if (isRoot) console.log('output-paths: running as root, which may write a mode 0500 directory: the unwritable-directory cases are not run');

/** Each command, with the flag under test last. */
const DIR_COMMANDS: Array<[string, string[]]> = [
  ['demo --sim', ['demo', 'failover', '--sim', '--seed', '1', '--capture-dir']],
  ['demo (live)', ['demo', 'failover', '--seed', '1', '--capture-dir']],
  ['scenario', ['scenario', 'run', join(root, 'scenarios', 'failover.yaml'), '--capture-dir']],
  ['chaos', ['chaos', '--seed', '1', '--capture-dir']],
  ['fuzz', ['fuzz', '--seed', '1', '--capture-dir']],
  ['replica', ['replica', '--role', 'primary', '--name', 'a', '--peer', 'b', '--capture-dir']],
  ['sim transfer', ['sim', 'transfer', '--seed', '1', '--capture']],
];

function expectOneLine(r: { code: number; stdout: string; stderr: string }, message: RegExp): void {
  expect(r.code, r.stdout + r.stderr).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('(add --help'))).toHaveLength(1);
}

describe.each(DIR_COMMANDS)('%s: a bad output directory', (_name, args) => {
  it('an existing file', async () => {
    expectOneLine(await cli([...args, file]), /is a file, not a directory/);
  }, 20_000);
  it('a file as a parent', async () => {
    expectOneLine(await cli([...args, join(file, 'sub')]), /a-file is a file, so no directory can be made under it/);
  }, 20_000);
  it('/proc/foo', async () => {
    expectOneLine(await cli([...args, '/proc/foo']), /\/proc is a kernel file system/);
  }, 20_000);
  it.skipIf(isRoot)('an unwritable directory', async () => {
    expectOneLine(await cli([...args, join(locked, 'out')]), /is not writable/);
  }, 20_000);
});

describe('switch --capture FILE', () => {
  const args = ['switch', '--listen', '127.0.0.1:0', '--insecure', '--capture'];
  it('a directory', async () => {
    expectOneLine(await cli([...args, dir]), /is a directory; give a file name/);
  }, 20_000);
  it('/proc/foo', async () => {
    expectOneLine(await cli([...args, '/proc/foo']), /\/proc is a kernel file system/);
  }, 20_000);
  it('under a file', async () => {
    expectOneLine(await cli([...args, join(file, 'x.pcapng')]), /is a file, so no directory can be made under it/);
  }, 20_000);
  it.skipIf(isRoot)('in an unwritable directory', async () => {
    expectOneLine(await cli([...args, join(locked, 'x.pcapng')]), /is not writable/);
  }, 20_000);
});
