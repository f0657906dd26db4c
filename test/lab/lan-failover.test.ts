// A replicated pair on a real Linux bridge (src/lab/lan-cluster.ts): replicas a and b on
// TAP devices in their own namespaces, the arbiter in a third, the kernel client in a
// fourth; kill -9 of the primary under load (3 connections):
// - the kernel client checks every byte of every stream: all intact, none reset (and for the
//   counter, the answers across connections are exactly 1..n);
// - the bridge capture (tcpdump on the LAN's bridge) holds no RST of a service connection,
//   and a gratuitous ARP from the service MAC for the service address after the kill; the
//   bridge's fdb then has the service MAC on b's port; no address conflict was counted;
// - no split brain: the replicas' own captures show each epoch emitted by one replica only;
//   what b re-emitted that a had sent is byte-identical to a's frame;
// - tshark reads every capture without a malformed frame; what the replicated stack put on
//   the wire has good checksums (the hosts' kernels leave theirs to offload);
// - nothing of the run is left: its namespaces and socat are gone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { garpAfter, LanCluster, readBridgeCapture } from '../../src/lab/lan-cluster.js';
import { lanMissing } from '../../src/lab/lan.js';
import { compareReemitted, splitBrainEpochs } from '../../src/lab/live-cluster.js';
import { listNetns } from '../../src/lab/netns.js';
import { replicaEvent, type ChildEvent } from '../../src/net/events.js';
import type { LoadApp } from '../../src/sim/cluster-load.js';
import { describeNeeding, kernelTestsMissing } from '../helpers/kernel.js';
import { distProblem } from '../helpers/process.js';
import { checkCaptureWithTshark, tsharkFields } from '../helpers/tshark.js';

const dirs: string[] = [];
const clusters: LanCluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const isProgress = (e: ChildEvent) => e.event === 'progress' && typeof e['bytesReceived'] === 'number' && e['bytesReceived'] > 0;

async function failover(app: LoadApp): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ftcp-lanfo-'));
  dirs.push(dir);
  const seed = 11;
  const cluster = await LanCluster.start({ dir, app: app as 'counter' | 'echo', seed, bulkBytes: 1_000_000, heartbeatMs: 25, failureTimeoutMs: 300 });
  clusters.push(cluster);
  const client = await cluster.startClient({ app, tool: 'node', seed, bulkBytes: 1_000_000, connections: 3, requests: '300-400', progressMs: 100, timeoutMs: 60_000 });
  // Under load: the client has read answers and has not finished.
  await client.waitFor(isProgress, 20_000, 'bytes from the service');
  expect(client.running).toBe(true);
  const killAtMs = cluster.kill('a');
  const b = cluster.replicas.get('b')!;
  const live = replicaEvent(await b.waitFor((e) => replicaEvent(e, 'live') !== undefined, 20_000, 'going live'), 'live')!;
  expect(live.epoch).toBe(2);
  const result = await client.waitFor((e) => e.event === 'result', 90_000, 'its result line');
  const report = await cluster.stop();

  // The client: every byte checked by the kernel client, nothing reset.
  expect(result['problems']).toEqual([]);
  expect(result['streams']).toEqual({ intact: 3, broken: 0 });
  expect(result['resets']).toBe(0);
  if (app === 'counter') expect((result['counter'] as { consecutive: boolean }).consecutive).toBe(true);

  // The LAN: no RST of a service connection, the new primary's gratuitous ARP after the kill, the MAC on b's port.
  const bridge = readBridgeCapture(report.bridge.file);
  expect(report.bridge.droppedByKernel).toBe(0);
  expect(bridge.serviceResets).toBe(0);
  const garp = garpAfter(bridge, killAtMs);
  expect(garp, `gratuitous ARPs: ${JSON.stringify(bridge.garps)}, kill at ${killAtMs}`).toBeDefined();
  expect(report.serviceMacAt).toEqual({ port: cluster.lan.host('b').switchPort, host: 'b' });
  // Nobody else claimed the service's addresses: the survivor's counters (a's inputs replayed, then its own) show no conflict.
  expect(report.conflicts).toEqual([{ replica: 'b', arpConflict: 0, ownSource: 0 }]);

  // No split brain: a emitted in epoch 1 only, b from epoch 2 on, never both in one.
  const views = cluster.wireViews();
  expect(splitBrainEpochs([views.a, views.b])).toEqual([]);
  expect([...views.a.epochs]).toEqual([1]);
  expect(views.b.epochs.has(2)).toBe(true);
  // What b re-emitted and a had already sent is byte-identical, Ethernet header included.
  const reemitted = compareReemitted(views.a, views.b);
  expect(reemitted.identicalToPrimary).toBe(reemitted.sentByPrimary);

  // tshark: no malformed frame anywhere; the replicated stack's own segments have good checksums.
  for (const file of [report.bridge.file, ...(['a', 'b'] as const).flatMap((n) => Object.values(cluster.capturePaths(n)))]) {
    if (file.endsWith('a-shadow.pcapng')) continue; // the primary has no shadow
    const check = checkCaptureWithTshark(file);
    expect(check.packets, file).toBeGreaterThan(0);
    expect({ file, malformed: check.malformed, cutShort: check.cutShort }).toEqual({ file, malformed: 0, cutShort: false });
    // A replica's capture also holds the frames it received, and a client's kernel may hand the
    // bridge a frame whose checksum it left to offload (counted and dropped by the stack): only
    // the service's own segments must all be good.
    if (!file.endsWith('bridge.pcap')) expect({ file, bad: tsharkFields(file, ['frame.number'], 'ip.src == 192.0.2.10 && (tcp.checksum.status == 0 || ip.checksum.status == 0)').rows }).toEqual({ file, bad: [] });
  }
  const badFromService = tsharkFields(report.bridge.file, ['frame.number'], 'ip.src == 192.0.2.10 && (tcp.checksum.status == 0 || ip.checksum.status == 0)');
  expect(badFromService.rows).toEqual([]);
  expect(tsharkFields(report.bridge.file, ['frame.number'], 'ip.src == 192.0.2.10').rows.length).toBeGreaterThan(100);

  // Teardown: nothing of the run is left.
  expect(listNetns().filter((n) => n.startsWith(`${report.prefix}-`))).toEqual([]);
}

const missing = [kernelTestsMissing(), ...lanMissing(), distProblem(['cli/main', 'cli/replica', 'net/replica-host', 'net/service-link', 'cli/kernel-client', 'lab/kernel-client']) ?? '']
  .filter((m) => m !== '')
  .filter((m, i, all) => all.indexOf(m) === i)
  .join('; ');

describeNeeding('LAN failover: a replicated pair on a Linux bridge, kernel client, kill -9 of the primary', missing, () => {
  it('counter app, 3 connections: every stream intact, no RST, a GARP after the kill, no split brain', async () => {
    await failover('counter');
  }, 150_000);

  it('echo app, 3 connections: every echoed byte back, across the failover', async () => {
    await failover('echo');
  }, 150_000);
});
