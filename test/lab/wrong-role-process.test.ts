// An operator's mistake with real processes: a replica started with --role backup against a
// primary that serves without a backup (started --alone, or live after a failover). It must
// neither fence the healthy primary nor stop silently: it stops before any test-and-set,
// exit 2, with the --role join command to run instead. Timing as in live-helpers.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { LiveCluster } from '../../src/lab/live-cluster.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-wrong-role-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let cluster: LiveCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describeWithDist('--role backup against a primary that serves alone, with real processes', LIVE_SOURCES, () => {
  it('a primary started --alone: the backup stops with the join command, exit 2; the primary is not fenced', async () => {
    cluster = new LiveCluster({ dir: join(root, 'alone'), app: 'counter', seed: 5, bulkBytes: 100_000, ...TEST_TIMING, unsafeNoOutputRule: false });
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b', undefined, { alone: true });
    await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
    const b = await cluster.startReplica('b', 'backup', 'a', 'a');
    const wrong = await b.waitFor((e) => e.event === 'wrong-role', 30_000, 'the wrong-role line');
    expect(String(wrong['message'])).toMatch(/heard nothing from primary a .* run ftcp replica --role join --name b --peer a --log-peer 127\.0\.0\.1:\d+/);
    const status = await b.exited;
    expect(status.code).toBe(2);
    expect(b.stderr).toMatch(/error: ftcp replica b: .*start it with --role join instead/);
    expect(b.events.some((e) => e.event === 'won' || e.event === 'suspect')).toBe(false);
    expect(a.running).toBe(true);
    expect(a.events.some((e) => e.event === 'superseded' || e.event === 'fenced')).toBe(false);
  }, 120_000);

  it('after a failover: the old primary restarted as a backup of the new one gets the same line, exit 2', async () => {
    cluster = new LiveCluster({ dir: join(root, 'after'), app: 'counter', seed: 6, bulkBytes: 100_000, ...TEST_TIMING, unsafeNoOutputRule: false });
    await cluster.startNetwork();
    const a = await cluster.startReplica('a', 'primary', 'b');
    const b = await cluster.startReplica('b', 'backup', 'a', 'a');
    await a.waitFor((e) => e.event === 'registered', 30_000, 'the service address');
    a.signal('SIGKILL');
    await b.waitFor((e) => e.event === 'live', 30_000, 'b live');
    const a2 = await cluster.startReplica('a2', 'backup', 'b', 'b');
    await a2.waitFor((e) => e.event === 'wrong-role', 30_000, 'the wrong-role line');
    expect((await a2.exited).code).toBe(2);
    expect(b.running).toBe(true);
    expect(b.events.some((e) => e.event === 'superseded' || e.event === 'fenced')).toBe(false);
  }, 120_000);
});
