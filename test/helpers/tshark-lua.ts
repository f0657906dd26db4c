// tshark with the project's Lua dissector (wireshark/ftcp-log.lua): does this tshark load it,
// and if not, why not.
//
// Lua scripts given with -X lua_script: are not always run. A Wireshark that ships a global
// init.lua (4.0 does) runs it first, and it may set enable_lua = false (no Lua at all) or, when tshark runs as
// root ("superuser": real uid 0 counts), run_user_scripts_when_superuser = false, in which case
// -X lua_script: is ignored without an error. Debian 12's tshark 4.0.17 ships init.lua with
// run_user_scripts_when_superuser = true, so the script loads as root here. There is no
// command-line option to override init.lua, and releases differ, so rather than guess from
// versions this helper asks tshark: it lists the protocols the script registers
// (`tshark -G protocols -X lua_script:...`) and, when they are missing, says which of the
// causes above applies.
//
// describeTsharkLua skips with the reason printed, and under CI=true fails instead, like
// describeTshark in tshark.ts.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { TSHARK_INSTALL_HINT, tsharkPath, tsharkVersion } from './tshark.js';

/** The dissector shipped in the repository. */
export const LOG_DISSECTOR = fileURLToPath(new URL('../../wireshark/ftcp-log.lua', import.meta.url));

/** The protocols ftcp-log.lua registers (their filter names). */
export const LOG_DISSECTOR_PROTOCOLS = ['ftcplog', 'ftcparb'] as const;

function runningAsRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Where this tshark keeps its global configuration (and init.lua), from `tshark -G folders`. */
function globalConfigDir(): string | undefined {
  const r = spawnSync(tsharkPath(), ['-G', 'folders'], { encoding: 'utf8', timeout: 30_000 });
  const m = /^Global configuration:\s*(.+)$/m.exec(r.stdout ?? '');
  return m?.[1]?.trim();
}

let statusCache: { ok: true } | { ok: false; reason: string } | undefined;

/**
 * Whether tshark loads wireshark/ftcp-log.lua and registers its protocols; when it does not,
 * a reason that says what to change.
 */
export function logDissectorStatus(): { ok: true } | { ok: false; reason: string } {
  if (statusCache !== undefined) return statusCache;
  statusCache = probe();
  return statusCache;
}

function probe(): { ok: true } | { ok: false; reason: string } {
  if (tsharkVersion() === null) return { ok: false, reason: `${TSHARK_INSTALL_HINT} (looked for "${tsharkPath()}")` };
  const version = spawnSync(tsharkPath(), ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (/without Lua/i.test(version.stdout ?? '')) return { ok: false, reason: `${tsharkVersion()} was built without Lua, so it cannot run ${LOG_DISSECTOR}` };
  // -G must come first; -X is still honoured after it.
  const r = spawnSync(tsharkPath(), ['-G', 'protocols', '-X', `lua_script:${LOG_DISSECTOR}`], { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 60_000 });
  const registered = new Set((r.stdout ?? '').split('\n').map((l) => l.split('\t')[2]?.trim()));
  if (LOG_DISSECTOR_PROTOCOLS.every((p) => registered.has(p))) return { ok: true };
  const stderr = (r.stderr ?? '').split('\n').filter((l) => /lua/i.test(l)).join(' ').trim();
  if (stderr !== '') return { ok: false, reason: `tshark could not load ${LOG_DISSECTOR}: ${stderr}` };
  const initLua = `${globalConfigDir() ?? '<global configuration folder>'}/init.lua`;
  if (runningAsRoot()) {
    return {
      ok: false,
      reason: `tshark ignored -X lua_script: as root: set run_user_scripts_when_superuser = true (and enable_lua = true) in ${initLua}, or run the tests as a normal user`,
    };
  }
  return { ok: false, reason: `tshark did not register ${LOG_DISSECTOR_PROTOCOLS.join('/')} from ${LOG_DISSECTOR}: is enable_lua = false in ${initLua}?` };
}

function inCi(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** describe() that needs tshark running wireshark/ftcp-log.lua: skipped with the reason, or failing under CI. */
export function describeTsharkLua(name: string, fn: () => void): void {
  const status = logDissectorStatus();
  if (status.ok) {
    describe(name, fn);
  } else if (inCi()) {
    describe(name, () => {
      it('needs tshark with Lua (CI installs it)', () => {
        throw new Error(`${status.reason}; under CI this is a failure, not a skip`);
      });
    });
  } else {
    console.warn(`[skip] ${name}: ${status.reason}`);
    describe.skip(`${name} (skipped: ${status.reason})`, fn);
  }
}

// Field separators that cannot occur in expert messages or comments (as in tshark.ts).
const SEP = '\u001e';
const AGG = '\u001f';

export interface LuaFieldsRun {
  /** One row per packet; one cell per field; each cell lists every occurrence, in tree order. */
  rows: string[][][];
  exitCode: number;
  /** stderr without the "Running as user root" warning. */
  stderr: string;
}

/**
 * `tshark -X lua_script:wireshark/ftcp-log.lua -r path -T fields -e ...`, checksum validation
 * on, plus any extra options (`-o`, `-d`).
 */
export function tsharkLuaFields(path: string, fields: readonly string[], extra: readonly string[] = []): LuaFieldsRun {
  const args = ['-n', '-X', `lua_script:${LOG_DISSECTOR}`, '-r', path, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', ...extra];
  args.push('-T', 'fields', '-E', `separator=${SEP}`, '-E', `aggregator=${AGG}`, '-E', 'occurrence=a');
  for (const f of fields) args.push('-e', f);
  const r = spawnSync(tsharkPath(), args, { encoding: 'utf8', maxBuffer: 1 << 30, timeout: 300_000 });
  if (r.error) throw new Error(`could not run ${tsharkPath()}: ${r.error.message}`);
  const stderr = r.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^Running as user ".*" and group ".*"\. This could be dangerous\.$/.test(l.trim()))
    .join('\n');
  const rows = r.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split(SEP).map((cell) => (cell === '' ? [] : cell.split(AGG))));
  return { rows, exitCode: r.status ?? -1, stderr };
}

/** `tshark -X lua_script:... -r path` with extra arguments (e.g. -V, -Y), as text. */
export function tsharkLuaText(path: string, extra: readonly string[]): string {
  const r = spawnSync(tsharkPath(), ['-n', '-X', `lua_script:${LOG_DISSECTOR}`, '-r', path, ...extra], { encoding: 'utf8', maxBuffer: 1 << 30, timeout: 300_000 });
  if (r.error) throw new Error(`could not run ${tsharkPath()}: ${r.error.message}`);
  return r.stdout;
}
