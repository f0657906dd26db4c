// Cluster runs with a purpose each: the forced re-emission of segments the client already
// has, join then a second failover, the unsafe mode failing, a long log partition, a dead
// backup, determinism of captures, and the captures as tshark sees them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPcapng } from '../../src/pcap/reader.js';
import { APP_NAMES } from '../../src/proxy/app.js';
import { CLUSTER_CAPTURES } from '../../src/pcap/vantage.js';
import { runCluster, type ClusterOptions, type ClusterResult } from '../../src/sim/cluster.js';
import { tcpPayloadLength } from '../../src/wire/udp.js';
import { checkCaptureWithTshark, itWithTshark } from '../helpers/tshark.js';

const cleanLink = { delayUs: 10_000, loss: 0, duplicate: 0, reorder: 0, reorderDelayUs: 1_000 };
const key = (b: Uint8Array) => Buffer.from(b).toString('hex');

function explain(r: ClusterResult): string {
  return `${r.command}\n${r.problems.join('\n')}\n${r.timeline.map((t) => `${(t.timeUs / 1000).toFixed(3)} ms ${t.text}`).join('\n')}`;
}

describe('forced re-emission of segments the client already received', () => {
  it.each([['echo'], ['counter']] as const)('%s: primary, shadow and client captures agree byte for byte', (app) => {
    const r = runCluster({
      seed: 7,
      app,
      connections: 2,
      crashAfterRelease: true,
      faults: { clientLink: cleanLink, logPartition: undefined, crashAtUs: 300_000, arbiterDelayUs: 500 },
    });
    expect(r.ok, explain(r)).toBe(true);
    expect(r.failover?.reemitted).toBeGreaterThan(0);
    const primary = readPcapng(r.captures.primary!).packets;
    const backup = readPcapng(r.captures.backup!).packets;
    const shadow = readPcapng(r.captures.shadow!).packets;
    const client = readPcapng(r.captures.client!).packets;
    const reemitted = backup.filter((p) => p.comments.some((c) => c.includes('re-emitted')));
    expect(reemitted.length).toBe(r.failover!.reemitted);
    const withData = reemitted.filter((p) => tcpPayloadLength(p.data) > 0);
    expect(withData.length).toBeGreaterThan(0);
    const primarySet = new Set(primary.map((p) => key(p.data)));
    const shadowSet = new Set(shadow.map((p) => key(p.data)));
    const clientCount = new Map<string, number>();
    for (const p of client) clientCount.set(key(p.data), (clientCount.get(key(p.data)) ?? 0) + 1);
    for (const p of withData) {
      // The primary released exactly these bytes, the backup generated them while suppressed,
      // and the client received them twice: once from each.
      expect(primarySet.has(key(p.data))).toBe(true);
      expect(shadowSet.has(key(p.data))).toBe(true);
      expect(clientCount.get(key(p.data))).toBe(2);
    }
    expect(r.reemitted.identicalToPrimary).toBe(r.reemitted.segments);
    // The client's TCP dropped the second copies as duplicates (no other duplicates on a clean network).
    expect(r.client.duplicateSegmentsDropped).toBeGreaterThanOrEqual(withData.length);
    expect(r.streams).toEqual({ intact: 2, broken: 0 });
  });
});

describe('join, then a second failover', () => {
  it.each(APP_NAMES.map((a) => [a]))('%s: c joins the lone b by snapshot, b is killed, c goes live, every stream intact', (app) => {
    const r = runCluster({
      seed: 11,
      app,
      connections: 2,
      faults: { crashAtUs: 300_000, logPartition: undefined },
      join: { atUs: 800_000, secondCrashAtUs: 1_200_000 },
      load: { requests: [100, 120], bulkBytes: 3_000_000, uploadBytes: [200_000, 300_000] },
    });
    expect(r.ok, explain(r)).toBe(true);
    expect(r.failovers.map((f) => [f.killed, f.by, f.epoch])).toEqual([
      ['a', 'b', 2],
      ['b', 'c', 4],
    ]);
    const text = r.timeline.map((t) => t.text).join('\n');
    expect(text).toMatch(/b: new backup c joins at index \d+ .*epoch 3/);
    expect(text).toMatch(/c: restored the snapshot at index \d+, following in epoch 3/);
    // The second kill came while traffic was still flowing (else it would prove little).
    expect(r.endUs).toBeGreaterThan(1_300_000);
    expect(r.splitBrain).toBe(0);
  });
});

describe('unsafe mode (no output rule)', () => {
  const seeds = [1, 2, 3, 4, 5];
  it('breaks the counter: streams stall or the answers stop being consecutive', () => {
    for (const seed of seeds) {
      const r = runCluster({ seed, app: 'counter', connections: 3, unsafeNoOutputRule: true, capture: 'none' });
      expect(r.ok, `seed ${seed} should fail in unsafe mode`).toBe(false);
      expect(r.streams.broken > 0 || r.counterAnswers?.consecutive === false).toBe(true);
      expect(r.failover?.liveMs).not.toBeNull();
    }
  });

  it('the same seeds and partitions with the output rule pass', () => {
    for (const seed of seeds) {
      const unsafe = runCluster({ seed, app: 'counter', connections: 3, unsafeNoOutputRule: true, capture: 'none', maxUs: 1 });
      const r = runCluster({ seed, app: 'counter', connections: 3, capture: 'none', faults: { logPartition: unsafe.plan.logPartition } });
      expect(r.ok, explain(r)).toBe(true);
      expect(r.counterAnswers?.consecutive).toBe(true);
    }
  });
});

describe('failures other than a crashed primary', () => {
  it('a long log partition with both alive: one wins the arbiter, the other fences or stops, no split brain', () => {
    const r = runCluster({ seed: 3, app: 'counter', connections: 3, noCrash: true, faults: { logPartition: { fromUs: 300_000, toUs: 20_000_000 } } });
    expect(r.ok, explain(r)).toBe(true);
    const text = r.timeline.map((t) => t.text).join('\n');
    expect(text).toMatch(/won the test-and-set of epoch 1/);
    expect(text).toMatch(/lost the test-and-set of epoch 1/);
    expect(r.splitBrain).toBe(0);
  });

  it('a dead backup: the primary wins the arbiter and serves alone', () => {
    const r = runCluster({ seed: 4, app: 'kv', connections: 3, killBackup: true, faults: { logPartition: undefined } });
    expect(r.ok, explain(r)).toBe(true);
    expect(r.timeline.map((t) => t.text)).toContain('a: won the test-and-set of epoch 1');
    expect(r.failovers).toEqual([]);
  });

  it('a slow arbiter delays go-live but loses nothing', () => {
    const r = runCluster({ seed: 5, app: 'echo', connections: 2, faults: { arbiterDelayUs: 150_000, logPartition: undefined } });
    expect(r.ok, explain(r)).toBe(true);
    expect(r.failover!.liveMs! - r.failover!.detectedMs!).toBeGreaterThanOrEqual(300);
  });
});

describe('determinism', () => {
  const options: ClusterOptions = { seed: 42, app: 'kv', connections: 3 };
  it('the same seed twice gives byte-identical captures and the same report', () => {
    const a = runCluster(options);
    const b = runCluster(options);
    for (const name of CLUSTER_CAPTURES) {
      expect(a.captures[name]!.length).toBeGreaterThan(100);
      expect(Buffer.from(a.captures[name]!).equals(Buffer.from(b.captures[name]!)), name).toBe(true);
    }
    const { captures: _ca, ...ra } = a;
    const { captures: _cb, ...rb } = b;
    expect(ra).toEqual(rb);
  });

  it('another seed gives other captures', () => {
    const a = runCluster(options);
    const c = runCluster({ ...options, seed: 43 });
    expect(Buffer.from(a.captures.client!).equals(Buffer.from(c.captures.client!))).toBe(false);
  });
});

describe('captures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ftcp-cluster-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('carry events as packet comments', () => {
    const r = runCluster({ seed: 9, app: 'counter', connections: 2 });
    const comments = (name: 'client' | 'primary' | 'backup' | 'shadow' | 'log') => readPcapng(r.captures[name]!).packets.flatMap((p) => p.comments);
    expect(comments('primary').some((c) => /^log entry \d+$/.test(c))).toBe(true);
    expect(comments('primary').some((c) => /^O\(\d+\), epoch 1$/.test(c))).toBe(true);
    expect(comments('log').some((c) => c.includes('replica a was killed'))).toBe(true);
    expect(comments('client').some((c) => c.includes('replica a (the primary) was killed'))).toBe(true);
    expect(comments('backup').some((c) => c.includes('goes live in epoch 2'))).toBe(true);
    expect(comments('shadow').every((c) => c.startsWith('shadow: O('))).toBe(true);
    expect(comments('log').some((c) => c.startsWith('log: append'))).toBe(true);
    expect(comments('log').some((c) => c.includes('asks for the test-and-set of epoch 1'))).toBe(true);
    expect(comments('client').some((c) => c.includes('moved 192.0.2.10 to replica b'))).toBe(true);
  });

  itWithTshark('every capture opens in tshark with no malformed packet, no bad checksum, no expert error', () => {
    const r = runCluster({ seed: 9, app: 'echo', connections: 2 });
    for (const name of CLUSTER_CAPTURES) {
      const path = join(dir, `${name}.pcapng`);
      writeFileSync(path, r.captures[name]!);
      const check = checkCaptureWithTshark(path);
      expect(check.exitCode, `${name}: ${check.stderr}`).toBe(0);
      expect(check.packets).toBeGreaterThan(0);
      expect(check.malformed, name).toBe(0);
      expect(check.badChecksums, name).toBe(0);
      expect(check.problems.filter((p) => p.severity === 'error'), name).toEqual([]);
      expect(check.comments.length, name).toBeGreaterThan(0);
    }
  });
});
