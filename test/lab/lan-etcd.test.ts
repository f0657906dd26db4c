// The LAN lab with its arbiter on etcd (lan-cluster.ts, arbiter 'etcd'): a three-member
// etcd cluster, one member in each of the hosts a, b and arb (on the host's own address,
// port 2379), the replicas' --arbiter etcd://a:2379,b:2379,arb:2379. Under load:
// - kill -9 of the etcd member on arb: the cluster keeps its quorum, nothing changes;
// - kill -9 of the primary a (its host's etcd member lives on): b wins the test-and-set at
//   etcd and goes live in epoch 2; every client stream is
//   intact, none reset, the gratuitous ARP is in the bridge capture, the MAC on b's port;
// - no split brain; nothing of the run is left (namespaces, etcd members).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { etcdVersion, ETCD_INSTALL_HINT } from '../../src/lab/etcd-cluster.js';
import { garpAfter, LanCluster, readBridgeCapture } from '../../src/lab/lan-cluster.js';
import { lanMissing } from '../../src/lab/lan.js';
import { splitBrainEpochs } from '../../src/lab/live-cluster.js';
import { listNetns } from '../../src/lab/netns.js';
import { replicaEvent, type ChildEvent } from '../../src/net/events.js';
import { describeNeeding, kernelTestsMissing, toolsMissing } from '../helpers/kernel.js';
import { distProblem } from '../helpers/process.js';

const dirs: string[] = [];
const clusters: LanCluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const isProgress = (e: ChildEvent) => e.event === 'progress' && typeof e['bytesReceived'] === 'number' && e['bytesReceived'] > 0;

const missing = [kernelTestsMissing(), ...lanMissing(), ...toolsMissing(['curl']), etcdVersion() === null ? ETCD_INSTALL_HINT : '', distProblem(['cli/main', 'cli/replica', 'net/replica-host', 'net/arbiter-etcd', 'cli/kernel-client']) ?? '']
  .filter((m) => m !== '')
  .filter((m, i, all) => all.indexOf(m) === i)
  .join('; ');

describeNeeding('LAN failover with the arbiter on a three-member etcd cluster, one member per host', missing, () => {
  it('an etcd host killed changes nothing; kill -9 of the primary: b wins at etcd, every stream intact, no split brain', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ftcp-lanetcd-'));
    dirs.push(dir);
    const seed = 12;
    const cluster = await LanCluster.start({ dir, app: 'counter', seed, bulkBytes: 1_000_000, heartbeatMs: 25, failureTimeoutMs: 1000, arbiter: 'etcd' });
    clusters.push(cluster);
    const etcd = cluster.etcd!;
    expect(etcd.endpoints().map((e) => `${e.host}:${e.port}`)).toEqual(['a', 'b', 'arb'].map((h) => `${cluster.lan.host(h).address}:2379`));
    // Each member runs in its host's namespace.
    for (const [i, h] of ['a', 'b', 'arb'].entries()) {
      expect(cluster.lan.namespaces).toContain(cluster.lan.host(h).netns);
      expect(etcd.pid(i)).toBeGreaterThan(0);
    }
    const client = await cluster.startClient({ app: 'counter', tool: 'node', seed, bulkBytes: 1_000_000, connections: 2, requests: '300-400', thinkMs: '2-4', progressMs: 100, timeoutMs: 60_000 });
    await client.waitFor(isProgress, 20_000, 'bytes from the service');
    await etcd.kill(2); // the member on arb
    await new Promise((r) => setTimeout(r, 500));
    expect(client.running).toBe(true);
    const a = cluster.replicas.get('a')!;
    expect(a.events.some((e) => e.event === 'fenced' || e.event === 'stopped')).toBe(false);
    const killAtMs = cluster.kill('a');
    const b = cluster.replicas.get('b')!;
    const live = replicaEvent(await b.waitFor((e) => replicaEvent(e, 'live') !== undefined, 30_000, 'going live'), 'live')!;
    expect(live.epoch).toBe(2);
    expect(b.events.some((e) => e.event === 'won')).toBe(true);
    const result = await client.waitFor((e) => e.event === 'result', 90_000, 'its result line');
    const etcdPids = [0, 1].map((i) => etcd.pid(i)!);
    const report = await cluster.stop();

    expect(result['problems']).toEqual([]);
    expect(result['streams']).toEqual({ intact: 2, broken: 0 });
    expect(result['resets']).toBe(0);
    expect((result['counter'] as { consecutive: boolean }).consecutive).toBe(true);
    const bridge = readBridgeCapture(report.bridge.file);
    expect(bridge.serviceResets).toBe(0);
    expect(garpAfter(bridge, killAtMs)).toBeDefined();
    expect(report.serviceMacAt).toEqual({ port: cluster.lan.host('b').switchPort, host: 'b' });
    const views = cluster.wireViews();
    expect(splitBrainEpochs([views.a, views.b])).toEqual([]);
    expect([...views.a.epochs]).toEqual([1]);

    // Nothing is left: the namespaces and the etcd members (by pid).
    expect(listNetns().filter((n) => n.startsWith(`${report.prefix}-`))).toEqual([]);
    for (const pid of etcdPids) expect(() => process.kill(pid, 0)).toThrow();
  }, 180_000);
});
