// `ftcp replay LOG`, run in-process through runCli on captures of simulated clusters.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli as runCliInProcess } from './cli-helpers.js';
import { decodeLog, extractLogFrames, extractOutputs } from '../../src/replica/replay-input.js';
import { formatConnection } from '../../src/replica/replay.js';
import { CLUSTER_CAPTURES } from '../../src/pcap/vantage.js';
import { runCluster } from '../../src/sim/cluster.js';
import { packetsOf, RecordingFactory, tamperLoggedPacket } from '../replica/replay-helpers.js';

/** The CLI in-process, with a fixed wall clock. */
const cli = (args: string[]) => runCliInProcess(args, () => 1_700_000_000_123);

const dir = mkdtempSync(join(tmpdir(), 'ftcp-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rec = new RecordingFactory();
const run = runCluster({ seed: 8, app: 'counter', connections: 2, stackFactory: rec, faults: { logPartition: undefined } });
const runDir = join(dir, 'run');
mkdirSync(runDir);
for (const name of CLUSTER_CAPTURES) writeFileSync(join(runDir, `${name}.pcapng`), run.captures[name]!);
const logPath = join(runDir, 'log.pcapng');
const entries = decodeLog(extractLogFrames(packetsOf(run.captures.log!))).entries.map((e) => e.entry);
const lastIndex = Math.max(...entries.map((e) => e.index));

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

describe('ftcp replay', () => {
  it('replays the log, matches the primary capture beside it, and shows every connection', async () => {
    expect(run.ok, run.problems.join('\n')).toBe(true);
    const r = await cli(['replay', logPath, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^replay .*log\.pcapng: \d+ log-channel frames, \d+ entries/);
    expect(r.stdout).toContain(`replayed ${lastIndex} entries, stopped after entry ${lastIndex} (the end)`);
    expect(r.stdout).toContain(`state checks: ${lastIndex} entries agree with the primary`);
    expect(r.stdout).toContain('result: ok');
    const json = lastJson(r.stdout);
    const released = extractOutputs(packetsOf(run.captures.primary!)).length;
    expect(json).toMatchObject({ ok: true, index: lastIndex, applied: lastIndex, checks: { verified: lastIndex, failed: 0 } });
    expect(json.outputs).toMatchObject({ checked: true, matchedPackets: released, mismatchedEntries: 0, notReplayedPackets: 0 });
    expect(released).toBeGreaterThan(10);
    const conns = json.connections as Array<{ id: number; state: string }>;
    expect(conns.length).toBeGreaterThan(0);
    for (const c of conns) expect(r.stdout).toContain(formatConnection(c as never));
  });

  it('--at N --conn ADDR:PORT shows that connection as the primary\'s stack had it after entry N', async () => {
    const kinds = new Map(entries.map((e) => [e.index, e.kind]));
    let n = Math.floor(lastIndex / 2);
    while (kinds.get(n + 1) !== 'packet' && kinds.get(n + 1) !== 'tick') n++;
    const inputs = [...kinds].filter(([i, k]) => i <= n && (k === 'packet' || k === 'tick')).length;
    const oracle = rec.stacks[0]!.before[inputs]!;
    expect(oracle.length).toBeGreaterThan(0);
    const want = oracle[0]!;
    const r = await cli(['replay', logPath, '--at', String(n), '--conn', want.remote, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`stopped after entry ${n}\n`);
    const { firstIndex: _f, ...got } = lastJson(r.stdout).connection as typeof want;
    const { firstIndex: _g, ...expected } = want;
    expect(got).toEqual(expected);
    expect(r.stdout).toContain(`connection at entry ${n}:\n  #${want.id} ${want.remote} > 192.0.2.10:7070 ${want.state} snd.una=${want.sndUna} snd.nxt=${want.sndNxt} rcv.nxt=${want.rcvNxt}`);
    const byId = await cli(['replay', logPath, '--at', String(n), '--conn', String(want.id), '--json']);
    expect(byId.code).toBe(0);
    expect(lastJson(byId.stdout).connection).toEqual(lastJson(r.stdout).connection);
  });

  it('a tampered entry (no new CRC) is reported at its index, with exit 1', async () => {
    const target = entries.find((e) => e.index > lastIndex / 2 && e.kind === 'packet')!;
    const tdir = join(dir, 'tampered');
    mkdirSync(tdir, { recursive: true });
    writeFileSync(join(tdir, 'log.pcapng'), tamperLoggedPacket(run.captures.log!, target.index, 30, { reCrc: false }));
    copyFileSync(join(runDir, 'primary.pcapng'), join(tdir, 'primary.pcapng'));
    const r = await cli(['replay', join(tdir, 'log.pcapng')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`entry ${target.index}: log-bad-crc`);
    expect(r.stdout).toContain(`stops: entry ${target.index} is corrupt in packet`);
    expect(r.stdout).toContain(`stopped after entry ${target.index - 1}`);
    expect(r.stdout).toContain('result: MISMATCH');
  });

  it('a tampered entry (re-CRC\'d) shows as a difference at its index, with exit 1', async () => {
    const target = entries.find((e) => e.index > lastIndex / 2 && e.kind === 'packet')!;
    const path = join(dir, 'tampered-crc.pcapng');
    writeFileSync(path, tamperLoggedPacket(run.captures.log!, target.index, 30, { reCrc: true }));
    const r = await cli(['replay', path, '--primary', join(runDir, 'primary.pcapng'), '--json']);
    expect(r.code).toBe(1);
    const json = lastJson(r.stdout) as { checks: { first?: { index: number } }; outputs: { first?: { index: number } } };
    const first = Math.min(json.checks.first?.index ?? Infinity, json.outputs.first?.index ?? Infinity);
    expect(first).toBe(target.index);
    expect(r.stdout).toMatch(new RegExp(`first (at|mismatch at) entry ${target.index}`));
  });
});

describe('ftcp replay: other inputs', () => {
  it('a replica process\'s names: NAME.pcapng beside NAME-log.pcapng is the default --primary', async () => {
    const pdir = join(dir, 'process');
    mkdirSync(pdir, { recursive: true });
    copyFileSync(logPath, join(pdir, 'a-log.pcapng'));
    copyFileSync(join(runDir, 'primary.pcapng'), join(pdir, 'a.pcapng'));
    const r = await cli(['replay', join(pdir, 'a-log.pcapng'), '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(lastJson(r.stdout).primary).toBe(join(pdir, 'a.pcapng'));
    expect((lastJson(r.stdout).outputs as { matchedPackets: number }).matchedPackets).toBeGreaterThan(10);
  });

  it('a log capture cut inside its last block (a writer killed with -9) replays up to there, and says so', async () => {
    const bytes = run.captures.log!;
    const path = join(dir, 'cut.pcapng');
    writeFileSync(path, bytes.subarray(0, bytes.length - 10));
    const r = await cli(['replay', path, '--primary', join(runDir, 'primary.pcapng')]);
    expect(r.stdout).toMatch(/note: LOG ends inside a block at byte \d+ \(its writer was killed\)/);
    expect(r.stdout).toContain('state checks: ');
    expect(r.code).toBeLessThanOrEqual(1);
    expect(r.stdout).not.toContain('damaged');
  });

  it('10 bytes flipped inside the file (not a cut tail): exit 1, the damaged block\'s offset, entries replayed of those present', async () => {
    const bytes = run.captures.log!;
    expect(bytes.length).toBeGreaterThan(4000);
    for (const at of [3000, 1500, Math.floor(bytes.length / 2)]) {
      const damaged = new Uint8Array(bytes);
      for (let i = at; i < at + 10; i++) damaged[i] = damaged[i]! ^ 0xff;
      const path = join(dir, `flipped-${at}.pcapng`);
      writeFileSync(path, damaged);
      const r = await cli(['replay', path, '--primary', join(runDir, 'primary.pcapng'), '--json']);
      expect(r.code, `flipped at ${at}: ${r.stdout}${r.stderr}`).not.toBe(0);
      expect(r.stdout + r.stderr).not.toContain('result: ok');
      if (r.code === 1 && lastJson(r.stdout).damaged !== null) {
        expect(r.stdout).toMatch(/LOG is damaged: block at offset \d+: .*; replayed \d+ of the \d+ entries present/);
        expect(r.stdout).toContain('result: DAMAGED');
        expect(lastJson(r.stdout).damaged).toMatchObject({ offset: expect.any(Number) });
      }
    }
    // offset 3000 lands in a block's lengths here: the reader itself must call it damage
    const damaged = new Uint8Array(bytes);
    for (let i = 3000; i < 3010; i++) damaged[i] = damaged[i]! ^ 0xff;
    writeFileSync(join(dir, 'flipped.pcapng'), damaged);
    const r = await cli(['replay', join(dir, 'flipped.pcapng')]);
    expect(r.code).toBe(1);
    const m = /replayed (\d+) of the (\d+) entries present/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(Number(m![2]));
    expect(Number(m![2])).toBeGreaterThan(lastIndex - 5);
  });

  it('--rsm-config: the capture\'s own config replays the same; another stack seed fails the first state check', async () => {
    const json = lastJson((await cli(['replay', logPath, '--json'])).stdout);
    const same = join(dir, 'same-config.json');
    writeFileSync(same, JSON.stringify(json.config));
    const r = await cli(['replay', logPath, '--rsm-config', same, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(lastJson(r.stdout).checks).toEqual(json.checks);
    const config = json.config as { rsm: { stack: { seed: number } } };
    const other = join(dir, 'other-config.json');
    writeFileSync(other, JSON.stringify({ ...config, rsm: { ...config.rsm, stack: { ...config.rsm.stack, seed: config.rsm.stack.seed + 1 } } }));
    const bad = await cli(['replay', logPath, '--rsm-config', other]);
    expect(bad.code).toBe(1);
    // Another seed, another ISN: the SYN-ACK of the first connection already differs.
    expect(bad.stdout).toMatch(/state checks: .* DO NOT\n    first at entry \d+, connection #\d+/);
  });
});

describe('ftcp replay: bad input is one line on stderr and exit 2', () => {
  const notPcap = join(dir, 'not.pcapng');
  writeFileSync(notPcap, 'hello, this is text\n');
  const badConfig = join(dir, 'bad-config.json');
  writeFileSync(badConfig, '{"app": "nope"}');
  const cases: Array<[string, string[], RegExp]> = [
    ['a missing file', ['replay', join(dir, 'nope.pcapng')], /^error: LOG .*nope\.pcapng: no such file$/],
    ['a directory', ['replay', dir], /^error: LOG .*: is a directory$/],
    ['a file that is not pcapng', ['replay', notPcap], /^error: LOG .*not\.pcapng is not a pcapng capture \(PCAPNG_MALFORMED/],
    ['a capture with no log frames', ['replay', join(runDir, 'client.pcapng')], /^error: LOG .*client\.pcapng holds no log-channel frames/],
    ['--at beyond the end', ['replay', logPath, '--at', String(lastIndex + 1)], new RegExp(`^error: LOG .*: --at ${lastIndex + 1} is outside the replayable log \\(from the start: 1\\.\\.${lastIndex}\\)$`)],
    ['--at that is not a number', ['replay', logPath, '--at', 'ten'], /^error: --at must be an entry index/],
    ['an unknown connection', ['replay', logPath, '--conn', '192.0.2.99:1'], /^error: --conn 192\.0\.2\.99:1: no such connection at entry \d+ \(open: /],
    ['a malformed --conn', ['replay', logPath, '--conn', 'foo'], /^error: --conn must be ADDR:PORT/],
    ['a missing --primary', ['replay', logPath, '--primary', join(dir, 'gone.pcapng')], /^error: --primary .*gone\.pcapng: no such file$/],
    ['a bad --rsm-config', ['replay', logPath, '--rsm-config', badConfig], /^error: --rsm-config .*: the RSM config: app must be one of/],
    ['no LOG argument', ['replay'], /^error: missing required argument 'log'$/],
  ];
  it.each(cases)('%s', async (_name, args, pattern) => {
    const r = await cli(args);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('(add --help'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
  });
});
