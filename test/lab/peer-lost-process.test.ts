// The fast path of failure detection with real processes: a kill -9 closes the dead
// replica's log-channel connection at once (its kernel does), and the survivor acts on that
// instead of on silence. D is raised far above anything these waits allow for silence to
// matter (20 s): the survivor must suspect because the channel closed (the suspect's reason),
// after the channel went down, and then ask the arbiter as ever. Nothing asserts a duration.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import type { Child } from '../../src/lab/children.js';
import { LiveCluster, readWireView, splitBrainEpochs } from '../../src/lab/live-cluster.js';
import type { ChildEvent } from '../../src/net/events.js';
import { LIVE_SOURCES, midStream } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-peer-lost-proc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let cluster: LiveCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** Silence alone would take this long to be suspected: far beyond every wait below. */
const LONG_D = { heartbeatMs: 20, failureTimeoutMs: 20_000 };

async function counterPair(name: string): Promise<{ a: Child; b: Child; client: Child }> {
  cluster = new LiveCluster({ dir: join(root, name), app: 'counter', seed: 12, bulkBytes: 100_000, ...LONG_D, unsafeNoOutputRule: false });
  await cluster.startNetwork();
  const a = await cluster.startReplica('a', 'primary', 'b');
  const b = await cluster.startReplica('b', 'backup', 'a', 'a');
  await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
  const client = await cluster.startClient('client', { connections: 3, progressMs: 20, requests: '60-80', thinkMs: '2-8', timeoutMs: 120_000 });
  await client.waitFor(midStream, 30_000, 'the first bytes');
  return { a, b, client };
}

/** The survivor's events from the loss of the channel on: their names, in order. */
function afterLoss(events: ChildEvent[], channel: 'dial' | 'listen'): string[] {
  const down = events.findIndex((e) => e.event === 'channel-down' && e['channel'] === channel);
  return down < 0 ? [] : events.slice(down).map((e) => String(e.event)).filter((n) => ['channel-down', 'suspect', 'won', 'lost', 'live', 'fenced', 'stopped'].includes(n));
}

describeWithDist('a dead peer process is suspected when its log channel closes, not after D', LIVE_SOURCES, () => {
  it('kill -9 of the primary: the backup suspects it (channel lost), wins, goes live; every stream intact', async () => {
    const { a, b, client } = await counterPair('primary');
    process.kill(a.pid, 'SIGKILL');
    const live = await b.waitFor((e) => e.event === 'live', 15_000, 'go-live on the closed channel (D is 20 s)');
    expect(live).toMatchObject({ epoch: 2, reason: 'failover' });
    expect(b.events.find((e) => e.event === 'channel-down')).toMatchObject({ channel: 'dial', reason: 'connection lost' });
    expect(b.events.find((e) => e.event === 'suspect')).toMatchObject({ epoch: 1, reason: 'channel-lost' });
    expect(afterLoss(b.events, 'dial')).toEqual(['channel-down', 'suspect', 'won', 'live']);
    const result = await client.waitFor((e) => e.event === 'result', 120_000, 'the result');
    expect(result['problems']).toEqual([]);
    expect(result).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0, counter: { consecutive: true } });
    await cluster!.stop();
    expect(splitBrainEpochs(['a', 'b'].map((n) => readWireView(cluster!.capturePaths(n).wire)))).toEqual([]);
  }, 240_000);

  it('kill -9 of the backup: the primary suspects it (channel lost), wins, and serves alone; every stream intact', async () => {
    const { a, b, client } = await counterPair('backup');
    process.kill(b.pid, 'SIGKILL');
    const won = await a.waitFor((e) => e.event === 'won', 15_000, 'the test-and-set on the closed channel (D is 20 s)');
    expect(won['epoch']).toBe(1);
    expect(a.events.find((e) => e.event === 'suspect')).toMatchObject({ epoch: 1, reason: 'channel-lost' });
    expect(afterLoss(a.events, 'listen')).toEqual(['channel-down', 'suspect', 'won']);
    const result = await client.waitFor((e) => e.event === 'result', 120_000, 'the result');
    expect(result['problems']).toEqual([]);
    expect(result).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0, counter: { consecutive: true } });
    expect(a.running).toBe(true);
    expect(a.events.some((e) => e.event === 'fenced' || e.event === 'lost')).toBe(false);
  }, 240_000);
});
