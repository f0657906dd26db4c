// `ftcp conformance PATH...`, run in-process through runCli.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { readPcapng } from '../../src/pcap/reader.js';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stderrIsTty: false, nowMs: () => 0 };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

const PASS = `// RFC 9293 §3.10.7.1: a SYN to a closed port gets a RST.
0.1 < S 0:0(0) win 65535
 +0 > R. 0:0(0) ack 1
`;
const FAIL = `// RFC 9293 §3.10.7.1, with the wrong expectation on line 3.
0.1 < S 0:0(0) win 65535
 +0 > R 0:0(0)
`;
const WARN = `\`tc qdisc replace dev tun0 root fq\`
0.1 < . 1:1(0) ack 5 win 65535
 +0 > R 5:5(0)
`;

const dir = mkdtempSync(join(tmpdir(), 'ftcp-conformance-'));
mkdirSync(join(dir, 'a', 'b'), { recursive: true });
mkdirSync(join(dir, 'empty'));
writeFileSync(join(dir, 'a', 'pass.pkt'), PASS);
writeFileSync(join(dir, 'a', 'b', 'fail.pkt'), FAIL);
writeFileSync(join(dir, 'a', 'b', 'warn.pkt'), WARN);
writeFileSync(join(dir, 'a', 'notes.txt'), 'not a script');
mkdirSync(join(dir, 'errors'));
writeFileSync(join(dir, 'errors', 'bogus-option.pkt'), `--frobnicate=1\n${PASS}`);
writeFileSync(join(dir, 'errors', 'empty.pkt'), '// nothing but a comment\n');
mkdirSync(join(dir, 'withpending', 'pending'), { recursive: true });
writeFileSync(join(dir, 'withpending', 'pass.pkt'), PASS);
writeFileSync(join(dir, 'withpending', 'pending', 'fail.pkt'), FAIL);
writeFileSync(join(dir, 'withpending', 'marked.pkt'), `// pending: not implemented yet\n${FAIL}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ftcp conformance', () => {
  it('runs the scripts of a directory recursively and prints ok/FAIL lines and a summary', async () => {
    const r = await cli(['conformance', join(dir, 'a')]);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')).toEqual([
      `FAIL ${join(dir, 'a', 'b', 'fail.pkt')}:3: expected: > R 0:0(0)  actual: > R. 0:0(0) ack 1 win 0 (ports 8080>44444, at 0.100 s) [flags differ]`,
      `ok   ${join(dir, 'a', 'b', 'warn.pkt')}`,
      `ok   ${join(dir, 'a', 'pass.pkt')}`,
      '2 passed, 1 failed',
      '',
    ]);
    expect(r.stderr).toBe(`warning: ${join(dir, 'a', 'b', 'warn.pkt')}: line 1: shell command not run: tc qdisc replace dev tun0 root fq (the runner has no shell and no setting of the same meaning)\n`);
  });

  it('exits 0 when every script passes', async () => {
    const r = await cli(['conformance', join(dir, 'a', 'pass.pkt'), join(dir, 'a', 'b', 'warn.pkt')]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('2 passed, 0 failed');
  });

  it('prints one JSON object with --json', async () => {
    const r = await cli(['conformance', '--json', join(dir, 'a')]);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const json = JSON.parse(r.stdout) as { passed: number; failed: number; errors: number; crashed: number; pending: number; results: { path: string; ok: boolean; line?: number; expected?: string; actual?: string; warnings: string[] }[] };
    expect(json).toMatchObject({ passed: 2, failed: 1, errors: 0, crashed: 0, pending: 0 });
    expect(json.results[0]).toMatchObject({ path: join(dir, 'a', 'b', 'fail.pkt'), ok: false, status: 'FAIL', pending: false, line: 3, expected: '> R 0:0(0)', warnings: [] });
    expect(json.results[1]).toEqual({ path: join(dir, 'a', 'b', 'warn.pkt'), ok: true, status: 'ok', pending: false, warnings: ['line 1: shell command not run: tc qdisc replace dev tun0 root fq (the runner has no shell and no setting of the same meaning)'] });
  });

  it('reports a parse error with its line and column', async () => {
    const bad = join(dir, 'bad.pkt');
    writeFileSync(bad, '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 listen(3) = 0\n');
    const r = await cli(['conformance', bad]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`ERROR ${bad}:2: column 4: listen takes 2 arguments, got 1\n`);
  });

  it('an unknown option or an empty script is an ERROR (exit 2), never a pass', async () => {
    const r = await cli(['conformance', join(dir, 'errors')]);
    expect(r.code).toBe(2);
    expect(r.stdout.split('\n')).toEqual([
      `ERROR ${join(dir, 'errors', 'bogus-option.pkt')}:1: unknown option --frobnicate: the runner cannot honour it (remove it, or see docs/conformance.md for the options it knows)`,
      `ERROR ${join(dir, 'errors', 'empty.pkt')}:1: the script has no events: nothing to check`,
      '0 passed, 0 failed, 2 errors',
      '',
    ]);
  });

  it('a FAIL beside an ERROR: the ERROR decides the exit code (2)', async () => {
    const r = await cli(['conformance', join(dir, 'a', 'b', 'fail.pkt'), join(dir, 'errors', 'empty.pkt')]);
    expect(r.code).toBe(2);
  });

  it('pending scripts (a pending/ folder, or a // pending: line) are run and shown but not counted', async () => {
    const r = await cli(['conformance', join(dir, 'withpending')]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain(`PENDING (FAIL) ${join(dir, 'withpending', 'marked.pkt')}:4: expected: > R 0:0(0)  actual: > R. 0:0(0) ack 1 win 0 (ports 8080>44444, at 0.100 s) [flags differ]`);
    expect(lines.some((l) => l.startsWith(`PENDING (FAIL) ${join(dir, 'withpending', 'pending', 'fail.pkt')}:3`))).toBe(true);
    expect(lines.at(-1)).toBe('1 passed, 0 failed, 2 pending');
  });

  it('--tolerance-usecs overrides the scripts\' tolerance; a bad value is one line, exit 2', async () => {
    const late = join(dir, 'late.pkt');
    // The RST comes at 0.1 s; the script says 0.103 s: 3 ms off, inside the default 4 ms.
    writeFileSync(late, '0.1 < S 0:0(0) win 65535\n0.103 > R. 0:0(0) ack 1\n');
    expect((await cli(['conformance', late])).code).toBe(0);
    const tight = await cli(['conformance', '--tolerance-usecs', '1000', late]);
    expect(tight.code).toBe(1);
    expect(tight.stdout).toMatch(/^FAIL .*late\.pkt:2:/m);
    const bad = await cli(['conformance', '--tolerance-usecs', 'soon', late]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('error: --tolerance-usecs must be an integer from 0 to 60000000 (microseconds), got soon\n');
  });

  it('--profile sets the stack\'s profile for scripts that do not choose one; a script\'s own --profile wins', async () => {
    // RFC 6298 (2.4): a first RTT of 50 ms gives RTO 200 ms under rfc (the floor on the RTO),
    // 250 ms under linux (the floor on the variance term).
    const rto = (profile: string) => `${profile}0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+.1 < S 0:0(0) win 65535 <mss 1000>
+0 > S. 0:0(0) ack 1 <mss 1460>
+.05 < . 1:1(0) ack 1 win 65535
+0 accept(3, ..., ...) = 4
+0 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1
+.25 > P. 1:1001(1000) ack 1
`;
    const plain = join(dir, 'rto-linux.pkt');
    writeFileSync(plain, rto(''));
    expect((await cli(['conformance', plain])).code).toBe(1);
    expect((await cli(['conformance', '--profile', 'linux', plain])).code).toBe(0);
    const own = join(dir, 'rto-own.pkt');
    writeFileSync(own, rto('--profile=rfc\n'));
    expect((await cli(['conformance', '--profile', 'linux', own])).code).toBe(1);
    const bad = await cli(['conformance', '--profile', 'bsd', plain]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('error: --profile must be rfc or linux, got bsd\n');
  });

  it('--tail ignore leaves packets after the last > line unchecked with a warning; --tail fail (the default) fails them', async () => {
    const tail = join(dir, 'tail.pkt');
    writeFileSync(tail, '0.1 < S 0:0(0) win 65535\n');
    expect((await cli(['conformance', tail])).code).toBe(1);
    const ignored = await cli(['conformance', '--tail', 'ignore', tail]);
    expect(ignored.code).toBe(0);
    expect(ignored.stderr).toMatch(/^warning: .*tail\.pkt: 1 packet sent when the script has no outbound line not checked \(packetdrill's rule, --tail ignore\); the first: > R\. 0:0\(0\) ack 1/);
    const bad = await cli(['conformance', '--tail', 'maybe', tail]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('error: --tail must be fail or ignore, got maybe\n');
  });

  it('the help\'s own example works: the project\'s corpus, pending scripts included, exits 0', async () => {
    const r = await cli(['conformance', 'test/conformance']);
    expect(r.code, r.stdout.split('\n').filter((l) => !l.startsWith('ok')).join('\n')).toBe(0);
    expect(r.stdout).toMatch(/^\d+ passed, 0 failed, \d+ pending$/m);
  });

  it('refuses a missing path or a directory without scripts (exit 2)', async () => {
    const missing = await cli(['conformance', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`error: no such file or directory: ${join(dir, 'nope')}\n`);
    const empty = await cli(['conformance', join(dir, 'empty')]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toBe(`error: no .pkt scripts under ${join(dir, 'empty')}\n`);
    const none = await cli(['conformance']);
    expect(none.code).toBe(2);
  });

  it('passes the project\'s own scripts', async () => {
    const r = await cli(['conformance', 'test/conformance/handshake', 'test/conformance/close']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^\d+ passed, 0 failed$/m);
  });

  it('-v prints every packet in script terms; --capture writes them to a pcapng, one interface per script', async () => {
    const capture = join(dir, 'run.pcapng');
    const r = await cli(['conformance', '-v', '--capture', capture, join(dir, 'a', 'pass.pkt'), join(dir, 'a', 'b', 'fail.pkt')]);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').slice(0, 4)).toEqual([
      join(dir, 'a', 'pass.pkt'),
      '  < 44444>8080 S 0:0(0) win 65535 (script line 2, at 0.100 s)',
      '  > R. 0:0(0) ack 1 win 0 (ports 8080>44444, at 0.100 s)',
      `ok   ${join(dir, 'a', 'pass.pkt')}`,
    ]);
    const pcap = readPcapng(new Uint8Array(readFileSync(capture)));
    expect(pcap.interfaces.map((i) => i.name)).toEqual([join(dir, 'a', 'pass.pkt'), join(dir, 'a', 'b', 'fail.pkt')]);
    expect(pcap.packets).toHaveLength(4);
    expect(pcap.packets[1]!.comment).toBe('> R. 0:0(0) ack 1 win 0 (ports 8080>44444, at 0.100 s)');
    const bad = await cli(['conformance', '--capture', join(dir, 'a', 'pass.pkt', 'x.pcapng'), join(dir, 'a', 'pass.pkt')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
