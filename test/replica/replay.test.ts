// The flight recorder's pure part (src/replica/replay.ts, replay-input.ts): simulated cluster
// captures replayed offline, compared with the primary's capture byte for byte and with what
// the replicas' own stacks reported; tampered logs; a log with a join (snapshot transfer).
import { describe, expect, it } from 'vitest';
import { readPcapng } from '../../src/pcap/reader.js';
import type { AppName } from '../../src/proxy/app.js';
import { decodeLog, extractLogFrames, extractOutputs, findRsmConfig, type ReplayBase } from '../../src/replica/replay-input.js';
import { replayLog, ReplayError, type ReplayInput } from '../../src/replica/replay.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import { runCluster, type ClusterOptions, type ClusterResult } from '../../src/sim/cluster.js';
import { comparable, findEntryCopies, packetsOf, RecordingFactory, tamperLoggedPacket } from './replay-helpers.js';

const cleanLink = { delayUs: 8_000, loss: 0, duplicate: 0, reorder: 0, reorderDelayUs: 1_000 };

function explain(r: ClusterResult): string {
  return `${r.command}\n${r.problems.join('\n')}`;
}

function baseOf(log: Uint8Array): ReplayBase {
  const found = findRsmConfig(readPcapng(log).interfaces.map((i) => i.description ?? ''));
  if (found === undefined || 'error' in found) throw new Error(`no RSM config in the log capture: ${JSON.stringify(found)}`);
  return found;
}

function input(log: Uint8Array, outputsFrom?: Uint8Array, extra: Partial<ReplayInput> = {}): ReplayInput {
  return {
    log: decodeLog(extractLogFrames(packetsOf(log))),
    base: baseOf(log),
    factory: stackFactory,
    ...(outputsFrom !== undefined ? { outputs: extractOutputs(packetsOf(outputsFrom)) } : {}),
    ...extra,
  };
}

function run(options: ClusterOptions): { r: ClusterResult; rec: RecordingFactory } {
  const rec = new RecordingFactory();
  const r = runCluster({ ...options, stackFactory: rec });
  expect(r.ok, explain(r)).toBe(true);
  return { r, rec };
}

describe('replay of a simulated cluster capture', () => {
  const cases: Array<[AppName, number]> = [
    ['echo', 1],
    ['counter', 2],
    ['kv', 5],
    ['bulk', 6],
    ['counter', 9],
  ];
  it.each(cases)('%s, seed %i: every entry verifies, every released packet is identical, the state is the primary stack\'s', (app, seed) => {
    const { r, rec } = run({ seed, app, connections: 2, load: { bulkBytes: 150_000, uploadBytes: [20_000, 60_000] } });
    const outputs = extractOutputs(packetsOf(r.captures.primary!));
    const res = replayLog(input(r.captures.log!, r.captures.primary!));
    expect(res.segments).toHaveLength(1);
    expect(res.corrupt).toEqual([]);
    expect(res.applied).toBeGreaterThan(10);
    expect(res.checks).toEqual({ verified: res.applied, failed: 0 });
    expect(res.outputs.first).toBeUndefined();
    expect(res.outputs.mismatchedEntries).toBe(0);
    // Every packet the primary released was produced again, byte for byte.
    expect(outputs.length).toBeGreaterThan(10);
    expect(res.outputs.matchedPackets).toBe(outputs.length);
    expect(res.outputs.notReplayedPackets).toBe(0);
    // The primary's stack (the first one created) stopped where the log ends.
    expect(comparable(res.connections)).toEqual(comparable(rec.stacks[0]!.current()));
    expect(res.connections.length).toBeGreaterThan(0);
  });

  it('--at N shows the state the primary\'s own stack had after entry N', () => {
    const { r, rec } = run({ seed: 4, app: 'kv', connections: 3 });
    const full = replayLog(input(r.captures.log!));
    const entries = decodeLog(extractLogFrames(packetsOf(r.captures.log!))).entries.map((e) => e.entry);
    const kinds = new Map(entries.map((e) => [e.index, e.kind]));
    const inputs = (n: number) => [...kinds].filter(([i, k]) => i <= n && (k === 'packet' || k === 'tick')).length;
    let checked = 0;
    for (const n of [1, 5, Math.floor(full.index / 3), Math.floor(full.index / 2), full.index - 1]) {
      const next = kinds.get(n + 1);
      if (next !== 'packet' && next !== 'tick') continue;
      const at = replayLog(input(r.captures.log!, undefined, { at: n }));
      expect(at.index).toBe(n);
      expect(at.applied).toBe(n);
      // The recorder saw the state just before the stack's (inputs(n) + 1)-th input: after entry n.
      expect(comparable(at.connections), `at ${n}`).toEqual(comparable(rec.stacks[0]!.before[inputs(n)]!));
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(3);
    // The backup's stack (the second one) went through the same states.
    const mid = Math.floor(full.index / 2);
    if (kinds.get(mid + 1) === 'packet' || kinds.get(mid + 1) === 'tick') {
      expect(comparable(replayLog(input(r.captures.log!, undefined, { at: mid })).connections)).toEqual(comparable(rec.stacks[1]!.before[inputs(mid)]!));
    }
    expect(() => replayLog(input(r.captures.log!, undefined, { at: full.index + 1 }))).toThrow(ReplayError);
    try {
      replayLog(input(r.captures.log!, undefined, { at: full.index + 1 }));
    } catch (error) {
      expect((error as ReplayError).code).toBe('REPLAY_AT_OUT_OF_RANGE');
      expect((error as Error).message).toContain(`1..${full.index}`);
    }
  });

  it('the RSM config in the capture is the one the cluster ran with', () => {
    const r = runCluster({ seed: 12, app: 'echo', connections: 1, capture: 'memory', maxUs: 200_000 });
    const base = baseOf(r.captures.log!);
    expect(base.startUs).toBe(0);
    expect(base.rsm.app).toBe('echo');
    expect(base.rsm.servicePort).toBe(7070);
    expect(base.rsm.stack.addresses).toEqual([0xc000020a]);
  });
});

/** A packet entry of the echo app whose echo is in its own O(i): the payload comes back at once. */
function echoedEntry(r: ClusterResult): { index: number; payloadAt: number } {
  const outputs = extractOutputs(packetsOf(r.captures.primary!));
  const byIndex = new Map<number, Uint8Array[]>();
  for (const o of outputs) byIndex.set(o.index, [...(byIndex.get(o.index) ?? []), o.data]);
  const entries = decodeLog(extractLogFrames(packetsOf(r.captures.log!))).entries.map((e) => e.entry);
  const payload = (p: Uint8Array) => {
    const ihl = (p[0]! & 0x0f) * 4;
    return { at: ihl + (p[ihl + 12]! >> 4) * 4, bytes: p.subarray(ihl + (p[ihl + 12]! >> 4) * 4) };
  };
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  for (const e of entries.slice(Math.floor(entries.length / 3))) {
    if (e.kind !== 'packet') continue;
    const inbound = payload(e.packet);
    if (inbound.bytes.length < 4) continue;
    if ((byIndex.get(e.index) ?? []).some((o) => hex(payload(o).bytes).includes(hex(inbound.bytes)))) return { index: e.index, payloadAt: inbound.at + 1 };
  }
  throw new Error('no echoed entry found');
}

describe('a tampered log capture', () => {
  const { r } = run({ seed: 21, app: 'echo', connections: 2, faults: { clientLink: cleanLink, logPartition: undefined } });
  const target = echoedEntry(r);

  it('a changed byte without a new CRC: the entry is corrupt, and the replay stops just before it', () => {
    const tampered = tamperLoggedPacket(r.captures.log!, target.index, target.payloadAt, { reCrc: false });
    const res = replayLog(input(tampered, r.captures.primary!));
    const bad = res.corrupt.filter((c) => !c.recovered);
    expect(bad.length).toBeGreaterThan(0);
    expect(bad.every((c) => c.index === target.index && c.reason === 'log-bad-crc')).toBe(true);
    expect(res.segments[0]!.gap?.index).toBe(target.index);
    expect(res.index).toBe(target.index - 1);
    expect(res.checks.failed).toBe(0);
    expect(res.outputs.mismatchedEntries).toBe(0);
  });

  it('a changed byte, re-CRC\'d, TCP checksum fixed: the echo differs in O(i), at its checksum and its payload byte', () => {
    const tampered = tamperLoggedPacket(r.captures.log!, target.index, target.payloadAt, { reCrc: true, fixTcpChecksum: true });
    const res = replayLog(input(tampered, r.captures.primary!));
    expect(res.corrupt).toEqual([]);
    const m = res.outputs.first!;
    expect(m.index).toBe(target.index);
    // The echo's checksum comes first in the packet, then the flipped payload byte itself.
    expect(m.where).toMatch(/^TCP header byte 1[67]$/);
    expect(m.lastWhere).toMatch(/^TCP payload byte \d+$/);
    expect(m.differing).toBeLessThanOrEqual(3);
    expect(m.connection).toMatch(/^192\.0\.2\.10:7070 > 192\.0\.2\.1:\d+$/);
    expect(res.checks.first === undefined || res.checks.first.index >= target.index).toBe(true);
  });

  it('a changed byte, re-CRC\'d, TCP checksum left wrong: the replayed stack drops it and the state check fails there', () => {
    const tampered = tamperLoggedPacket(r.captures.log!, target.index, target.payloadAt, { reCrc: true });
    const res = replayLog(input(tampered, r.captures.primary!));
    expect(res.checks.first?.index).toBe(target.index);
    expect(res.checks.first?.connection?.remote).toMatch(/^192\.0\.2\.1:\d+$/);
    expect(res.outputs.first?.index ?? Infinity).toBeGreaterThanOrEqual(target.index);
  });

  it('a corrupt entry that was sent again intact costs nothing', () => {
    const copies = findEntryCopies(r.captures.log!, target.index);
    expect(copies.length).toBeGreaterThanOrEqual(1);
    // Append a clean copy: tamper the first copy only by hand.
    const tampered = r.captures.log!.slice();
    const at = copies[0]!.entryAt + 40;
    tampered[at] = tampered[at]! ^ 1;
    const log = decodeLog(extractLogFrames(packetsOf(tampered)));
    const clean = decodeLog(extractLogFrames(packetsOf(r.captures.log!)));
    const copy = clean.entries.find((e) => e.entry.index === target.index)!;
    log.entries.push({ ...copy, packet: 99_999 });
    const res = replayLog({ log, base: baseOf(r.captures.log!), factory: stackFactory });
    expect(res.corrupt.some((c) => c.index === target.index && c.recovered === true)).toBe(true);
    expect(res.segments[0]!.gap).toBeUndefined();
    expect(res.checks.failed).toBe(0);
  });
});

describe('a log with a join (snapshot transfer)', () => {
  const { r } = run({
    seed: 11,
    app: 'echo',
    connections: 2,
    faults: { crashAtUs: 300_000, logPartition: undefined },
    join: { atUs: 800_000, secondCrashAtUs: 1_200_000 },
    load: { requests: [100, 120] },
  });

  it('replays from the start, then from the snapshot; outputs match both the primary and the backup captures', () => {
    const res = replayLog(input(r.captures.log!, r.captures.primary!));
    expect(res.segments.map((s) => s.from)).toEqual(['config', 'snapshot']);
    expect(res.segments.every((s) => s.gap === undefined)).toBe(true);
    expect(res.segments[1]!.baseIndex).toBeGreaterThan(res.segments[0]!.lastIndex);
    expect(res.segments[1]!.lastIndex).toBeGreaterThan(res.segments[1]!.baseIndex);
    expect(res.checks.failed).toBe(0);
    expect(res.outputs.mismatchedEntries).toBe(0);
    expect(res.outputs.matchedPackets).toBeGreaterThan(0);
    // b's packets: re-emitted O(i) of a's entries (epoch 2), its own after c joined (epoch 3).
    const backupOutputs = extractOutputs(packetsOf(r.captures.backup!));
    const epoch3 = backupOutputs.filter((o) => o.epoch === 3).length;
    expect(epoch3).toBeGreaterThan(0);
    const vsBackup = replayLog(input(r.captures.log!, r.captures.backup!));
    expect(vsBackup.outputs.first).toBeUndefined();
    expect(vsBackup.outputs.matchedPackets).toBeGreaterThanOrEqual(epoch3);
  });

  it('without the RSM config it starts at the snapshot, and says what it skipped', () => {
    const log = decodeLog(extractLogFrames(packetsOf(r.captures.log!)));
    const res = replayLog({ log, factory: stackFactory });
    expect(res.segments.map((s) => s.from)).toEqual(['snapshot']);
    expect(res.checks.failed).toBe(0);
    expect(res.notes.join('\n')).toMatch(/precede the first snapshot and cannot be replayed/);
  });

  it('--at inside the gap between the two histories is refused', () => {
    const full = replayLog(input(r.captures.log!));
    const gapIndex = full.segments[0]!.lastIndex + 1;
    if (gapIndex < full.segments[1]!.baseIndex) expect(() => replayLog(input(r.captures.log!, undefined, { at: gapIndex }))).toThrow(/outside the replayable log/);
  });
});

describe('logs that cannot be replayed', () => {
  it('no config and no snapshot', () => {
    const r = runCluster({ seed: 2, app: 'echo', connections: 1, maxUs: 300_000, noCrash: true });
    const log = decodeLog(extractLogFrames(packetsOf(r.captures.log!)));
    expect(() => replayLog({ log, factory: stackFactory })).toThrow(expect.objectContaining({ code: 'REPLAY_NO_START' }));
  });
  it('no log entries at all', () => {
    const r = runCluster({ seed: 2, app: 'echo', connections: 1, maxUs: 300_000, noCrash: true });
    const log = decodeLog(extractLogFrames(packetsOf(r.captures.client!)));
    expect(() => replayLog({ log, factory: stackFactory })).toThrow(expect.objectContaining({ code: 'REPLAY_NO_LOG' }));
  });
});
