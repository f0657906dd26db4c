// Failover with real processes and a real kill -9, for each built-in app: the arbiter, the
// switch, replicas a and b and a client with several connections run as `node bin/ftcp.js`
// children on loopback (src/lab/live-cluster.ts). The primary is killed while data flows
// both ways; the backup must take over with every stream intact, no reset, no two live
// replicas in one epoch, and re-emitted segments byte-identical to the primary's copies.
// Timing: see TEST_TIMING in live-helpers.ts (D raised to 300 ms on this shared machine).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { checkBulkUploads, compareReemitted, LiveCluster, readWireView, splitBrainEpochs } from '../../src/lab/live-cluster.js';
import type { AppName } from '../../src/proxy/app.js';
import { readPcapng } from '../../src/pcap/reader.js';
import { LIVE_SOURCES, midStream, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-failover-proc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let cluster: LiveCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describeWithDist('failover with real processes and kill -9', LIVE_SOURCES, () => {
  it.each<AppName>(['echo', 'counter', 'kv', 'bulk'])('%s: the backup takes over, every stream intact', async (app) => {
    const dir = join(root, app);
    cluster = new LiveCluster({ dir, app, seed: 11, bulkBytes: 600_000, ...TEST_TIMING, unsafeNoOutputRule: false });
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b');
    const b = await cluster.startReplica('b', 'backup', 'a', 'a');
    await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
    const client = await cluster.startClient('client', { connections: 4, progressMs: 20, requests: '60-80', ...(app === 'echo' ? { thinkMs: '5-20' } : {}) });
    await client.waitFor(midStream, 30_000, 'the first bytes');
    process.kill(a.pid, 'SIGKILL');

    const live = await b.waitFor((e) => e.event === 'live', 30_000, 'go-live');
    expect(live['epoch']).toBe(2);
    const result = await client.waitFor((e) => e.event === 'result', 90_000, 'the result');
    expect(result['problems']).toEqual([]);
    expect(result).toMatchObject({ ok: true, streams: { intact: 4, broken: 0 }, resets: 0 });
    if (app === 'counter') expect(result['counter']).toMatchObject({ consecutive: true });
    // Nobody but b went live; a never saw a test-and-set (it was killed, not fenced).
    expect(a.events.some((e) => e.event === 'live' || e.event === 'won')).toBe(false);
    await cluster.stop();
    // Stopped (a replica by SIGINT, at once; SIGTERM would be a switchover): the survivor, the
    // switch and the arbiter exit cleanly, the replica with its statistics.
    expect(b.exit).toEqual({ code: 0, signal: null });
    expect(b.events.some((e) => e.event === 'exit' && e['reason'] === 'SIGINT')).toBe(true);
    expect(cluster.switch.exit).toEqual({ code: 0, signal: null });
    expect(cluster.arbiter.exit).toEqual({ code: 0, signal: null });
    // bulk: what each connection uploaded is what the surviving server app received.
    if (app === 'bulk') {
      expect((result['uploads'] as unknown[]).length).toBe(4);
      expect(checkBulkUploads(result, b.events.find((e) => e.event === 'exit'))).toEqual([]);
    }

    const va = readWireView(cluster.capturePaths('a').wire);
    const vb = readWireView(cluster.capturePaths('b').wire);
    expect(splitBrainEpochs([va, vb])).toEqual([]);
    expect([...va.epochs]).toEqual([1]);
    expect([...vb.epochs]).toEqual([2]);
    const cmp = compareReemitted(va, vb);
    expect(cmp.segments).toBe(live['reemitted']);
    expect(cmp.identicalToPrimary).toBe(cmp.sentByPrimary);
    // The killed primary's captures are readable up to their last complete block.
    for (const path of [cluster.capturePaths('a').wire, cluster.capturePaths('a').log, join(dir, 'client.pcapng'), cluster.capturePaths('b').log]) {
      expect(existsSync(path)).toBe(true);
      expect(readPcapng(new Uint8Array(readFileSync(path))).packets.length).toBeGreaterThan(0);
    }
  }, 180_000);
});
