#!/usr/bin/env node
// Runs `ftcp demo failover --json` (what `npm start` runs) N times, seeds 1..N, and counts the
// runs in which the client dropped at least one byte-identical re-sent segment: the captures
// show the survivor re-sending bytes the old primary had sent, and the client answering
// with a duplicate ACK or a D-SACK (the report's `reemitted.droppedByClient`), the client's
// own count of dropped duplicates agrees, and the run's report.html draws the answer.
// Prints one line per run (and, for a run without one, why), the machine's load average
// before and after, and a summary; exits 1 when fewer than --need runs showed it.
//
//   node scripts/demo-duplicates.mjs [--runs N] [--need K] [--keep] [-- extra demo flags...]
//
// Defaults: N = 10, K = 9 of 10 (90% of N, rounded up).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const extraAt = args.indexOf('--');
const extra = extraAt < 0 ? [] : args.slice(extraAt + 1);
const own = extraAt < 0 ? args : args.slice(0, extraAt);
const fail = (text) => {
  process.stderr.write(`error: ${text}\n`);
  process.exit(2);
};
const value = (flag, fallback) => {
  const i = own.indexOf(flag);
  if (i < 0) return fallback;
  const n = Number(own[i + 1]);
  if (!Number.isInteger(n) || n < 1) fail(`${flag} needs a whole number of at least 1, got ${own[i + 1] ?? 'nothing'}`);
  return n;
};
for (let i = 0; i < own.length; i++) {
  const a = own[i];
  if (a === '--keep') continue;
  if (a === '--runs' || a === '--need') {
    i++;
    continue;
  }
  fail(`unknown option ${a} (the options are --runs N, --need K, --keep, and -- before demo flags)`);
}
const runs = value('--runs', 10);
const need = value('--need', Math.ceil(runs * 0.9));
if (need > runs) fail(`--need ${need} is more than --runs ${runs}`);
const keep = own.includes('--keep');
const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'ftcp.js');
const dir = mkdtempSync(join(tmpdir(), 'ftcp-duplicates-'));
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
process.stdout.write(`ftcp demo failover ${extra.join(' ')} x ${runs}; load average before: ${load()} (${cpus().length} cores)\n`);

let shown = 0;
let falseFailovers = 0;
try {
  for (let seed = 1; seed <= runs; seed++) {
    const r = spawnSync(process.execPath, [bin, 'demo', 'failover', '--json', '--seed', String(seed), '--capture-dir', dir, ...extra], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    let report;
    try {
      report = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
    } catch {
      process.stdout.write(`run ${seed}: no report (exit ${r.status}): ${r.stderr.trim().split('\n').at(-1) ?? ''}\n`);
      continue;
    }
    if (report.falseFailover) falseFailovers++;
    const re = report.reemitted ?? {};
    const byCapture = re.droppedByClient ?? 0;
    const byClient = report.client?.duplicateSegmentsDropped;
    const page = join(dirname(report.captures.primary), 'report.html');
    const drawn = existsSync(page) && readFileSync(page, 'utf8').includes('data-kind="answer"');
    const ok = byCapture > 0 && (byClient === null || byClient === undefined || byClient > 0) && drawn;
    if (ok) shown++;
    const why = ok ? '' : `; ${re.whyNoDuplicate ?? (!drawn ? 'the report page draws no answer' : 'the client counted no dropped duplicate')}`;
    process.stdout.write(
      `run ${seed}: ${ok ? 'DROPPED' : 'none'}: re-sent ${re.segments}, ${re.identicalToPrimary} byte-identical to the primary's, ` +
        `${byCapture} dropped by the client in the captures, client's count ${byClient ?? 'n/a'}, page ${drawn ? 'draws it' : 'does not'}; ` +
        `run ${report.ok ? 'ok' : `FAILED (${(report.problems ?? [])[0] ?? ''})`}${why}\n`,
    );
  }
} finally {
  if (keep) process.stdout.write(`run folders kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`load average after: ${load()}\n`);
if (falseFailovers > 0) process.stdout.write(`${falseFailovers} run(s) stopped at a false failover before the kill (the machine too slow for the timing; no test of the duplicate): try -- --heartbeat-ms 30 --failure-timeout-ms 300\n`);
process.stdout.write(`${shown} of ${runs} runs: the client dropped a byte-identical re-sent segment (needed ${need})\n`);
process.exit(shown >= need ? 0 : 1);
