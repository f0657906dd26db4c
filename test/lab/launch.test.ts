// The lab's argv builders (src/lab/launch.ts) against the real CLI: each builder's argv is
// parsed by the commander program of src/cli/program.ts with the command's action replaced by
// one that keeps the parsed flags, so an unknown flag or a missing value fails here. The flags
// come out as the builder was told; the replica's and the client's also pass their commands'
// own validation (parseReplicaFlags, parseClientFlags, parseLoadShape).
import { describe, expect, it } from 'vitest';
import { parseClientFlags, parseLoadShape } from '../../src/cli/client.js';
import { parseKernelTool } from '../../src/cli/kernel-client.js';
import { parseWithProgram as parse } from '../helpers/parse-cli.js';
import { parseReplicaFlags } from '../../src/cli/replica.js';
import {
  arbiterArgv,
  benchKernelInnerArgv,
  clientArgv,
  demoFailoverInnerArgv,
  kernelClientArgv,
  kernelServerArgv,
  replicaArgv,
  scenarioInnerArgv,
  serveArgv,
  switchArgv,
  switchoverArgv,
  type ReplicaLaunch,
} from '../../src/lab/launch.js';
import { replicaRsmConfig, startupBoundMs } from '../../src/net/replica-options.js';

const replica: ReplicaLaunch = {
  switch: '127.0.0.1:9400',
  app: 'bulk',
  seed: 7,
  bulkBytes: 300_000,
  mtu: 1500,
  role: 'backup',
  name: 'b',
  peer: 'a',
  arbiter: '127.0.0.1:9401',
  logListen: '127.0.0.1:0',
  logPeer: '127.0.0.1:9402',
  heartbeatMs: 20,
  failureTimeoutMs: 300,
  captureDir: '/tmp/run',
  unsafeNoOutputRule: true,
  startTimeoutMs: 9000,
};

describe('the lab\'s argv, as the CLI parses it', () => {
  it('arbiter: listen, state, init', async () => {
    const r = await parse(arbiterArgv({ listen: '127.0.0.1:0', state: '/tmp/run/arbiter.json', init: true }));
    expect(r.path).toBe('arbiter');
    expect(r.flags).toMatchObject({ listen: '127.0.0.1:0', state: '/tmp/run/arbiter.json', init: true, json: true });
    expect((await parse(arbiterArgv({ listen: '127.0.0.1:9401', state: 's.json' }))).flags['init']).toBeUndefined();
  });

  it('switch: capture (or none), static entries, refused datagrams captured', async () => {
    const r = await parse(switchArgv({ listen: '127.0.0.1:0', capture: '/tmp/run/client.pcapng', static: [{ address: '192.0.2.1', host: '127.0.0.1:9499' }], captureDropped: true }));
    expect(r.path).toBe('switch');
    expect(r.flags).toMatchObject({ listen: '127.0.0.1:0', capture: '/tmp/run/client.pcapng', static: ['192.0.2.1=127.0.0.1:9499'], captureDropped: true, json: true });
    expect((await parse(switchArgv({ listen: '127.0.0.1:0', capture: false }))).flags['capture']).toBe(false);
  });

  it('replica: every flag the lab sets, accepted by the replica\'s own validation', async () => {
    const r = await parse(replicaArgv(replica));
    expect(r.path).toBe('replica');
    expect(r.flags).toMatchObject({ role: 'backup', name: 'b', peer: 'a', switch: '127.0.0.1:9400', app: 'bulk', seed: '7', bulkBytes: '300000', mtu: '1500', arbiter: '127.0.0.1:9401', logListen: '127.0.0.1:0', logPeer: '127.0.0.1:9402', heartbeatMs: '20', failureTimeoutMs: '300', captureDir: '/tmp/run', unsafeNoOutputRule: true, startTimeoutMs: '9000', json: true });
    const opts = parseReplicaFlags(r.flags as unknown as Parameters<typeof parseReplicaFlags>[0]);
    expect(opts).toMatchObject({ role: 'backup', name: 'b', seed: 7, bulkBytes: 300_000, mtu: 1500, heartbeatMs: 20, failureTimeoutMs: 300, outputRule: false, captureDir: '/tmp/run', logPeer: { host: '127.0.0.1', port: 9402 } });
  });

  it('replica --failure-timeout-start-ms reaches the options; without it the replica process picks S itself', async () => {
    const r = await parse(replicaArgv({ ...replica, failureTimeoutStartMs: 900 }));
    expect(r.flags['failureTimeoutStartMs']).toBe('900');
    expect(parseReplicaFlags(r.flags as unknown as Parameters<typeof parseReplicaFlags>[0]).failureTimeoutStartMs).toBe(900);
    const none = parseReplicaFlags((await parse(replicaArgv(replica))).flags as unknown as Parameters<typeof parseReplicaFlags>[0]);
    expect(none.failureTimeoutStartMs).toBeUndefined();
    expect(startupBoundMs(none)).toBe(500);
    expect(startupBoundMs({ failureTimeoutMs: 300, failureTimeoutMaxMs: 800 })).toBe(800);
  });

  it('replica --profile reaches the replicated stack\'s config; a bad one is a usage error', async () => {
    const r = await parse([...replicaArgv(replica), '--profile', 'linux']);
    const opts = parseReplicaFlags(r.flags as unknown as Parameters<typeof parseReplicaFlags>[0]);
    expect(opts.profile).toBe('linux');
    expect(replicaRsmConfig(opts).stack.profile).toBe('linux');
    const plain = parseReplicaFlags((await parse(replicaArgv(replica))).flags as unknown as Parameters<typeof parseReplicaFlags>[0]);
    expect(replicaRsmConfig(plain).stack.profile).toBeUndefined(); // the stack's default, rfc
    expect(replicaArgv({ ...replica, profile: 'linux' }).slice(-2)).toEqual(['--profile', 'linux']);
    expect(replicaArgv(replica)).not.toContain('--profile');
    const bad = await parse([...replicaArgv(replica), '--profile', 'bsd']);
    expect(() => parseReplicaFlags(bad.flags as unknown as Parameters<typeof parseReplicaFlags>[0])).toThrow('--profile must be rfc or linux, got bsd');
  });

  it('replica: alone without captures, and an upstream Redis', async () => {
    const alone = await parse(replicaArgv({ ...replica, role: 'primary', name: 'a', peer: 'b', logPeer: undefined, captureDir: false, alone: true, upstream: '127.0.0.1:6379', upstreamApp: 'redis' }));
    expect(alone.flags).toMatchObject({ captureDir: false, alone: true, upstream: '127.0.0.1:6379', upstreamApp: 'redis' });
    expect(alone.flags['logPeer']).toBeUndefined();
    const opts = parseReplicaFlags(alone.flags as unknown as Parameters<typeof parseReplicaFlags>[0]);
    expect(opts).toMatchObject({ role: 'primary', alone: true, upstream: { host: '127.0.0.1', port: 6379 }, upstreamApp: 'redis' });
    expect(opts.captureDir).toBeUndefined();
  });

  it('replica with --max-connections, which its own validation reads as a number', async () => {
    const r = await parse(replicaArgv({ ...replica, maxConnections: 100_000 }));
    expect(r.flags).toMatchObject({ maxConnections: '100000' });
    expect(parseReplicaFlags(r.flags as never)).toMatchObject({ maxConnections: 100_000 });
    expect(parseReplicaFlags((await parse(replicaArgv(replica))).flags as never)).toMatchObject({ maxConnections: 10_000 });
    for (const bad of ['0', '1000001', 'many']) expect(() => parseReplicaFlags({ ...(r.flags as object), maxConnections: bad } as never)).toThrow(/--max-connections must be an integer from 1 to 1000000/);
  });

  it('replica with a control socket, and ftcp switchover', async () => {
    expect((await parse(replicaArgv({ ...replica, control: '/tmp/run/b.sock' }))).flags).toMatchObject({ control: '/tmp/run/b.sock' });
    const r = await parse(switchoverArgv({ control: '/tmp/run/a.sock', timeoutMs: 5000 }));
    expect(r.path).toBe('switchover');
    expect(r.flags).toMatchObject({ control: '/tmp/run/a.sock', timeoutMs: '5000', json: true });
  });

  it('kernel-client at another server, and kernel-server', async () => {
    const c = await parse(kernelClientArgv({ host: '192.0.2.21', port: 7071, app: 'bulk', tool: 'node', seed: 3, bulkBytes: 4_000_000, connections: 2, uploadBytes: 4_000_000 }));
    expect(c.flags).toMatchObject({ host: '192.0.2.21', port: '7071', app: 'bulk', bulkBytes: '4000000', uploadBytes: '4000000' });
    const r = await parse(kernelServerArgv({ listen: '192.0.2.21:7070', app: 'bulk', seed: 3, bulkBytes: 4_000_000 }));
    expect(r.path).toBe('kernel-server');
    expect(r.flags).toMatchObject({ listen: '192.0.2.21:7070', app: 'bulk', seed: '3', bulkBytes: '4000000', json: true });
  });

  it('ftcp serve: the config file and the metrics listener', async () => {
    const r = await parse(serveArgv({ config: '/tmp/run/serve-a.yaml', metricsListen: '127.0.0.1:9464' }));
    expect(r.path).toBe('serve');
    expect(r.flags).toMatchObject({ config: '/tmp/run/serve-a.yaml', metricsListen: '127.0.0.1:9464' });
    expect((await parse(serveArgv({ config: 'c.yaml' }))).flags['metricsListen']).toBeUndefined();
  });

  it('replica: on a TAP device (no switch), with every --tap companion', async () => {
    const argv = replicaArgv({ ...replica, switch: undefined, tap: { port: 9601, socatPort: 9602, servicePrefix: 24, serviceMac: '02:66:c0:00:02:0a', gateway: '192.0.2.1' } });
    expect(argv).not.toContain('--switch');
    const tap = await parse(argv);
    expect(tap.flags).toMatchObject({ tapPort: '9601', tapSocatPort: '9602', servicePrefix: '24', serviceMac: '02:66:c0:00:02:0a', gateway: '192.0.2.1' });
    const opts = parseReplicaFlags(tap.flags as unknown as Parameters<typeof parseReplicaFlags>[0]);
    expect(opts.tap).toMatchObject({ port: 9601, socatPort: 9602, prefixLength: 24, mac: 0x0266c000020a });
  });

  it('client: the cluster\'s common flags and the load\'s shape, accepted by the client\'s own validation', async () => {
    const r = await parse(clientArgv({ switch: '127.0.0.1:9400', app: 'http', seed: 7, bulkBytes: 1_000_000, mtu: 1500, connections: 4, requests: '80-100', thinkMs: '2-10', uploadBytes: 5000, timeoutMs: 120_000, progressMs: 0 }));
    expect(r.path).toBe('client');
    expect(r.flags).toMatchObject({ switch: '127.0.0.1:9400', app: 'http', seed: '7', bulkBytes: '1000000', mtu: '1500', connections: '4', requests: '80-100', thinkMs: '2-10', uploadBytes: '5000', timeoutMs: '120000', progressMs: '0', json: true });
    const opts = parseClientFlags(r.flags as unknown as Parameters<typeof parseClientFlags>[0]);
    expect(opts).toMatchObject({ app: 'http', connections: 4, requests: [80, 100], thinkMs: [2, 10], uploadBytes: [5000, 5000], timeoutMs: 120_000, progressMs: 0, mtu: 1500 });
  });

  it('client: the record of its read gaps and its priority (the switchover bench\'s)', async () => {
    const r = await parse(clientArgv({ switch: '127.0.0.1:9400', app: 'bulk', seed: 1, bulkBytes: 1000, connections: 1, readGapsMs: 0.5, nice: -10 }));
    expect(r.flags).toMatchObject({ readGaps: '0.5', nice: '-10' });
    expect(parseClientFlags(r.flags as unknown as Parameters<typeof parseClientFlags>[0]).readGapsMs).toBe(0.5);
    const plain = await parse(clientArgv({ switch: '127.0.0.1:9400', app: 'bulk', seed: 1, bulkBytes: 1000, connections: 1 }));
    expect(plain.flags).toMatchObject({ nice: '0' });
    expect(plain.flags['readGaps']).toBeUndefined();
    expect(parseClientFlags(plain.flags as unknown as Parameters<typeof parseClientFlags>[0]).readGapsMs).toBeUndefined();
  });

  it('kernel-client: tool and load, accepted by its validation', async () => {
    const r = await parse(kernelClientArgv({ app: 'echo', tool: 'nc', seed: 3, bulkBytes: 1_000_000, connections: 2, requests: '10-20', thinkMs: '1-5', timeoutMs: 60_000, progressMs: 250 }));
    expect(r.path).toBe('kernel-client');
    expect(r.flags).toMatchObject({ app: 'echo', tool: 'nc', seed: '3', bulkBytes: '1000000', connections: '2', requests: '10-20', thinkMs: '1-5', timeoutMs: '60000', progressMs: '250', json: true });
    expect(parseKernelTool('--tool', r.flags['tool'] as string, r.flags['app'] as string)).toBe('nc');
    expect(parseLoadShape(r.flags as unknown as Parameters<typeof parseLoadShape>[0])).toMatchObject({ requests: [10, 20], thinkMs: [1, 5], timeoutMs: 60_000, progressMs: 250 });
  });

  it('demo failover, run again inside the namespace', async () => {
    const r = await parse(demoFailoverInnerArgv({ seed: 42, app: 'http', connections: 3, bytes: 1_000_000, killAfterMs: 300, heartbeatMs: 10, failureTimeoutMs: 50, captureDir: 'captures', tunMtu: 1500, kernelTool: 'curl', netnsInner: 'ftcp-1-1', unsafe: true, json: true }));
    expect(r.path).toBe('demo failover');
    expect(r.flags).toMatchObject({ seed: '42', app: 'http', connections: '3', bytes: '1000000', killAfterMs: '300', heartbeatMs: '10', failureTimeoutMs: '50', captureDir: 'captures', client: 'kernel', tunMtu: '1500', kernelTool: 'curl', netnsInner: 'ftcp-1-1', unsafeNoOutputRule: true, json: true });
  });

  it('scenario run, run again inside the namespace', async () => {
    const r = await parse(scenarioInnerArgv({ file: 'scenarios/failover.yaml', captureDir: 'captures', heartbeatMs: 20, failureTimeoutMs: 300, kernelTool: 'node', tunMtu: 1400, netnsInner: 'ftcp-1-2', json: false }));
    expect(r.path).toBe('scenario run');
    expect(r.args).toEqual(['scenarios/failover.yaml']);
    expect(r.flags).toMatchObject({ captureDir: 'captures', heartbeatMs: '20', failureTimeoutMs: '300', client: 'kernel', kernelTool: 'node', tunMtu: '1400', netnsInner: 'ftcp-1-2' });
    expect(r.flags['json']).toBeUndefined();
  });

  it('bench --only kernel, run again inside the namespace', async () => {
    const r = await parse(benchKernelInnerArgv({ netnsInner: 'ftcp-bench-1', quick: true }));
    expect(r.path).toBe('bench');
    expect(r.flags).toMatchObject({ only: 'kernel', netnsInner: 'ftcp-bench-1', json: true, quick: true });
  });

  it('a flag the CLI does not know fails the parse (the check can fail)', async () => {
    await expect(parse([...arbiterArgv({ listen: '127.0.0.1:0', state: 's.json' }), '--no-such-flag'])).rejects.toThrow(/no-such-flag/);
  });
});
