// Address conflicts on the LAN lab (lan-cluster.ts): another host on the bridge claims the
// service's addresses, with frames put on its link through a packet socket (Lan.sendFrame):
// - an ARP announcement for 192.0.2.10 from c1's own MAC (another host claims the address);
// - an ARP announcement from the service MAC itself, sent by c1 (a MAC collision).
// Both are counted by the replicated stack, never thrown: the primary keeps serving (a kernel
// client's connection afterwards gets its answers), and the report's `conflicts` shows the
// counts for both replicas (the backup replayed the same frames from the log). A run without
// such frames counts none (lan-failover.test.ts asserts the clean case through the report).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { LanCluster, LAN_SERVICE_MAC } from '../../src/lab/lan-cluster.js';
import { lanMissing, SERVICE_ADDRESS } from '../../src/lab/lan.js';
import { listNetns } from '../../src/lab/netns.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { arpAnnouncementFrame } from '../../src/wire/arp.js';
import { parseMac } from '../../src/wire/ethernet.js';
import { describeNeeding, kernelTestsMissing } from '../helpers/kernel.js';
import { distProblem } from '../helpers/process.js';

const dirs: string[] = [];
const clusters: LanCluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const missing = [kernelTestsMissing(), ...lanMissing(), distProblem(['cli/main', 'cli/replica', 'net/replica-host', 'replica/rsm', 'cli/kernel-client']) ?? '']
  .filter((m) => m !== '')
  .filter((m, i, all) => all.indexOf(m) === i)
  .join('; ');

describeNeeding('LAN lab: another host claiming the service address or MAC', missing, () => {
  it('counted by the replicated stack on both replicas, shown in the report; the service goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ftcp-lanconf-'));
    dirs.push(dir);
    const cluster = await LanCluster.start({ dir, app: 'counter', seed: 13, bulkBytes: 1_000_000, heartbeatMs: 25, failureTimeoutMs: 300 });
    clusters.push(cluster);
    const service = parseIpv4Addr(SERVICE_ADDRESS);
    cluster.lan.sendFrame('c1', arpAnnouncementFrame(parseMac(cluster.lan.host('c1').mac), service));
    cluster.lan.sendFrame('c1', arpAnnouncementFrame(parseMac(LAN_SERVICE_MAC), service));
    cluster.lan.sendFrame('c1', arpAnnouncementFrame(parseMac(cluster.lan.host('c1').mac), service));
    // The service still answers c1 (whose kernel ARPs for it again: the bridge relearns the MAC on a's port).
    const client = await cluster.startClient({ app: 'counter', tool: 'node', seed: 13, bulkBytes: 1_000_000, connections: 1, requests: '20', progressMs: 100, timeoutMs: 30_000 });
    const result = await client.waitFor((e) => e.event === 'result', 60_000, 'its result line');
    expect(result['streams']).toEqual({ intact: 1, broken: 0 });
    const report = await cluster.stop();
    expect(report.conflicts).toEqual([
      { replica: 'a', arpConflict: 2, ownSource: 1 },
      { replica: 'b', arpConflict: 2, ownSource: 1 },
    ]);
    expect(listNetns().filter((n) => n.startsWith(`${report.prefix}-`))).toEqual([]);
  }, 120_000);
});
