// Headless Chromium for the report page: the DOM after its script ran (--dump-dom) and a
// screenshot. Skips with a printed reason when chromium is missing; a failure under CI=true
// (scripts/setup installs Debian's chromium).
import { execFileSync, spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { describeWithTool } from './etcd.js';

const CHROMIUM = process.env['FTCP_CHROMIUM'] ?? 'chromium';
const HINT = 'apt-get install chromium';

function chromiumVersion(): string | null {
  const r = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

// Root has no user namespace sandbox here; the page is our own file.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'];

export function describeChromium(name: string, fn: () => void): void {
  describeWithTool(name, chromiumVersion(), HINT, `${HINT} (looked for "${CHROMIUM}")`, fn);
}

/** The DOM of `file` after load, as Chromium serialises it. */
export function dumpDom(file: string): string {
  return execFileSync(CHROMIUM, [...FLAGS, '--dump-dom', pathToFileURL(file).href], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
}

/**
 * The DOM of `file` after load, and what the page said on its console (script errors, blocked
 * loads, console.* calls: Chromium logs each as a CONSOLE line on stderr with --enable-logging).
 */
export function dumpDomAndConsole(file: string): { dom: string; console: string[] } {
  const r = spawnSync(CHROMIUM, [...FLAGS, '--enable-logging=stderr', '--v=0', '--dump-dom', pathToFileURL(file).href], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`chromium --dump-dom ${file}: exit ${r.status ?? r.signal}: ${r.stderr.slice(-500)}`);
  return { dom: r.stdout, console: r.stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l)) };
}

/** Writes a PNG of `file` to `png`. */
export function screenshot(file: string, png: string): void {
  execFileSync(CHROMIUM, [...FLAGS, `--screenshot=${png}`, '--window-size=1400,2000', pathToFileURL(file).href], { timeout: 120_000, stdio: 'ignore' });
}
