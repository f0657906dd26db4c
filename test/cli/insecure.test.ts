// No cluster key across hosts: `ftcp replica`, `ftcp arbiter` and `ftcp switch`, run
// in-process through runCli, refuse to start (exit 2, one line naming --cluster-key-file
// and --insecure) when an address of theirs is off 127.0.0.0/8 and no key is given; with
// --insecure or a key they go on (and here fail later, at an unreachable switch or an
// address that is not local: exit 4), and loopback needs neither, as before.
import * as net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_KEY_ENV, CLUSTER_KEY_FILE_ENV } from '../../src/net/cluster-key.js';
import { cli } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-insecure-'));
const keyFile = join(dir, 'cluster.key');
writeFileSync(keyFile, 'insecure-test-cluster-key-0123456789\n');
const savedEnv = { [CLUSTER_KEY_ENV]: process.env[CLUSTER_KEY_ENV], [CLUSTER_KEY_FILE_ENV]: process.env[CLUSTER_KEY_FILE_ENV] };
let deadPort: number;
beforeAll(async () => {
  // A key in the environment would let every case through.
  delete process.env[CLUSTER_KEY_ENV];
  delete process.env[CLUSTER_KEY_FILE_ENV];
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  deadPort = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
});
afterAll(() => {
  for (const [k, v] of Object.entries(savedEnv)) if (v !== undefined) process.env[k] = v;
  rmSync(dir, { recursive: true, force: true });
});

/** A replica whose switch is not there: one that passes the check fails at once with exit 4. */
const replica = (...args: string[]) => cli(['replica', '--name', 'x', '--switch', `127.0.0.1:${deadPort}`, '--capture-dir', dir, '--start-timeout-ms', '200', ...args]);
const refusal = (flag: string, endpoint: string, carries: string) =>
  new RegExp(`^error: ${flag} ${endpoint.replace(/\./g, '\\.')} is not on loopback and there is no cluster key: ${carries} would cross hosts in clear and unauthenticated; add --cluster-key-file PATH \\(or set FTCP_CLUSTER_KEY_FILE\\), or --insecure to accept cleartext\n$`);

describe('ftcp replica without a cluster key', () => {
  it.each([
    [['--role', 'primary', '--log-listen', '192.0.2.77:9402'], '--log-listen', '192.0.2.77:9402'],
    [['--role', 'primary', '--log-listen', '0.0.0.0:9402'], '--log-listen', '0.0.0.0:9402'],
    [['--role', 'backup', '--log-peer', '10.1.2.3:9402'], '--log-peer', '10.1.2.3:9402'],
    [['--role', 'primary', '--arbiter', '10.1.2.4:9401'], '--arbiter', '10.1.2.4:9401'],
  ])('refuses an address off loopback: %j', async (args, flag, endpoint) => {
    const r = await replica(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(refusal(flag, endpoint, 'the log channel and the arbiter protocol'));
    expect(r.stdout).toBe('');
  });

  it.each([
    ['--insecure', ['--role', 'backup', '--log-peer', '10.1.2.3:9402', '--insecure']],
    ['a key', ['--role', 'backup', '--log-peer', '10.1.2.3:9402', '--arbiter', '10.1.2.4:9401', '--cluster-key-file', keyFile]],
    ['loopback only', ['--role', 'primary', '--log-listen', '127.0.0.2:0', '--arbiter', 'localhost:9401']],
    ['an etcd arbiter (outside the cluster key)', ['--role', 'primary', '--log-listen', '127.0.0.1:0', '--arbiter', 'etcd://10.1.2.4:2379']],
  ])('goes on with %s (then fails at the missing switch, exit 4)', async (_, args) => {
    const r = await replica(...args);
    expect(r.stderr).not.toMatch(/not on loopback/);
    expect(r.stderr).toMatch(/switch/);
    expect(r.code).toBe(4);
  });
});

describe('ftcp arbiter and ftcp switch without a cluster key', () => {
  it('refuse a --listen off loopback; with --insecure they try it (and the address is not local here)', async () => {
    const state = join(dir, 'arbiter.json');
    const arbiter = await cli(['arbiter', '--listen', '192.0.2.77:0', '--state', state, '--init']);
    expect(arbiter.code).toBe(2);
    expect(arbiter.stderr).toMatch(refusal('--listen', '192.0.2.77:0', 'the arbiter protocol'));
    const sw = await cli(['switch', '--listen', '192.0.2.77:0', '--no-capture']);
    expect(sw.code).toBe(2);
    expect(sw.stderr).toMatch(refusal('--listen', '192.0.2.77:0', 'the registrations of the service address'));
    const arbiterInsecure = await cli(['arbiter', '--listen', '192.0.2.77:0', '--state', join(dir, 'arbiter2.json'), '--init', '--insecure']);
    expect(arbiterInsecure.stderr).not.toMatch(/not on loopback/);
    expect(arbiterInsecure.code).toBe(4);
    const swInsecure = await cli(['switch', '--listen', '192.0.2.77:0', '--no-capture', '--insecure']);
    expect(swInsecure.stderr).not.toMatch(/not on loopback/);
    expect(swInsecure.code).toBe(4);
  });
});
