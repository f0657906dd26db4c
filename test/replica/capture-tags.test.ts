import { describe, expect, it } from 'vitest';
import { outputTag, parseCaptureTag, reemittedTag, servicePacketComment, shadowTag } from '../../src/replica/capture-tags.js';

describe('capture tags', () => {
  it('round trip: each writer is read back as what it wrote', () => {
    for (const [index, epoch] of [
      [1, 1],
      [766, 2],
      [4_000_000_000, 9],
    ] as const) {
      expect(parseCaptureTag(outputTag(index, epoch))).toEqual({ index, epoch, reemitted: false, shadow: false });
      expect(parseCaptureTag(servicePacketComment({ index, epoch, reemitted: false }))).toEqual({ index, epoch, reemitted: false, shadow: false });
      expect(parseCaptureTag(servicePacketComment({ index, epoch, reemitted: true }))).toEqual({ index, epoch, reemitted: true, shadow: false });
      expect(parseCaptureTag(shadowTag(index))).toEqual({ index, epoch: undefined, reemitted: false, shadow: true });
    }
  });

  it('parses the exact comments of the captures the simulator and the replica process write', () => {
    // Copied from `ftcp demo failover --sim` captures (primary, backup, shadow).
    expect(parseCaptureTag('O(768), epoch 2')).toEqual({ index: 768, epoch: 2, reemitted: false, shadow: false });
    expect(parseCaptureTag('O(766), epoch 2; re-emitted O(766) at go-live: delivery by the old primary uncertain')).toEqual({ index: 766, epoch: 2, reemitted: true, shadow: false });
    expect(parseCaptureTag('shadow: O(1), generated while suppressed')).toEqual({ index: 1, epoch: undefined, reemitted: false, shadow: true });
    // An event note in front (src/pcap/vantage.ts), and the simulated switch's drop after the tag.
    expect(parseCaptureTag('event: replica b goes live in epoch 2, r = 71, re-emitting 0 packets; O(73), epoch 2')).toEqual({ index: 73, epoch: 2, reemitted: false, shadow: false });
    expect(parseCaptureTag("O(12), epoch 1; switch: dropped, epoch 1 is older than the owner's 2")).toEqual({ index: 12, epoch: 1, reemitted: false, shadow: false });
  });

  it('the writers produce those exact strings', () => {
    expect(servicePacketComment({ index: 766, epoch: 2, reemitted: true })).toBe('O(766), epoch 2; re-emitted O(766) at go-live: delivery by the old primary uncertain');
    expect(servicePacketComment({ index: 12, epoch: 1, reemitted: false }, ["switch: dropped, epoch 1 is older than the owner's 2"])).toBe("O(12), epoch 1; switch: dropped, epoch 1 is older than the owner's 2");
    expect(shadowTag(1)).toBe('shadow: O(1), generated while suppressed');
    expect(reemittedTag(5)).toBe('re-emitted O(5) at go-live: delivery by the old primary uncertain');
  });

  it('a comment without an output tag is not one', () => {
    for (const c of ['', 'log: ack 5, epoch 2', 'event: replica a was killed', 'xO(5), epoch 2', 'O(5), epoch 2x', 'O(5)', 'shadow: O(5)', 're-emitted O(5) at go-live: delivery by the old primary uncertain']) {
      expect(parseCaptureTag(c)).toBeUndefined();
    }
  });
});
