// The cluster key with real processes (src/lab/live-cluster.ts hands the children the key
// through the environment): a stranger dialling the primary's log channel or the arbiter
// with a wrong key or none is refused with one log line and counted, the real backup then
// joins and serves, and the key itself appears in no argv, no output line, no statistics.
// Without a key, each process says so in one warning line. Timing: TEST_TIMING.
import * as net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { ArbiterClient } from '../../src/net/arbiter-client.js';
import { ClusterKey } from '../../src/net/cluster-key.js';
import { LiveCluster } from '../../src/lab/live-cluster.js';
import { LogChannel } from '../../src/net/log-channel.js';
import { readPcapng } from '../../src/pcap/reader.js';
import { decodeChannel, encodeChannel } from '../../src/replica/channel.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { until } from '../helpers/net.js';
import { describeWithDist } from '../helpers/process.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-auth-proc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let cluster: LiveCluster | undefined;
const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cluster?.stop();
  cluster = undefined;
});

const KEY_TEXT = ClusterKey.generateText();
const WRONG = ClusterKey.fromText(ClusterKey.generateText(), 'test');

describeWithDist('cluster key with real processes', [...LIVE_SOURCES, 'cli/arbiter', 'net/log-channel', 'net/arbiter-server'], () => {
  it('strangers are refused at the log channel and the arbiter with one line each; the real backup joins and serves', async () => {
    cluster = new LiveCluster({ dir: join(root, 'keyed'), app: 'counter', seed: 21, bulkBytes: 1000, ...TEST_TIMING, unsafeNoOutputRule: false, clusterKey: KEY_TEXT });
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b');
    const logPort = cluster.logPorts.get('a')!;
    // A process with a wrong key, then a socket writing bare channel frames.
    const wrong = LogChannel.dial({ host: '127.0.0.1', port: logPort }, { clusterKey: WRONG, reconnectDelayMs: 1000 });
    closers.push(() => wrong.close());
    await expect(wrong.whenConnected(1000)).rejects.toThrow(/bad cluster key \(MAC mismatch\)/);
    const refusedLine = (reason: string) => a.waitFor((e) => e.event === 'channel-refused' && e['reason'] === reason, 20_000, `a ${reason} refusal`);
    expect((await refusedLine('bad-key'))['message']).toMatch(/^log channel: refused 127\.0\.0\.1:\d+: bad cluster key \(MAC mismatch\)$/);
    const raw = net.connect(logPort, '127.0.0.1');
    raw.on('error', () => {});
    closers.push(() => raw.destroy());
    raw.write(encodeChannel({ type: 'join', epoch: 0, name: 'mallory' }));
    expect((await refusedLine('no-key'))['message']).toMatch(/^log channel: refused 127\.0\.0\.1:\d+: no cluster key \(the peer sent unauthenticated frames\)$/);
    // The arbiter: a test-and-set with a wrong key is refused and not granted.
    const arbiterClient = new ArbiterClient({ server: { host: '127.0.0.1', port: cluster.arbiterPort }, service: '192.0.2.10', clusterKey: WRONG });
    closers.push(() => arbiterClient.close());
    await expect(arbiterClient.testAndSet(1, 'mallory', { timeoutMs: 1500, retryMs: 500 })).rejects.toThrow(/^arbiter: refused 127\.0\.0\.1:\d+: bad cluster key \(MAC mismatch\)$/);
    const arbiterLine = await cluster.arbiter.waitFor((e) => e.event === 'refused', 20_000, 'the arbiter\'s refusal');
    expect(arbiterLine['message']).toMatch(/^arbiter: refused 127\.0\.0\.1:\d+: bad cluster key \(MAC mismatch\)$/);

    // The real backup, with the key: the pair forms and serves a client.
    await cluster.startReplica('b', 'backup', 'a', 'a');
    await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
    const client = await cluster.startClient('client', { connections: 2, requests: '20' });
    const result = await client.waitFor((e) => e.event === 'result', 90_000, 'the result');
    expect(result).toMatchObject({ ok: true, streams: { intact: 2, broken: 0 } });
    expect(a.events.some((e) => e.event === 'replica' && e['peer'] === 'b')).toBe(true);
    // Nothing granted while the pair served (a replica that exits first at the stop draws an
    // ask from the other at once, so grants after this are the stop's own).
    expect(cluster.arbiter.events.filter((e) => e.event === 'granted')).toEqual([]);
    await cluster.stop();

    const stats = a.events.find((e) => e.event === 'exit')!['stats'] as { logChannel: { refused: Record<string, number>; connects: number } };
    expect(stats.logChannel.refused['bad-key']).toBeGreaterThanOrEqual(1);
    expect(stats.logChannel.refused['no-key']).toBe(1);
    expect(stats.logChannel.connects).toBe(1); // only b
    const arbiterStats = cluster.arbiter.events.find((e) => e.event === 'stopped')!['stats'] as { refused: Record<string, number>; granted: number };
    expect(arbiterStats.refused['bad-key']).toBeGreaterThanOrEqual(1);
    const grants = cluster.arbiter.events.filter((e) => e.event === 'granted');
    expect(arbiterStats.granted).toBe(grants.length);
    expect(grants.every((g) => g['winner'] === 'a' || g['winner'] === 'b')).toBe(true); // never a stranger
    // The log capture holds the frames as the replica sent and accepted them (inner frames,
    // not envelopes): the format wireshark/ftcp-log.lua dissects, and nothing refused.
    const log = readPcapng(new Uint8Array(readFileSync(cluster.capturePaths('a').log)));
    const logIface = log.interfaces.findIndex((i) => i.name === 'log channel');
    const frames = log.packets.filter((pk) => pk.interfaceId === logIface).map((pk) => pk.data.subarray(28));
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.every((f) => decodeChannel(f).ok)).toBe(true);
    expect(frames.some((f) => f[1] === 5 && new TextDecoder().decode(f).includes('mallory'))).toBe(false);
    // The key is in no argv, no line, no statistics; its id is.
    const started = a.events.find((e) => e.event === 'started')!;
    expect(started['clusterKey']).toEqual({ source: 'FTCP_CLUSTER_KEY', id: expect.stringMatching(/^[0-9a-f]{8}$/) });
    // the switch has the same key (its registrations are authenticated) and refused nobody.
    expect(cluster.switch.events.find((e) => e.event === 'listening')!['clusterKey']).toEqual(started['clusterKey']);
    const switchStats = cluster.switch.events.find((e) => e.event === 'stopped')!['stats'] as { dropped: Record<string, number>; challenges: number };
    expect(switchStats.dropped['bad-auth']).toBe(0);
    expect(switchStats.challenges).toBeGreaterThanOrEqual(3); // a, b, the client: one each at their first register
    for (const c of cluster.children.all) {
      expect(c.args.join(' ')).not.toContain(KEY_TEXT);
      expect(JSON.stringify(c.events) + c.stderr).not.toContain(KEY_TEXT);
    }
  }, 180_000);

  it('without a key every process says so in one warning line and runs as before', async () => {
    cluster = new LiveCluster({ dir: join(root, 'bare'), app: 'echo', seed: 22, bulkBytes: 1000, ...TEST_TIMING, unsafeNoOutputRule: false, clusterKey: false });
    const savedEnv = { key: process.env['FTCP_CLUSTER_KEY'], file: process.env['FTCP_CLUSTER_KEY_FILE'] };
    if (savedEnv.key !== undefined || savedEnv.file !== undefined) {
      console.warn('[skip] the key-less check: FTCP_CLUSTER_KEY or FTCP_CLUSTER_KEY_FILE is set in this environment');
      return;
    }
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b', undefined, { alone: true });
    await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
    await until(() => a.stderr.includes('\n') && cluster!.arbiter.stderr.includes('\n') && cluster!.switch.stderr.includes('\n'), 10_000, 'the warnings');
    expect(a.stderr).toMatch(/^warning: ftcp replica a: no cluster key \(--cluster-key-file, FTCP_CLUSTER_KEY_FILE or FTCP_CLUSTER_KEY\): its log channel accepts any process that can connect\n$/);
    expect(cluster.arbiter.stderr).toMatch(/^warning: ftcp arbiter: no cluster key .*: the arbiter accepts any process that can connect\n$/);
    expect(cluster.switch.stderr).toMatch(/^warning: ftcp switch: no cluster key .*: the switch accepts any process that can connect\n$/);
    expect(a.events.find((e) => e.event === 'started')!['clusterKey']).toBeNull();
  }, 120_000);
});
