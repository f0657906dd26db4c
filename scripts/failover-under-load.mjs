#!/usr/bin/env node
// Runs `ftcp demo failover --json --cpu-hogs N` K times (seeds 1..K) and counts what the
// failure detector did on an overloaded machine: runs that were ok, false failovers (a
// replica fenced or stopped before the kill), broken streams, resets, and the time from the
// kill to go-live. Prints one line per run (with the load average before it, and what the
// false failover was) and a summary; exits 1 when any run broke a stream or reset a
// connection, or gave no report.
//
//   node scripts/failover-under-load.mjs [--runs K] [--hogs N] [--first-seed S] [--bin PATH] [-- extra demo flags...]
//
// --bin runs another build's bin/ftcp.js (an A/B against main, say); default: this checkout's.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const extraAt = args.indexOf('--');
const extra = extraAt < 0 ? [] : args.slice(extraAt + 1);
const own = extraAt < 0 ? args : args.slice(0, extraAt);
const value = (flag, fallback) => {
  const i = own.indexOf(flag);
  if (i < 0) return fallback;
  const n = Number(own[i + 1]);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`error: ${flag} needs a whole number, got ${own[i + 1] ?? 'nothing'}\n`);
    process.exit(2);
  }
  return n;
};
const OWN = ['--runs', '--hogs', '--first-seed', '--bin'];
for (let i = 0; i < own.length; i += 2) if (!OWN.includes(own[i]) || own[i + 1] === undefined) {
  process.stderr.write(`error: ${OWN.includes(own[i]) ? `${own[i]} needs a value` : `unknown option ${own[i]}`} (the options are --runs K, --hogs N, --first-seed S, --bin PATH, and -- before demo flags)\n`);
  process.exit(2);
}
const runs = value('--runs', 10);
const hogs = value('--hogs', 6);
const firstSeed = value('--first-seed', 1);
const binAt = own.indexOf('--bin');
const bin = binAt < 0 ? join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'ftcp.js') : own[binAt + 1];
if (!existsSync(bin)) {
  process.stderr.write(`error: --bin ${bin}: no such file\n`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'ftcp-under-load-'));
const totals = { ok: 0, falseFailovers: 0, broken: 0, resets: 0, failed: 0 };
const liveMs = [];
try {
  for (let seed = firstSeed; seed < firstSeed + runs; seed++) {
    const before = loadavg()[0].toFixed(1);
    const r = spawnSync(process.execPath, [bin, 'demo', 'failover', '--json', '--cpu-hogs', String(hogs), '--seed', String(seed), '--capture-dir', dir, ...extra], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    let report;
    try {
      report = JSON.parse(last);
    } catch {
      totals.failed++;
      process.stdout.write(`run ${seed}: no report (exit ${r.status}): ${r.stderr.trim().split('\n').at(-1) ?? ''}\n`);
      continue;
    }
    const broken = report.streams?.broken ?? 0;
    const resets = report.resets ?? 0;
    const falseFailover = report.falseFailover !== null && report.falseFailover !== undefined;
    if (report.ok) totals.ok++;
    if (falseFailover) totals.falseFailovers++;
    totals.broken += broken;
    totals.resets += resets;
    const f = report.failover ?? {};
    const killToLive = typeof f.liveMs === 'number' ? f.liveMs : undefined; // the report counts it from the kill
    if (killToLive !== undefined) liveMs.push(killToLive);
    const why = falseFailover ? ` (${report.falseFailover})` : !report.ok ? ` (${(report.problems ?? [])[0] ?? ''})` : '';
    process.stdout.write(`run ${seed}: load ${before}: ${report.ok ? 'ok' : 'FAILED'}${falseFailover ? ', false failover' : ''}, ${broken} broken, ${resets} resets, live ${killToLive === undefined ? '-' : killToLive.toFixed(0)} ms after the kill${why}\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
liveMs.sort((a, b) => a - b);
const p = (q) => (liveMs.length === 0 ? '-' : liveMs[Math.min(liveMs.length - 1, Math.floor(q * liveMs.length))].toFixed(0));
process.stdout.write(`${runs} runs with ${hogs} hogs: ${totals.ok} ok, ${totals.falseFailovers} false failovers, ${totals.broken} broken streams, ${totals.resets} resets, ${totals.failed} without a report; kill to live p50 ${p(0.5)} ms, max ${p(1)} ms; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
process.exit(totals.broken > 0 || totals.resets > 0 || totals.failed > 0 ? 1 : 0);
