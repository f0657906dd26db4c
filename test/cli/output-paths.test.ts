// Output paths are checked before anything starts: an existing file given as a directory,
// a path in /proc, a directory that cannot be written (and, for a file, a directory given
// as one) each get one line and exit 2, never a stack trace or a hang.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { bin, root } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-paths-'));
chmodSync(dir, 0o755); // so that user nobody (below, when root) can reach the locked directory
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
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
if (isRoot && SETPRIV === undefined) console.log('output-paths: running as root (which may write a mode 0500 directory) without setpriv to drop to user nobody: the unwritable-directory cases are not run');

/** The CLI as user nobody when we are root (root writes anywhere): the built bin/ftcp.js under setpriv. */
async function cliUnprivileged(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!isRoot) return cli(args);
  const r = spawnSync(SETPRIV!, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bin, ...args], { cwd: root, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
const canDropRoot = !isRoot || SETPRIV !== undefined || process.env['CI'] === 'true';

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
  it.skipIf(!canDropRoot)('an unwritable directory', async () => {
    expectOneLine(await cliUnprivileged([...args, join(locked, 'out')]), /is not writable/);
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
  it.skipIf(!canDropRoot)('in an unwritable directory', async () => {
    expectOneLine(await cliUnprivileged([...args, join(locked, 'x.pcapng')]), /is not writable/);
  }, 20_000);
});
