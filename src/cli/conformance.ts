/**
 * `ftcp conformance PATH...`: run packetdrill-dialect scripts against the stack, one fresh
 * stack per script, in virtual time. Directories are searched recursively for *.pkt.
 *
 *   ok   test/conformance/handshake/passive-open.pkt
 *   FAIL test/conformance/close/fin-wait-2.pkt:14: expected: > F. 1:1(0) ack 2  actual: > . 1:1(0) ack 2 ...
 *   41 passed, 1 failed
 *
 * Exit status: 0 when every script passes, 1 when one fails, 2 for bad usage (a path that
 * does not exist, no scripts found).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { runScriptText, type RunResult } from '../conformance/runner.js';
import { EXIT, UsageError, type CliIo } from './io.js';

interface ConformanceFlags {
  json?: boolean;
}

export interface ScriptReport {
  path: string;
  ok: boolean;
  line?: number;
  expected?: string;
  actual?: string;
  /** The whole failure in one line (what the text output prints after the path). */
  message?: string;
  warnings: string[];
}

export function registerConformanceCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('conformance')
    .description('run TCP conformance scripts (packetdrill dialect) against the stack in virtual time')
    .argument('<path...>', '.pkt script files, or directories searched recursively for *.pkt')
    .option('--json', 'print exactly one JSON object: {passed, failed, results: [{path, ok, line?, expected?, actual?, warnings}]}')
    .addHelpText(
      'after',
      '\nEach script runs against a fresh stack (192.0.2.10) with a fixed seed; the script plays the peer\n' +
        '(192.0.2.1). The first mismatch is reported with its script line, what was expected and what the\n' +
        'stack did.\n\n' +
        'Exit codes: 0 all passed; 1 a script failed; 2 bad usage.\n\n' +
        'Example:\n  ftcp conformance test/conformance',
    )
    .action((paths: string[], flags: ConformanceFlags) => {
      setExitCode(conformance(paths, flags, io));
    });
}

function conformance(paths: string[], flags: ConformanceFlags, io: CliIo): number {
  const files = collectScripts(paths);
  const reports = files.map((path) => reportOf(path, runScriptText(readFileSync(path, 'utf8'))));
  const passed = reports.filter((r) => r.ok).length;
  const failed = reports.length - passed;
  if (flags.json === true) {
    io.stdout(`${JSON.stringify({ passed, failed, results: reports })}\n`);
  } else {
    for (const r of reports) {
      for (const w of r.warnings) io.stderr(`warning: ${r.path}: ${w}\n`);
      io.stdout(r.ok ? `ok   ${r.path}\n` : `FAIL ${r.path}:${r.line ?? 0}: ${r.message ?? ''}\n`);
    }
    io.stdout(`${passed} passed, ${failed} failed\n`);
  }
  return failed === 0 ? EXIT.ok : EXIT.correctness;
}

function reportOf(path: string, result: RunResult): ScriptReport {
  const f = result.failure;
  if (f === undefined) return { path, ok: true, warnings: result.warnings };
  // The text line already names the path and line: keep the column of a parse error, drop the rest of the prefix.
  const message = f.message.replace(/^script line \d+(, column (\d+))?: /, (_m, _c, column: string | undefined) => (column === undefined ? '' : `column ${column}: `));
  return { path, ok: false, line: f.line, expected: f.expected, actual: f.actual, message, warnings: result.warnings };
}

/** The .pkt files named by `paths` (files as given, directories recursively, sorted), or a UsageError. */
export function collectScripts(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      throw new UsageError(`no such file or directory: ${p}`);
    }
    if (!isDir) {
      out.push(p);
      continue;
    }
    const found = walk(p);
    if (found.length === 0) throw new UsageError(`no .pkt scripts under ${p}`);
    out.push(...found);
  }
  return out;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(path));
    else if (e.isFile() && e.name.endsWith('.pkt')) out.push(path);
  }
  return out;
}
