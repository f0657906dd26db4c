// `ftcp replica` and `ftcp client`, run in-process through runCli: bad flags, bad
// addresses, unreachable peers and a port in use each give a one-line error that says what
// to do, and a non-zero exit code. (The processes themselves: test/lab/failover-process.test.ts.)
import * as net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { ArbiterServer } from '../../src/net/arbiter-server.js';
import { UdpSwitch } from '../../src/net/switch.js';


/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const dir = mkdtempSync(join(tmpdir(), 'ftcp-replica-cli-'));
let sw: UdpSwitch;
let arbiter: ArbiterServer;
let busy: net.Server;
let busyPort: number;
let deadPort: number;
beforeAll(async () => {
  sw = await UdpSwitch.start({ listen: { host: '127.0.0.1', port: 0 } });
  arbiter = await ArbiterServer.start({ listen: { host: '127.0.0.1', port: 0 }, statePath: join(dir, 'arbiter.json'), init: true });
  busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  busyPort = (busy.address() as net.AddressInfo).port;
  deadPort = await freePort();
});
afterAll(async () => {
  await sw.close();
  await arbiter.close();
  await new Promise<void>((r) => busy.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

const net2 = () => ['--switch', `127.0.0.1:${sw.local.port}`, '--arbiter', `127.0.0.1:${arbiter.local.port}`, '--capture-dir', dir, '--start-timeout-ms', '1500'];

describe('ftcp replica: usage errors (exit 2)', () => {
  it.each([
    [['replica', '--name', 'a'], /--role is required: primary, backup or join/],
    [['replica', '--role', 'leader', '--name', 'a'], /--role must be primary, backup or join, got leader/],
    [['replica', '--role', 'primary'], /--name is required/],
    [['replica', '--role', 'backup', '--name', 'b'], /--role backup needs --log-peer HOST:PORT/],
    [['replica', '--role', 'join', '--name', 'c', '--log-peer', '127.0.0.1:9402'], /--role join needs --peer NAME/],
    [['replica', '--role', 'primary', '--name', 'a', '--switch', 'nowhere'], /--switch: expected HOST:PORT/],
    [['replica', '--role', 'primary', '--name', 'a', '--switch', '10.1.2.3.4:9400'], /--switch: /],
    [['replica', '--role', 'primary', '--name', 'a', '--log-listen', '127.0.0.1:70000'], /--log-listen: the port must be/],
    [['replica', '--role', 'primary', '--name', 'a', '--service', '192.0.2'], /--service must be an IPv4 address/],
    [['replica', '--role', 'primary', '--name', 'a', '--app', 'redis'], /--app must be one of echo, counter, kv, bulk, got redis/],
    [['replica', '--role', 'primary', '--name', 'a', '--heartbeat-ms', '50', '--failure-timeout-ms', '50'], /--failure-timeout-ms \(50\) must be longer than --heartbeat-ms \(50\)/],
    [['replica', '--role', 'primary', '--name', 'a', '--seed', 'x'], /--seed must be an integer/],
    [['replica', '--role', 'primary', '--name', 'a', '--peer', 'a'], /--peer must differ from --name/],
    [['replica', '--role', 'primary', '--name', 'a', '--bogus'], /unknown option '--bogus'/],
    // the largest packet must fit one log entry
    [['replica', '--role', 'primary', '--name', 'a', '--mtu', '65500'], /--mtu must be an integer from 68 to 65414 on a replica \(a packet must fit one log entry of the log channel\), got 65500/],
    // the upstream proxy
    [['replica', '--role', 'join', '--name', 'c', '--peer', 'a', '--log-peer', '127.0.0.1:9402', '--upstream', '127.0.0.1:8080'], /--role join with --upstream: the upstream app has no state adapter/],
    [['replica', '--role', 'primary', '--name', 'a', '--upstream', 'localhost'], /--upstream: expected HOST:PORT/],
    [['replica', '--role', 'primary', '--name', 'a', '--upstream', '127.0.0.1:6379', '--upstream-app', 'memcached'], /--upstream-app must be generic or redis, got memcached/],
    [['replica', '--role', 'primary', '--name', 'a', '--upstream-app', 'redis'], /--upstream-app redis needs --upstream HOST:PORT/],
    [['client', '--app', 'memcached'], /--app must be one of echo, counter, kv, bulk, http, redis, got memcached/],
  ])('%j', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('ftcp replica: unreachable peers and ports in use (exit 4, one line)', () => {
  it('says so when no switch answers', async () => {
    const r = await cli(['replica', '--role', 'primary', '--name', 'a', ...net2(), '--switch', `127.0.0.1:${deadPort}`, '--log-listen', '127.0.0.1:0']);
    expect(r.code).toBe(4);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/error: ftcp replica a: the switch at 127\.0\.0\.1:\d+ did not confirm .* start `ftcp switch` first, or point --switch at it/);
  });

  it('says so when no arbiter listens', async () => {
    const r = await cli(['replica', '--role', 'primary', '--name', 'a', ...net2(), '--arbiter', `127.0.0.1:${deadPort}`, '--log-listen', '127.0.0.1:0']);
    expect(r.code).toBe(4);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/nothing is listening at 127\.0\.0\.1:\d+; start the arbiter first, or point --arbiter at it/);
  });

  it('says so when the log channel port is in use', async () => {
    const r = await cli(['replica', '--role', 'primary', '--name', 'a', ...net2(), '--log-listen', `127.0.0.1:${busyPort}`]);
    expect(r.code).toBe(4);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${busyPort} is already in use .*--log-listen HOST:PORT`));
  });

  it('says so when a backup finds no primary', async () => {
    const r = await cli(['replica', '--role', 'backup', '--name', 'b', ...net2(), '--log-peer', `127.0.0.1:${deadPort}`]);
    expect(r.code).toBe(4);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/nothing is listening at 127\.0\.0\.1:\d+; start the primary's log channel first, or point --log-peer at it/);
  });
});

describe('ftcp client: errors', () => {
  it.each([
    [['client', '--connections', '0'], /--connections must be an integer from 1 to 1000, got 0/],
    [['client', '--app', 'ftp'], /--app must be one of/],
    [['client', '--requests', '9-3'], /--requests must be N or MIN-MAX/],
    [['client', '--switch', '127.0.0.1'], /--switch: expected HOST:PORT/],
    [['client', '--address', 'me'], /--address must be an IPv4 address/],
    [['client', '--port', '0'], /--port must be a port number from 1 to 65535/],
  ])('%j: exit 2', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('an unreachable switch: one line, exit 4', async () => {
    const r = await cli(['client', '--switch', `127.0.0.1:${deadPort}`, '--start-timeout-ms', '1000']);
    expect(r.code).toBe(4);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/error: ftcp client: the switch at 127\.0\.0\.1:\d+ did not confirm 192\.0\.2\.1 .*start `ftcp switch` first/);
  });

  it('no service behind the switch: the streams stall, exit 3, with a result line', async () => {
    const r = await cli(['client', '--switch', `127.0.0.1:${sw.local.port}`, '--connections', '1', '--timeout-ms', '1500', '--progress-ms', '0', '--json']);
    expect(r.code).toBe(3);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(result).toMatchObject({ event: 'result', ok: false, streams: { intact: 0, broken: 1 } });
    expect(result.problems[0]).toMatch(/stalled/);
  });
});
