// `ftcp serve --config` on two hosts of the LAN lab (lan-cluster.ts with serve: network
// namespaces on a Linux bridge, each replica behind a TAP device of its host's bridge), the
// kernel's TCP as the client on a host of its own (3 counter connections, every byte
// checked), under load:
// - a wins the start of epoch 1 and serves; b finds a's log channel and joins it by itself;
// - kill -9 of a: b goes live; a's `ftcp serve` started again joins b as its backup by
//   itself; kill -9 of b: a goes live in a later epoch;
// - every client stream intact through both failovers (none reset, the counter's answers
//   exactly 1..n), no RST of a service connection on the bridge, a gratuitous ARP after each
//   kill and the service MAC on a's port at the end, no epoch emitted by two replicas;
// - with the arbiter on three etcd members (one per host): the etcd member that leads, killed
//   before the first kill (the worst one to lose: the other two must elect a leader, about
//   a second with no answer), changes nothing: no output held for lost contact (the replicas'
//   etcd contact timeout is above the election time), both test-and-sets are still won;
// - nothing of the run is left (namespaces, processes), also when a step fails (afterEach).
// Timing is generous (H 30 ms, D 600 ms): a loaded machine must not fail over by itself.
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
import { describeNeeding, kernelTestsMissing } from '../helpers/kernel.js';
import { distProblem } from '../helpers/process.js';

const dirs: string[] = [];
const clusters: LanCluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const isProgress = (e: ChildEvent) => e.event === 'progress' && typeof e['bytesReceived'] === 'number' && e['bytesReceived'] > 0;
const serveRun = (role: 'primary' | 'join', via?: string) => (e: ChildEvent) => e.event === 'serve-run' && e['role'] === role && (via === undefined || e['via'] === via);
const WAIT_MS = 60_000;

async function twoFailovers(arbiter: 'embedded' | 'etcd'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `ftcp-lanserve-${arbiter}-`));
  dirs.push(dir);
  const seed = 21;
  const cluster = await LanCluster.start({ dir, app: 'counter', seed, bulkBytes: 1_000_000, heartbeatMs: 30, failureTimeoutMs: 600, serve: true, arbiter });
  clusters.push(cluster);
  const a1 = cluster.replicas.get('a')!;
  const b = cluster.replicas.get('b')!;
  // The roles came from the arbiter and the probe, not from the command line.
  expect(a1.args.slice(0, 2)).toEqual(['serve', '--config']);
  expect(a1.events.some(serveRun('primary'))).toBe(true);
  expect(a1.events.some((e) => e.event === 'serve-claim' && e['won'] === true && e['epoch'] === 1)).toBe(true);
  expect(b.events.some(serveRun('join', 'a'))).toBe(true);

  const client = await cluster.startClient({ app: 'counter', tool: 'node', seed, bulkBytes: 1_000_000, connections: 3, requests: '2500', thinkMs: '5-15', progressMs: 100, timeoutMs: 240_000 });
  await client.waitFor(isProgress, 30_000, 'bytes from the service');
  let etcdKilledPid: number | undefined;
  if (arbiter === 'etcd') {
    const leader = await cluster.etcd!.leader();
    expect(leader, 'no etcd member says which one leads').toBeDefined();
    etcdKilledPid = cluster.etcd!.pid(leader!);
    await cluster.etcd!.kill(leader!); // two of three keep the quorum, after an election
    await new Promise((r) => setTimeout(r, 3000));
    expect(client.running).toBe(true);
  }

  const kill1 = cluster.kill('a');
  const live1 = replicaEvent(await b.waitFor((e) => replicaEvent(e, 'live') !== undefined, WAIT_MS, 'going live'), 'live')!;
  await cluster.replicas.get('a')!.exited; // b can be live (the closed log channel) before a's exit is seen
  const a2 = await cluster.restart('a');
  await a2.waitFor(serveRun('join', 'b'), WAIT_MS, 'a run joining b');
  await a2.waitFor((e) => replicaEvent(e, 'joined') !== undefined, WAIT_MS, 'joining b as its backup');
  await b.waitFor((e) => replicaEvent(e, 'backup-joined') !== undefined, WAIT_MS, 'a joining it');
  // The second failover must happen while the client still runs, or it proves nothing.
  expect(client.running, 'the client finished before the second kill; give it more requests').toBe(true);
  const kill2 = cluster.kill('b');
  const live2 = replicaEvent(await a2.waitFor((e) => replicaEvent(e, 'live') !== undefined, WAIT_MS, 'going live'), 'live')!;
  const result = await client.waitFor((e) => e.event === 'result', 240_000, 'its result line');
  const report = await cluster.stop();

  expect(result['problems']).toEqual([]);
  expect(result['streams']).toEqual({ intact: 3, broken: 0 });
  expect(result['resets']).toBe(0);
  expect((result['counter'] as { consecutive: boolean }).consecutive).toBe(true);
  expect(live2.epoch).toBeGreaterThan(live1.epoch);
  for (const c of [b, a2]) expect(c.events.filter((e) => e.event === 'won')).toHaveLength(1);
  // No run of either serve ended by itself (a fence, a lost test-and-set, an arbiter that went away).
  for (const c of [a1, b, a2]) expect(c.events.filter((e) => ['serve-restart', 'fenced', 'arbiter-fenced', 'lost', 'failed'].includes(e.event)), c.label).toEqual([]);
  expect(a2.events.filter((e) => e.event === 'serve-run')).toHaveLength(1);

  const bridge = readBridgeCapture(report.bridge.file);
  expect(bridge.serviceResets).toBe(0);
  expect(garpAfter(bridge, kill1)).toBeDefined();
  expect(garpAfter(bridge, kill2)).toBeDefined();
  expect(report.serviceMacAt).toEqual({ port: cluster.lan.host('a').switchPort, host: 'a' });
  const views = cluster.allWireViews();
  expect(views.map((v) => `${v.name}${v.run}`)).toEqual(['a1', 'b1', 'a2']);
  expect(splitBrainEpochs(views.map((v) => v.view))).toEqual([]);

  expect(listNetns().filter((n) => n.startsWith(`${report.prefix}-`))).toEqual([]);
  if (etcdKilledPid !== undefined) expect(() => process.kill(etcdKilledPid, 0)).toThrow();
}

const missing = [kernelTestsMissing(), ...lanMissing(), distProblem(['cli/main', 'cli/serve', 'net/serve', 'net/serve-config', 'net/replica-host', 'cli/kernel-client']) ?? '']
  .filter((m) => m !== '')
  .filter((m, i, all) => all.indexOf(m) === i)
  .join('; ');

describeNeeding('ftcp serve on two LAN hosts: kill -9, rejoin by itself, kill -9 again', missing, () => {
  it('embedded arbiter: every kernel client stream intact through both failovers', () => twoFailovers('embedded'), 300_000);
});

describeNeeding('ftcp serve on two LAN hosts with the arbiter on etcd', [missing, etcdVersion() === null ? ETCD_INSTALL_HINT : ''].filter((m) => m !== '').join('; '), () => {
  it('three etcd members, one per host: the leader`s host killed during the run changes nothing', () => twoFailovers('etcd'), 300_000);
});
