#!/usr/bin/env node
// `npm run docs`: regenerates the README's example outputs from real runs, so that they
// cannot drift from what the commands print. A region
//
//   <!-- docs:run NAME [variable="REGEX"] -->
//   ```console
//   $ ftcp ...                          (each `$` line is run, in order, in one shell at the
//                                        repository's root; regions run in file order)
//   ...its output...
//   $ ftcp ... # (output not shown)     (run, but its output is left out)
//   ```
//   <!-- docs:end -->
//
// is rewritten with each command's stdout. `ftcp` is this checkout's bin/ftcp.js (built
// first by the npm script). Parts of the output that vary from run to run (wall-clock
// timings, seeds from the clock) are named by the region's `variable` regex; with
// `--check` nothing is written and the exit code is 1 when the README differs from a fresh
// run anywhere outside those parts.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const readmePath = join(root, 'README.md');
const check = process.argv.includes('--check');
const REGION = /<!-- docs:run ([\w-]+)(?: variable="([^"]*)")? -->\n```(\w*)\n([\s\S]*?)\n```\n<!-- docs:end -->/g;
const HIDDEN = /\s+# \(output not shown\)$/;
const SEPARATOR = '@@ftcp-docs-next-command@@';

function runRegion(body) {
  const commands = body.split('\n').filter((l) => l.startsWith('$ ')).map((l) => l.slice(2));
  if (commands.length === 0) throw new Error('a docs:run region holds no `$ ` command');
  const shim = mkdtempSync(join(tmpdir(), 'ftcp-docs-'));
  try {
    writeFileSync(join(shim, 'ftcp'), `#!/bin/sh\nexec "${process.execPath}" "${join(root, 'bin', 'ftcp.js')}" "$@"\n`);
    chmodSync(join(shim, 'ftcp'), 0o755);
    const script = commands.map((c) => `${c.replace(HIDDEN, '')}\necho ${SEPARATOR}`).join('\n');
    const out = execFileSync('sh', ['-c', script], { cwd: root, env: { ...process.env, PATH: `${shim}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const outputs = out.split(`${SEPARATOR}\n`);
    return commands.map((c, i) => [`$ ${c}`, ...(HIDDEN.test(c) ? [] : (outputs[i] ?? '').replace(/\n$/, '').split('\n').filter((l, j, all) => l !== '' || j < all.length - 1))].join('\n')).join('\n');
  } finally {
    rmSync(shim, { recursive: true, force: true });
  }
}

const readme = readFileSync(readmePath, 'utf8');
const differing = [];
const fresh = readme.replace(REGION, (whole, name, variable, lang, body) => {
  const text = runRegion(body);
  const mask = (t) => (variable === undefined ? t : t.replace(new RegExp(variable, 'g'), '<variable>'));
  if (mask(text) !== mask(body)) differing.push(name);
  // with --check the README's own variable parts are kept; a write takes the fresh run's.
  return `<!-- docs:run ${name}${variable !== undefined ? ` variable="${variable}"` : ''} -->\n\`\`\`${lang}\n${text}\n\`\`\`\n<!-- docs:end -->`;
});
const regions = [...readme.matchAll(REGION)].length;
if (check) {
  if (differing.length > 0) {
    process.stderr.write(`README.md: ${differing.length} of ${regions} example(s) differ from a fresh run: ${differing.join(', ')} (run npm run docs)\n`);
    process.exit(1);
  }
  process.stdout.write(`README.md: all ${regions} example(s) match a fresh run\n`);
} else {
  if (fresh !== readme) writeFileSync(readmePath, fresh);
  process.stdout.write(`README.md: ${regions} example(s) regenerated${differing.length > 0 ? `; changed: ${differing.join(', ')}` : '; none changed'}\n`);
}
