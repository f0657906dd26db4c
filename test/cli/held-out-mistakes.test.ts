// Operator mistakes, tried as a new user would, across every command of `ftcp --help`: each
// must end with a non-zero exit and one `error:` line on stderr saying what to change (a
// group without a subcommand may show its help after that line), no stack trace, and well
// within a minute. Each case runs the built CLI (node bin/ftcp.js) and fails before
// starting anything heavy.
import { spawn } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, describeWithDist, killAll, root, startCli } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-mistakes-'));
const at = (name: string) => join(dir, name);
const emptyDir = at('empty-dir');
mkdirSync(emptyDir);
// A soak's run directory whose soak.json was cut short.
const cutSoakDir = at('cut-soak');
mkdirSync(cutSoakDir);
writeFileSync(join(cutSoakDir, 'soak.json'), '{"ok":false,"faults":[{"n":1,');
writeFileSync(at('empty.yaml'), '');
writeFileSync(at('garbage.bin'), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) % 256)));
writeFileSync(at('bad.yaml'), 'name: x\nsteps: [\n  - foo: : :\n');
writeFileSync(at('bad.json'), '{\n');
writeFileSync(at('typo.yaml'), 'name: x\nsteps:\n  - start: network\n  - kil: a\n');
writeFileSync(at('unknown-key.yaml'), 'frobnicate: 1\n');
writeFileSync(at('wrong-type.yaml'), 'name: a\nservice:\n  address: 192.0.2.10\n  port: seventy\n');
copyFileSync(join(root, 'README.md'), at('README.md'));

/** A TCP port and a UDP port held by this test (a port in use), and a switch to get past the first step of a replica. */
let tcpBusy: Server;
let udpBusy: UdpSocket;
let busyTcp = 0;
let busyUdp = 0;
let switchAt = '';

beforeAll(async () => {
  tcpBusy = createServer();
  await new Promise<void>((resolve) => tcpBusy.listen(0, '127.0.0.1', resolve));
  busyTcp = (tcpBusy.address() as { port: number }).port;
  udpBusy = createSocket('udp4');
  await new Promise<void>((resolve) => udpBusy.bind(0, '127.0.0.1', resolve));
  busyUdp = udpBusy.address().port;
  const sw = startCli(['switch', '--listen', '127.0.0.1:0', '--insecure', '--no-capture']);
  const [, port] = (await sw.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 20_000)) as unknown as [string, string];
  switchAt = `127.0.0.1:${port}`;
}, 30_000);
afterAll(async () => {
  await killAll();
  tcpBusy.close();
  udpBusy.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Mistake {
  /** What a new user typed (a function when it needs a port known only at run time). */
  args: string[] | (() => string[]);
  /** The first line must say this. */
  says: RegExp;
  /** A group without a subcommand: its help follows the error line. */
  help?: boolean;
}

const quick = ['--start-timeout-ms', '1500', '--no-capture-dir'];
const MISTAKES: Mistake[] = [
  // the command line itself
  { args: [], says: /ftcp needs a command: sim, demo/, help: true },
  { args: ['demo'], says: /ftcp demo needs a subcommand: failover/, help: true },
  { args: ['sim'], says: /ftcp sim needs a subcommand: transfer, sweep/, help: true },
  { args: ['scenario'], says: /ftcp scenario needs a subcommand: run/, help: true },
  { args: ['help', 'dmeo'], says: /unknown command 'dmeo' \(did you mean demo\?\)/, help: true },
  { args: ['dmeo'], says: /unknown command 'dmeo' \(did you mean demo\?\)/ },
  { args: ['demo', 'falover'], says: /unknown command 'falover' \(did you mean failover\?\)/ },
  { args: ['sim', 'transfer', '--sed', '1'], says: /unknown option '--sed' \(did you mean --seed\?\)/ },
  { args: ['sim', 'transfer', 'extra'], says: /too many arguments/ },
  // numbers of the wrong kind
  { args: ['sim', 'transfer', '--seed', 'abc'], says: /--seed must be an integer from 0 to 4294967295, got abc/ },
  { args: ['sim', 'transfer', '--seed', '-1'], says: /--seed must be an integer/ },
  { args: ['sim', 'transfer', '--seed', '1.5'], says: /--seed must be an integer/ },
  { args: ['sim', 'transfer', '--seed', '99999999999'], says: /--seed must be an integer/ },
  { args: ['sim', 'transfer', '--bytes', '2Q'], says: /--bytes must be a whole number of bytes/ },
  { args: ['sim', 'transfer', '--loss', '2'], says: /--loss must be a probability between 0 and 1/ },
  { args: ['sim', 'transfer', '--delay-ms', '-5'], says: /--delay-ms must be a number of milliseconds/ },
  { args: ['demo', 'failover', '--mtu', '0'], says: /--mtu must be an integer from 68 to 65414/ },
  { args: ['demo', 'failover', '--connections', '0'], says: /--connections must be an integer from 1 to 1000/ },
  { args: ['demo', 'failover', '--app', 'nope'], says: /--app must be one of echo, counter/ },
  { args: ['replica', '--role', 'primary', '--name', 'a', '--port', '70000'], says: /--port must be a port number from 1 to 65535/ },
  { args: ['switch', '--listen', '127.0.0.1:70000'], says: /--listen: the port must be 0\.\.65535/ },
  { args: ['soak', '--duration', '-5s'], says: /--duration must be a whole number with s, m or h/ },
  { args: ['bench', '--only', 'stack,nope'], says: /--only takes a comma-separated list/ },
  { args: ['chaos', '--trials', '0'], says: /--trials must be an integer from 1/ },
  { args: ['fuzz', '--rate', '0'], says: /--rate must be an integer from 1 to 20000/ },
  { args: ['client', '--requests', '5-2'], says: /--requests must be N or MIN-MAX/ },
  { args: ['conformance', emptyDir, '--tolerance-usecs', 'abc'], says: /--tolerance-usecs must be an integer/ },
  // missing and conflicting flags
  { args: ['replica'], says: /--role is required: primary, backup or join/ },
  { args: ['replica', '--role', 'primary'], says: /--name is required/ },
  { args: ['replica', '--role', 'backup', '--name', 'a'], says: /--peer defaults to a for --role backup, which is this replica's --name/ },
  { args: ['replica', '--role', 'join', '--name', 'b', '--log-peer', '127.0.0.1:9402'], says: /--role join needs --peer NAME/ },
  { args: ['replica', '--role', 'primary', '--name', 'a', '--heartbeat-ms', '100', '--failure-timeout-ms', '50'], says: /--failure-timeout-ms \(50\) must be longer than --heartbeat-ms \(100\)/ },
  { args: ['replica', '--role', 'join', '--name', 'b', '--peer', 'a', '--log-peer', '127.0.0.1:9402', '--upstream', '127.0.0.1:8080'], says: /--upstream-stateless/ },
  { args: ['demo', 'failover', '--sim', '--network', 'lan'], says: /--network lan runs real processes.*drop --sim/ },
  { args: ['demo', 'failover', '--sim', '--client', 'kernel'], says: /--client kernel runs real processes; drop --sim/ },
  { args: ['demo', 'failover', '--sim', '--kill-after-ms', '100'], says: /--kill-after-ms is for real processes; with --sim it would be ignored/ },
  { args: ['switch', '--listen', '127.0.0.1:0', '--static', '192.0.2.1=127.0.0.1:9', '--static', '192.0.2.1=127.0.0.1:8'], says: /--static pins 192\.0\.2\.1 twice/ },
  { args: ['client', '--address', '192.0.2.10'], says: /--address .* must differ from --service/ },
  { args: ['client', '--read-gaps', '-1'], says: /--read-gaps must be a number of milliseconds from 0 to 3600000, got -1/ },
  { args: ['client', '--nice', '99'], says: /--nice must be an integer from -20 to 19, got 99/ },
  { args: ['fuzz', '--duration-ms', '0'], says: /--duration-ms must be at least 1/ },
  { args: ['replica', '--role', 'primary', '--name', 'a', '--upstream-stateless'], says: /--upstream-stateless is about an --upstream app/ },
  { args: ['switch', '--listen', '127.0.0.1:0', '--cluster-key-file', at('README.md'), '--insecure'], says: /--insecure runs without a cluster key, and --cluster-key-file gives one/ },
  { args: ['serve'], says: /--config FILE is required/ },
  { args: ['conformance'], says: /missing required argument 'path'/ },
  { args: ['replay'], says: /missing required argument 'log'/ },
  { args: ['report'], says: /missing required argument 'dir'/ },
  // files: missing, a directory, empty, garbage, the wrong kind
  { args: ['conformance', '/nonexistent-ftcp'], says: /no such file or directory: \/nonexistent-ftcp/ },
  { args: ['conformance', emptyDir], says: /no \.pkt scripts under/ },
  { args: ['conformance', at('garbage.bin')], says: /binary data, not a script/ },
  { args: ['conformance', at('README.md')], says: /README\.md:1: .*expected an event time/ },
  { args: ['replay', '/dev/null'], says: /holds no log-channel frames/ },
  { args: ['replay', at('README.md')], says: /is not a pcapng capture/ },
  { args: ['replay', '/nonexistent-ftcp'], says: /no such file/ },
  { args: ['replay', emptyDir], says: /is a directory/ },
  { args: ['report', '/nonexistent-ftcp'], says: /no such directory/ },
  { args: ['report', emptyDir], says: /holds no \.pcapng or \.pcap capture/ },
  { args: ['report', at('README.md')], says: /is not a directory/ },
  { args: ['report', cutSoakDir], says: /soak\.json is not a soak result: not valid JSON/ },
  { args: ['scenario', 'run', '/nonexistent-ftcp.yaml'], says: /cannot read \/nonexistent-ftcp\.yaml/ },
  { args: ['scenario', 'run', emptyDir], says: /cannot read .*EISDIR/ },
  { args: ['scenario', 'run', at('empty.yaml')], says: /expected a mapping with name, app and steps/ },
  { args: ['scenario', 'run', at('garbage.bin')], says: /garbage\.bin/ },
  { args: ['scenario', 'run', at('bad.json')], says: /is not valid JSON/ },
  { args: ['scenario', 'run', at('typo.yaml')], says: /typo\.yaml:4: unknown step "kil" \(did you mean kill\?\)/ },
  { args: ['scenario', 'run', at('README.md')], says: /is not valid YAML/ },
  { args: ['serve', '--config', '/nonexistent-ftcp.yaml'], says: /cannot read it \(ENOENT\)/ },
  { args: ['serve', '--config', emptyDir], says: /cannot read it \(EISDIR\)/ },
  { args: ['serve', '--config', at('empty.yaml')], says: /must be a mapping/ },
  { args: ['serve', '--config', at('bad.yaml')], says: /bad\.yaml:3: not valid YAML/ },
  { args: ['serve', '--config', at('unknown-key.yaml')], says: /frobnicate: unknown key/ },
  { args: ['serve', '--config', at('wrong-type.yaml')], says: /wrong-type\.yaml:\d+: / },
  { args: ['arbiter', '--state', at('garbage.bin'), '--listen', '127.0.0.1:0'], says: /state file .* is corrupt/ },
  { args: ['arbiter', '--state', '/nonexistent-ftcp/state.json', '--listen', '127.0.0.1:0'], says: /does not exist; for a new arbiter add --init/ },
  { args: ['replica', '--role', 'primary', '--name', 'a', '--cluster-key-file', '/nonexistent-ftcp'], says: /cannot read the cluster key file/ },
  // output paths
  { args: ['demo', 'failover', '--capture-dir', at('garbage.bin')], says: /--capture-dir .*: is a file, not a directory/ },
  { args: ['sim', 'transfer', '--capture', '/proc/ftcp'], says: /\/proc is a kernel file system/ },
  { args: ['soak', '--dir', at('garbage.bin')], says: /--dir .*: is a file, not a directory/ },
  { args: ['conformance', join(root, 'test', 'conformance'), '--capture', emptyDir], says: /--capture .*: is a directory; give a file name/ },
  { args: ['replica', '--role', 'primary', '--name', 'a', '--capture-live', '/nonexistent-ftcp/dir/x.pcapng'], says: /--capture-live: cannot create/ },
  { args: ['switch', '--listen', '127.0.0.1:0', '--capture-live', emptyDir], says: /--capture-live: cannot create .*EISDIR/ },
  // ports in use, and nobody at the other end
  { args: () => ['switch', '--listen', `127.0.0.1:${busyUdp}`, '--no-capture'], says: /is already in use/ },
  { args: () => ['arbiter', '--listen', `127.0.0.1:${busyTcp}`, '--state', at('arbiter-state.json'), '--init'], says: /is already in use/ },
  { args: () => ['kernel-server', '--listen', `127.0.0.1:${busyTcp}`], says: /cannot listen on .*EADDRINUSE/ },
  { args: () => ['replica', '--role', 'primary', '--name', 'a', '--alone', '--switch', switchAt, '--arbiter', '127.0.0.1:1', ...quick], says: /nothing is listening at 127\.0\.0\.1:1; start the arbiter first/ },
  { args: () => ['replica', '--role', 'backup', '--name', 'b', '--switch', switchAt, '--arbiter', `127.0.0.1:${busyTcp}`, '--log-peer', '127.0.0.1:1', ...quick], says: /nothing is listening at 127\.0\.0\.1:1; start the primary's log channel first/ },
  { args: () => ['client', '--switch', switchAt, '--timeout-ms', '1500', '--progress-ms', '0'], says: /nobody answered at 192\.0\.2\.10:7070/ },
  { args: ['client', '--switch', '127.0.0.1:1', '--start-timeout-ms', '1500'], says: /the switch at 127\.0\.0\.1:1 did not confirm/ },
  { args: ['kernel-client', '--host', '127.0.0.1', '--port', '1', '--timeout-ms', '3000'], says: /cannot connect to 127\.0\.0\.1:1 \(connect ECONNREFUSED/ },
];

/** Runs the built CLI; kills it (by pid) at the limit so that a hang is a failure, not a stuck suite. */
function run(args: string[], limitMs: number): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

describeWithDist('operator mistakes: one line, a non-zero exit, no stack trace, no hang', ['cli/main', 'cli/program', 'cli/group-commands', 'cli/last-resort', 'cli/replica', 'cli/client', 'cli/kernel-client', 'cli/conformance', 'cli/soak', 'cli/report', 'cli/sim', 'cli/switch', 'cli/fuzz', 'cli/demo', 'cli/live-only-flags', 'cli/cluster-key-flag'], () => {
  it('holds at least 40 mistakes', () => {
    expect(MISTAKES.length).toBeGreaterThanOrEqual(40);
  });

  describe.concurrent.each(MISTAKES.map((m) => [typeof m.args === 'function' ? '(ports of this run)' : m.args.join(' ') || '(nothing)', m] as const))('ftcp %s', (_name, m) => {
    it('one line on stderr, exit non-zero', async () => {
      const args = typeof m.args === 'function' ? m.args() : m.args;
      const r = await run(args, 60_000);
      const shown = `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
      expect(r.timedOut, shown).toBe(false);
      expect(r.code, shown).not.toBe(0);
      expect(r.code, shown).not.toBeNull();
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('(add --help'));
      expect(lines[0], shown).toMatch(/^error: /);
      expect(lines[0], shown).toMatch(m.says);
      expect(r.stderr, shown).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      expect(r.stderr, shown).not.toMatch(/^\w*Error: /m);
      if (m.help !== true) expect(lines, shown).toHaveLength(1);
    }, 70_000);
  });
});
