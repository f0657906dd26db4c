/**
 * `ftcp conformance PATH...`: run packetdrill-dialect scripts against the stack, one fresh
 * stack per script, in virtual time; `--target linux` against the Linux kernel in a network
 * namespace of its own per script, in real time; `--target both` against each, then prints
 * the lines where they differ. Directories are searched recursively for *.pkt.
 *
 *   ok   test/conformance/handshake/passive-open.pkt
 *   FAIL test/conformance/close/fin-wait-2.pkt:14: expected: > F. 1:1(0) ack 2  actual: > . 1:1(0) ack 2 ...
 *   41 passed, 1 failed
 *
 * Exit status: 0 when every counted script passes, 1 when one fails, 2 for bad usage (a path
 * that does not exist, no scripts found) or a script that cannot be run as written, 5 when the
 * stack crashed.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { differences, formatDifference, type Difference } from '../conformance/compare.js';
import { linuxTargetMissing } from '../conformance/linux/kernel.js';
import { LinuxTargetError, runScriptTextLinux } from '../conformance/linux/runner.js';
import { runScriptText, type RunFailure, type RunOptions, type RunResult } from '../conformance/runner.js';
import { openCaptureFile } from '../pcap/capture-file.js';
import { STACK_PROFILES, type StackProfile } from '../tcp/types.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { checkOutputFile } from './validate.js';
import { helpAfter } from './help-layout.js';

interface ConformanceFlags {
  json?: boolean;
  toleranceUsecs?: string;
  verbose?: boolean;
  capture?: string;
  target?: string;
  profile?: string;
  tail?: string;
}

const TARGETS = { ftcp: ['ftcp'], linux: ['linux'], both: ['ftcp', 'linux'] } as const;
type TargetName = 'ftcp' | 'linux';

/**
 * ok: passed. FAIL: the stack did something else than the script says. ERROR: the script
 * cannot be run as written (syntax, an option or call the runner cannot honour, no events).
 * CRASH: the stack threw. PENDING: a script under a pending/ folder or marked `// pending:`,
 * run and shown but not counted against the run.
 */
export type ScriptStatus = 'ok' | 'FAIL' | 'ERROR' | 'CRASH';

export interface ScriptReport {
  path: string;
  ok: boolean;
  status: ScriptStatus;
  pending: boolean;
  /** With --target linux or both: which target this result is from. */
  target?: TargetName;
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
    .option('--target <target>', 'ftcp (the stack, virtual time), linux (the kernel in a network namespace through a TUN device, real time; needs root, see below) or both (each, then the lines where they differ)', 'ftcp')
    .option('--json', 'print exactly one JSON object: {passed, failed, errors, crashed, pending, results: [{path, target?, status, pending, line?, expected?, actual?, warnings}], differences?: [{path, line, actual: {ftcp, linux}}]}')
    .option('-v, --verbose', 'print every packet of each script as it happens: < what the script injected, > what the stack sent (in script terms, with its line and time)')
    .option('--capture <file>', 'write every packet of the run to a pcapng file, one interface per script (and target), virtual (ftcp) or real (linux) time as timestamps')
    .option('--profile <profile>', 'the stack\'s choices where the RFCs allow more than one: rfc (default) or linux (Linux\'s: PSH per write, interactive-mode ACKs, RTO floor on RTTVAR, slow start per segment, ...; see docs/conformance.md); a script\'s own --profile=... wins; the linux target is always Linux')
    .option('--tail <rule>', 'packets the target sends after a script\'s last outbound (>) line: fail (default: no packet goes unlisted) or ignore (packetdrill\'s rule: only a > line reads a packet, so those after the last one are not checked; a warning names them)')
    .option('--tolerance-usecs <us>', 'how far from its scripted time a packet or call may happen, for every script (overrides the scripts\' --tolerance_usecs; default: theirs, else 4000)')
    .addHelpText(
      'after',
      helpAfter('\nEach script runs against a fresh stack (192.0.2.10) with a fixed seed; the script plays the peer\n' +
        '(192.0.2.1). The first mismatch is reported with its script line, what was expected and what the\n' +
        'stack did. A script under a pending/ folder, or with a `// pending: why` line, is run and shown\n' +
        'as PENDING (a behaviour not implemented yet) without counting against the run.\n\n' +
        '--target linux runs each script against the Linux kernel: a network namespace made for the\n' +
        'script and removed after it (also on failure and Ctrl-C), the kernel at the stack\'s address on a\n' +
        'TUN device, sysctls set as packetdrill\'s defaults inside the namespace only, socket calls made by\n' +
        'a python3 helper there; times are real, within the tolerance. It needs root, ip (iproute2),\n' +
        '/dev/net/tun and python3. An option or call the kernel side cannot honour is an ERROR at its\n' +
        'line. --target both runs ftcp then linux and prints, per script, "line N: ftcp ..., linux ...".\n\n' +
        'Exit codes: 0 every counted script passed; 1 a script FAILed (the stack did something else);\n' +
        '2 bad usage, or a script ERROR (syntax, an option or call the runner cannot honour, no events);\n' +
        '5 the stack CRASHed. The worst one decides.\n\n' +
        'Examples:\n  ftcp conformance test/conformance\n  ftcp conformance --target both --profile linux test/conformance/nagle\n  ftcp conformance --target both test/conformance/handshake/passive-open.pkt')
    )
    .action(async (paths: string[], flags: ConformanceFlags) => {
      setExitCode(await conformance(paths, flags, io));
    });
}

async function conformance(paths: string[], flags: ConformanceFlags, io: CliIo): Promise<number> {
  const target = flags.target ?? 'ftcp';
  if (!Object.hasOwn(TARGETS, target)) throw new UsageError(`--target must be ftcp, linux or both, got ${target}`);
  const targets: readonly TargetName[] = TARGETS[target as keyof typeof TARGETS];
  const toleranceUs = flags.toleranceUsecs === undefined ? undefined : parseTolerance(flags.toleranceUsecs);
  const profile = flags.profile;
  if (profile !== undefined && !(STACK_PROFILES as readonly string[]).includes(profile)) throw new UsageError(`--profile must be ${STACK_PROFILES.join(' or ')}, got ${profile}`);
  const tail = flags.tail ?? 'fail';
  if (tail !== 'fail' && tail !== 'ignore') throw new UsageError(`--tail must be fail or ignore, got ${tail}`);
  const files = collectScripts(paths);
  if (target !== 'ftcp') {
    const missing = linuxTargetMissing();
    if (missing.length > 0) throw new UsageError(`--target ${target} needs ${missing.join('; ')}`);
  }
  if (flags.capture !== undefined) checkOutputFile('--capture', flags.capture);
  const capture = flags.capture === undefined ? undefined : openCaptureFile(flags.capture, { application: 'ftcp conformance' });
  const verbose = flags.verbose === true && flags.json !== true;
  const reports: ScriptReport[] = [];
  const diffs: (Difference & { path: string })[] = [];
  for (const path of files) {
    const text = readFileSync(path, 'utf8');
    if (BINARY.test(text)) {
      const report = binaryReport(path);
      if (flags.json !== true) printReport(report, io);
      reports.push(report);
      continue;
    }
    const runs = [];
    for (const name of targets) {
      const label = target === 'ftcp' ? path : `${path} (${name})`;
      const iface = capture?.writer.addInterface(label, { description: `conformance script ${label}: the script is the remote address, the ${name === 'ftcp' ? 'stack' : 'kernel'} the local one; ${name === 'ftcp' ? 'virtual' : 'real'} time` });
      if (verbose) io.stdout(`${label}\n`);
      const onPacket = verbose || capture !== undefined
        ? (direction: '<' | '>', timeUs: number, bytes: Uint8Array, what: string) => {
            if (verbose) io.stdout(`  ${direction} ${what}\n`);
            if (iface !== undefined) capture!.writer.writePacket(iface, Math.max(0, timeUs), bytes, `${direction} ${what}`);
          }
        : undefined;
      const lines = new Map<number, string>();
      const options: RunOptions = { tail, ...(toleranceUs !== undefined ? { toleranceUs } : {}), ...(profile !== undefined && name === 'ftcp' ? { profile: profile as StackProfile } : {}), ...(onPacket !== undefined ? { onPacket } : {}), ...(targets.length > 1 ? { trace: (line: number, actual: string) => void lines.set(line, actual) } : {}) };
      const result = name === 'ftcp' ? runScriptText(text, options) : await runLinux(text, options);
      const report = reportOf(path, isPending(path, text), result, target === 'ftcp' ? undefined : name);
      if (flags.json !== true) printReport(report, io);
      reports.push(report);
      runs.push({ name, lines, result });
    }
    if (runs.length === 2) {
      const found = differences(runs[0]!, runs[1]!);
      for (const d of found) if (flags.json !== true) io.stdout(`  ${formatDifference(d)}\n`);
      diffs.push(...found.map((d) => ({ path, ...d })));
    }
  }
  capture?.file.close();
  return finish(reports, target === 'both' ? diffs : undefined, flags, io);
}

/** The linux target's run; a namespace that could not be made is that script's ERROR. */
async function runLinux(text: string, options: RunOptions): Promise<RunResult> {
  try {
    return await runScriptTextLinux(text, options);
  } catch (error) {
    if (!(error instanceof LinuxTargetError)) throw error;
    const message = `the linux target could not run the script: ${error.message}`;
    return { ok: false, warnings: [], failure: { line: 1, kind: 'script', expected: message, actual: '', message: `script line 1: ${message}` } };
  }
}

/** Totals, the JSON object or the summary line, and the exit code: the worst result decides. */
function finish(reports: ScriptReport[], diffs: (Difference & { path: string })[] | undefined, flags: ConformanceFlags, io: CliIo): number {
  const counted = reports.filter((r) => !r.pending);
  const count = (status: ScriptStatus) => counted.filter((r) => r.status === status).length;
  const totals = { passed: count('ok'), failed: count('FAIL'), errors: count('ERROR'), crashed: count('CRASH'), pending: reports.length - counted.length };
  if (flags.json === true) {
    io.stdout(`${JSON.stringify({ ...totals, results: reports, ...(diffs !== undefined ? { differences: diffs } : {}) })}\n`);
  } else {
    const parts = [`${totals.passed} passed`, `${totals.failed} failed`, ...(totals.errors > 0 ? [`${totals.errors} errors`] : []), ...(totals.crashed > 0 ? [`${totals.crashed} crashed`] : []), ...(totals.pending > 0 ? [`${totals.pending} pending`] : [])];
    io.stdout(`${parts.join(', ')}${diffs !== undefined ? `; ${diffs.length} line${diffs.length === 1 ? '' : 's'} where ftcp and linux differ` : ''}\n`);
  }
  const firstError = counted.find((r) => r.status === 'ERROR');
  if (firstError !== undefined) io.stderr(`error: ${totals.errors === 1 ? '' : `${totals.errors} scripts could not be run; the first: `}${firstError.path}${firstError.line !== undefined ? `:${firstError.line}` : ''}: ${firstError.message ?? 'error'}\n`);
  if (totals.crashed > 0) return EXIT.crash;
  if (totals.errors > 0) return EXIT.usage;
  return totals.failed > 0 ? EXIT.correctness : EXIT.ok;
}

/** A script's line, printed as soon as it has run (so a long run shows its progress). */
function printReport(r: ScriptReport, io: CliIo): void {
  for (const w of r.warnings) io.stderr(`warning: ${r.path}: ${w}\n`);
  const label = r.pending ? `PENDING (${r.status === 'ok' ? 'passes now: move it out of pending' : r.status})` : r.status;
  const target = r.target === undefined ? '' : ` (${r.target})`;
  io.stdout(r.status === 'ok' && !r.pending ? `ok   ${r.path}${target}\n` : `${label} ${r.path}${r.line !== undefined ? `:${r.line}` : ''}${target}${r.message !== undefined ? `: ${r.message}` : ''}\n`);
}

function parseTolerance(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 60_000_000) throw new UsageError(`--tolerance-usecs must be an integer from 0 to 60000000 (microseconds), got ${text}`);
  return Number(text);
}

/** A script the corpus keeps for a behaviour not implemented yet. */
function isPending(path: string, text: string): boolean {
  return /(^|[\\/])pending[\\/]/.test(path) || /^\s*\/\/\s*pending:/m.test(text);
}

/** NUL bytes or undecodable UTF-8: not a text script at all (a capture, an image, ...). */
const BINARY = /[\u0000\uFFFD]/;

function binaryReport(path: string): ScriptReport {
  return { path, ok: false, status: 'ERROR', pending: false, line: 1, message: 'binary data, not a script (give a packetdrill .pkt text file)', warnings: [] };
}

const STATUS_OF: Record<RunFailure['kind'], ScriptStatus> = { mismatch: 'FAIL', parse: 'ERROR', script: 'ERROR', crash: 'CRASH' };

function reportOf(path: string, pending: boolean, result: RunResult, target: TargetName | undefined): ScriptReport {
  const f = result.failure;
  const which = target === undefined ? {} : { target };
  if (f === undefined) return { path, ...which, ok: true, status: 'ok', pending, warnings: result.warnings };
  // The text line already names the path and line: keep the column of a parse error, drop the rest of the prefix.
  const message = f.message.replace(/^script line \d+(, column (\d+))?: /, (_m, _c, column: string | undefined) => (column === undefined ? '' : `column ${column}: `));
  return { path, ...which, ok: false, status: STATUS_OF[f.kind], pending, line: f.line, expected: f.expected, actual: f.actual, message, warnings: result.warnings };
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
