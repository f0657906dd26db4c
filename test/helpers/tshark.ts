// tshark for capture tests: is it installed, and what does it think of a capture file?
//
// Checked with TShark 4.0.17 (Debian 12). Field names used, all present in that version:
//   frame.comment         packet comment (opt_comment); older 3.x releases called it pkt_comment
//   _ws.malformed         set on a packet whose dissection hit an exception ("Malformed Packet")
//   ip.checksum.status    0 bad, 1 good, 2 unverified (needs -o ip.check_checksum:TRUE)
//   tcp.checksum.status   the same for TCP (needs -o tcp.check_checksum:TRUE)
//   _ws.expert.severity   per expert item: 0x800000 error, 0x600000 warning, 0x400000 note,
//                         0x200000 chat, 0x100000 comment (packet comments are "comment")
//   _ws.expert.message    the expert item's text
//
// describeTshark / itWithTshark skip with a printed reason when tshark is missing, and fail
// instead when CI is set (CI installs tshark, so a missing one there is a broken runner).

import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';

export const TSHARK_INSTALL_HINT = 'tshark not installed: apt-get install -y tshark';

/** The tshark binary: $TSHARK if set, else `tshark` on PATH. */
export function tsharkPath(): string {
  return process.env['TSHARK'] || 'tshark';
}

let versionCache: string | null | undefined;

/** First line of `tshark --version`, or null when tshark cannot be run. */
export function tsharkVersion(): string | null {
  if (versionCache !== undefined) return versionCache;
  const r = spawnSync(tsharkPath(), ['--version'], { encoding: 'utf8', timeout: 30_000 });
  versionCache = r.error || r.status !== 0 ? null : (r.stdout.split('\n')[0] ?? '').trim();
  return versionCache;
}

export function tsharkAvailable(): boolean {
  return tsharkVersion() !== null;
}

/** True when running under CI, where a missing tshark must fail rather than skip. */
function inCi(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** Options that turn checksum validation on (it is off by default in Wireshark). */
export const CHECKSUM_PREFS = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE'];

/** tshark's stderr without the harmless "Running as user root ... could be dangerous." line. */
function cleanStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^Running as user ".*" and group ".*"\. This could be dangerous\.$/.test(l.trim()))
    .join('\n');
}

export interface TsharkRun {
  /** One row per packet, one cell per requested field; each cell lists every occurrence. */
  rows: string[][][];
  exitCode: number;
  /** stderr minus the root warning. */
  stderr: string;
  /** tshark said the file ends in the middle of a packet. */
  cutShort: boolean;
}

// Field separators that cannot occur in expert messages or comments.
const SEP = '\u001e';
const AGG = '\u001f';

/**
 * Runs `tshark -r path -T fields -e f1 -e f2 ...` with checksum validation on, and returns the
 * fields per packet. `filter` is an optional display filter (-Y).
 */
export function tsharkFields(path: string, fields: readonly string[], filter?: string): TsharkRun {
  const args = ['-n', '-r', path, ...CHECKSUM_PREFS, '-T', 'fields', '-E', `separator=${SEP}`, '-E', `aggregator=${AGG}`, '-E', 'occurrence=a'];
  for (const f of fields) args.push('-e', f);
  if (filter !== undefined) args.push('-Y', filter);
  const r = spawnSync(tsharkPath(), args, { encoding: 'utf8', maxBuffer: 1 << 30, timeout: 300_000 });
  if (r.error) throw new Error(`could not run ${tsharkPath()}: ${r.error.message}`);
  const stderr = cleanStderr(r.stderr);
  const rows = r.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split(SEP).map((cell) => (cell === '' ? [] : cell.split(AGG))));
  return { rows, exitCode: r.status ?? -1, stderr, cutShort: /cut short in the middle of a packet/.test(stderr) };
}

export type ExpertSeverity = 'error' | 'warning' | 'note' | 'chat' | 'comment';

const SEVERITIES: Record<string, ExpertSeverity> = {
  '8388608': 'error', // PI_ERROR   0x00800000
  '6291456': 'warning', // PI_WARN  0x00600000
  '4194304': 'note', // PI_NOTE     0x00400000
  '2097152': 'chat', // PI_CHAT     0x00200000
  '1048576': 'comment', // PI_COMMENT 0x00100000
};

export interface CaptureCheck {
  packets: number;
  /** Packets flagged _ws.malformed. */
  malformed: number;
  /** Packets with an IPv4 header checksum tshark calls bad. */
  badIpChecksums: number;
  /** Packets with a TCP checksum tshark calls bad. */
  badTcpChecksums: number;
  /** badIpChecksums + badTcpChecksums. */
  badChecksums: number;
  /** Expert items by severity, over the whole file. */
  expert: Record<ExpertSeverity, number>;
  /** Every expert item of severity error or warning, for failure messages. */
  problems: { frame: number; severity: ExpertSeverity; message: string }[];
  /** Packet comments as tshark sees them (frame.comment). */
  comments: { frame: number; comment: string }[];
  exitCode: number;
  stderr: string;
  cutShort: boolean;
}

const CHECK_FIELDS = [
  'frame.number',
  '_ws.malformed',
  'ip.checksum.status',
  'tcp.checksum.status',
  '_ws.expert.severity',
  '_ws.expert.message',
  'frame.comment',
] as const;

/**
 * Reads a capture with tshark, checksum validation on, and counts packets, malformed packets,
 * bad IPv4/TCP checksums and expert items. A clean capture has malformed = badChecksums = 0,
 * exitCode 0 and cutShort false.
 */
export function checkCaptureWithTshark(path: string): CaptureCheck {
  const run = tsharkFields(path, CHECK_FIELDS);
  const check: CaptureCheck = {
    packets: 0,
    malformed: 0,
    badIpChecksums: 0,
    badTcpChecksums: 0,
    badChecksums: 0,
    expert: { error: 0, warning: 0, note: 0, chat: 0, comment: 0 },
    problems: [],
    comments: [],
    exitCode: run.exitCode,
    stderr: run.stderr,
    cutShort: run.cutShort,
  };
  for (const row of run.rows) {
    const cell = (i: number): string[] => row[i] ?? [];
    const frame = Number(cell(0)[0]);
    check.packets++;
    if (cell(1).length > 0) check.malformed++;
    if (cell(2).includes('0')) check.badIpChecksums++;
    if (cell(3).includes('0')) check.badTcpChecksums++;
    const severities = cell(4);
    const messages = cell(5);
    severities.forEach((s, i) => {
      const severity = SEVERITIES[s];
      if (severity === undefined) return;
      check.expert[severity]++;
      if (severity === 'error' || severity === 'warning') check.problems.push({ frame, severity, message: messages[i] ?? '' });
    });
    for (const comment of cell(6)) check.comments.push({ frame, comment });
  }
  check.badChecksums = check.badIpChecksums + check.badTcpChecksums;
  return check;
}

function missingReason(): string {
  return `${TSHARK_INSTALL_HINT} (looked for "${tsharkPath()}")`;
}

/**
 * describe() that needs tshark. Without it: skipped with a printed reason, or, under CI=true,
 * a failing test in its place.
 */
export function describeTshark(name: string, fn: () => void): void {
  if (tsharkAvailable()) {
    describe(name, fn);
  } else if (inCi()) {
    describe(name, () => {
      it('needs tshark (CI installs it)', () => {
        throw new Error(`${missingReason()}; under CI this is a failure, not a skip`);
      });
    });
  } else {
    console.warn(`[skip] ${name}: ${missingReason()}`);
    describe.skip(`${name} (skipped: ${TSHARK_INSTALL_HINT})`, fn);
  }
}

/** it() that needs tshark, with the same skip/fail rule as describeTshark. */
export function itWithTshark(name: string, fn: () => void | Promise<void>, timeoutMs?: number): void {
  if (tsharkAvailable()) {
    it(name, fn, timeoutMs);
  } else if (inCi()) {
    it(name, () => {
      throw new Error(`${missingReason()}; under CI this is a failure, not a skip`);
    });
  } else {
    console.warn(`[skip] ${name}: ${missingReason()}`);
    it.skip(`${name} (skipped: ${TSHARK_INSTALL_HINT})`, fn);
  }
}
