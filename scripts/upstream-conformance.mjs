#!/usr/bin/env node
// Runs a checkout of an upstream packetdrill suite as written against ftcp
// (`ftcp conformance --json --profile linux`) and counts what is expressible:
// a script that ends in ERROR cannot be run in our dialect (syntax or an
// unsupported construct); PASS and FAIL are scripts that ran. Errors are
// grouped by their message, numbers and names folded, heaviest first.
//
// Usage: node scripts/upstream-conformance.mjs [--list] [--exclude REGEX]... [--tail fail|ignore] DIR
// Scripts whose path (relative to DIR) matches a default exclusion or an
// --exclude are left out and counted; --no-default-excludes drops the defaults.
// The scripts are judged as packetdrill judges them (`--tail ignore`): only a
// `>` line reads a packet, so what a target sends after a script's last `>`
// line is not compared; the count of passes that left such packets unchecked
// is printed. `--tail fail` counts with our own rule (no packet unlisted).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Features ftcp does not have at all, so their scripts say nothing about the dialect.
export const DEFAULT_EXCLUDES = [
  ['fast open (TFO)', /fast_?open|tfo/i],
  ['zero copy', /zerocopy/i],
  ['MPTCP', /mptcp/i],
  ['ECN and AccECN', /ecn/i],
  ['TCP-MD5 / TCP-AO', /md5|tcp_ao/i],
  ['IPv6 only', /ipv6|v6only|[-_]v6\b/i],
];

export function findScripts(root) {
  const out = [];
  (function walk(dir) {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.pkt')) out.push(relative(root, p));
    }
  })(root);
  return out;
}

/** An ERROR message with its specifics folded, so one construct is one group. */
export function construct(message) {
  return String(message ?? '')
    .replace(/^line \d+: /, '')
    .replace(/\b0x[0-9a-f]+\b|\b\d+\b/gi, 'N')
    .slice(0, 140);
}

export function classify(results) {
  const counts = { pass: 0, fail: 0, error: 0, crash: 0 };
  const groups = new Map();
  for (const r of results) {
    if (r.status === 'ok') counts.pass++;
    else if (r.status === 'FAIL') counts.fail++;
    else if (r.status === 'ERROR') {
      counts.error++;
      const key = construct(r.message ?? r.actual);
      groups.set(key, [...(groups.get(key) ?? []), r.path]);
    } else counts.crash++;
  }
  const errors = [...groups.entries()].sort((a, b) => b[1].length - a[1].length);
  return { counts, errors };
}

function main(argv) {
  const excludes = [];
  let defaults = true;
  let list = false;
  let dir;
  let tail = 'ignore';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--exclude' && i + 1 < argv.length) excludes.push(['--exclude', new RegExp(argv[++i])]);
    else if (a === '--no-default-excludes') defaults = false;
    else if (a === '--list') list = true;
    else if (a === '--tail' && (argv[i + 1] === 'fail' || argv[i + 1] === 'ignore')) tail = argv[++i];
    else if (!a.startsWith('-') && dir === undefined) dir = a;
    else return usage(`unexpected argument ${a}`);
  }
  if (dir === undefined) return usage('DIR is missing');
  const root = resolve(dir);
  const all = findScripts(root);
  const rules = [...(defaults ? DEFAULT_EXCLUDES : []), ...excludes];
  const excluded = new Map();
  const inScope = [];
  for (const p of all) {
    const rule = rules.find(([, re]) => re.test(p));
    if (rule) excluded.set(rule[0], (excluded.get(rule[0]) ?? 0) + 1);
    else inScope.push(p);
  }
  if (inScope.length === 0) return usage(`no .pkt scripts in scope under ${root}`);
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'ftcp.js');
  const run = spawnSync(process.execPath, [bin, 'conformance', '--json', '--profile', 'linux', '--tail', tail, ...inScope], {
    cwd: root, encoding: 'utf8', maxBuffer: 64 << 20,
  });
  let report;
  try {
    report = JSON.parse(run.stdout);
  } catch {
    process.stderr.write(`ftcp conformance gave no JSON (exit ${run.status}): ${run.stderr.slice(0, 400)}\n`);
    return 2;
  }
  const { counts, errors } = classify(report.results);
  const n = inScope.length;
  console.log(`scripts ${all.length} excluded ${all.length - n} in-scope ${n} expressible ${n - counts.error}`
    + ` (${pct(n - counts.error, n)}) pass ${counts.pass} (${pct(counts.pass, n)}) fail ${counts.fail}`
    + ` error ${counts.error} crash ${counts.crash}`);
  const unchecked = report.results.filter((r) => r.status === 'ok' && r.warnings.some((w) => w.includes('--tail ignore'))).length;
  console.log(`tail rule ${tail}${tail === 'ignore' ? ` (packetdrill's): ${unchecked} of the passes left packets after their last outbound line unchecked` : ' (every packet a target sends must be listed)'}`);
  for (const [why, k] of excluded) console.log(`excluded ${k}: ${why}`);
  for (const [key, paths] of errors) console.log(`error ${paths.length}: ${key}${list ? `\n    ${paths.join('\n    ')}` : ''}`);
  if (list) {
    for (const r of report.results) {
      if (r.status !== 'ERROR') console.log(`${r.status} ${r.path}${r.line ? `:${r.line}` : ''}${r.status === 'ok' ? '' : ` ${(r.message ?? '').slice(0, 160)}`}`);
    }
  }
  return 0;
}

function pct(k, n) {
  return `${Math.round((1000 * k) / n) / 10}%`;
}

function usage(why) {
  process.stderr.write(`${why}\nusage: node scripts/upstream-conformance.mjs [--list] [--exclude REGEX]... [--no-default-excludes] [--tail fail|ignore] DIR\n`);
  return 2;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
