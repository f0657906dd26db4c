// Go-live restarts every flow at once, seen in the simulator's captures: at the instant the
// backup goes live, besides the re-emitted O(i) above r, it retransmits the first
// unacknowledged segment of each flow that had nothing at SND.UNA to re-emit; byte for byte
// the data the old primary had sent for that sequence range.
import { describe, expect, it } from 'vitest';
import { readPcapng } from '../../src/pcap/reader.js';
import { parseCaptureTag } from '../../src/replica/capture-tags.js';
import { runCluster, type ClusterResult } from '../../src/sim/cluster.js';
import { parseTcpPacket } from '../../src/wire/packet.js';

interface Seg {
  conn: string;
  seq: number;
  payload: string;
  timeUs: number;
  index: number | undefined;
  epoch: number | undefined;
  reemitted: boolean;
}

function segments(capture: Uint8Array): Seg[] {
  const out: Seg[] = [];
  for (const p of readPcapng(capture).packets) {
    const t = parseTcpPacket(p.data, false);
    if (!t.ok) continue;
    const tag = parseCaptureTag(p.comments.join('; '));
    out.push({
      conn: `${t.segment.srcPort}>${t.segment.dstPort}`,
      seq: t.segment.seq >>> 0,
      payload: Buffer.from(t.segment.payload).toString('hex'),
      timeUs: p.timestampUs,
      index: tag?.index,
      epoch: tag?.epoch,
      reemitted: tag?.reemitted ?? false,
    });
  }
  return out;
}

/** The new primary's go-live retransmissions: data segments of the entry after its epoch entry. */
function goLiveRetransmissions(r: ClusterResult): { restarted: Seg[]; reemitted: Seg[]; primary: Seg[] } {
  const live = r.timeline.map((t) => /b: LIVE in epoch \d+;.*\(last index (\d+)\)/.exec(t.text)).find((m) => m !== null);
  expect(live, 'b went live').toBeDefined();
  const lastIndex = Number(live![1]);
  const backup = segments(r.captures.backup!);
  return {
    restarted: backup.filter((s) => s.index === lastIndex + 2 && !s.reemitted && s.payload.length > 0),
    reemitted: backup.filter((s) => s.reemitted),
    primary: segments(r.captures.primary!),
  };
}

const run = (seed: number) => runCluster({ seed, app: 'bulk', connections: 2 });
const key = (s: Seg) => `${s.conn}@${s.seq}:${s.payload}`;

describe('simulator: go-live retransmits what no re-emit covers', () => {
  it('seed 5, bulk: nothing above r to re-emit, yet both flows get their first unacknowledged segment at the go-live instant, as the old primary had sent it', () => {
    const r = run(5);
    expect(r.ok, r.problems.join('\n')).toBe(true);
    expect(r.failover?.reemitted).toBe(0);
    const { restarted, primary } = goLiveRetransmissions(r);
    expect(new Set(restarted.map((s) => s.conn)).size).toBe(2);
    const liveUs = restarted[0]!.timeUs;
    expect(restarted.every((s) => s.timeUs === liveUs && s.epoch === 2)).toBe(true);
    // A retransmission: the old primary had put exactly these bytes at this sequence number on the wire.
    const sentByA = new Set(primary.map(key));
    for (const s of restarted) expect(sentByA.has(key(s)), key(s)).toBe(true);
    // And the client received them (the switch forwarded them to it in epoch 2).
    const atClient = segments(r.captures.client!).filter((c) => c.timeUs >= liveUs).map(key);
    for (const s of restarted) expect(atClient).toContain(key(s));
  });

  it.each([3, 7])('seed %i, bulk: a flow whose segment at SND.UNA was re-emitted is not sent a second time', (seed) => {
    const r = run(seed);
    expect(r.ok, r.problems.join('\n')).toBe(true);
    const { restarted, reemitted } = goLiveRetransmissions(r);
    expect(reemitted.length).toBeGreaterThan(0);
    const reemittedKeys = new Set(reemitted.map(key));
    for (const s of restarted) expect(reemittedKeys.has(key(s)), key(s)).toBe(false);
  });
});
