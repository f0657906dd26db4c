/** The sender's SACK scoreboard (RFC 2018, RFC 2883 §4, RFC 6675 §4). */
import { describe, expect, it } from 'vitest';
import {
  SCOREBOARD_MAX_BLOCKS,
  sbAdd,
  sbApplyOption,
  sbHighest,
  sbIsLost,
  sbLostEnd,
  sbNextHole,
  sbTrim,
  sbUnsacked,
  type Scoreboard,
} from '../../src/tcp/sack-scoreboard.js';

const mss = 1000;
const blocks = (sb: Scoreboard): [number, number][] => sb.map((b) => [b.left, b.right]);

describe('SACK scoreboard', () => {
  it('merges overlapping and adjacent ranges and reports only new bytes', () => {
    const sb: Scoreboard = [];
    expect(sbAdd(sb, 3000, 4000)).toBe(1000);
    expect(sbAdd(sb, 1000, 2000)).toBe(1000);
    expect(sbAdd(sb, 3000, 4000)).toBe(0); // nothing new
    expect(sbAdd(sb, 2000, 3000)).toBe(1000); // bridges the two
    expect(blocks(sb)).toEqual([[1000, 4000]]);
    expect(sbAdd(sb, 500, 5000)).toBe(1500);
    expect(blocks(sb)).toEqual([[500, 5000]]);
  });

  it('works across the 2^32 wrap', () => {
    const sb: Scoreboard = [];
    sbAdd(sb, 0xffff_ff00, 0x100);
    sbAdd(sb, 0x100, 0x200);
    expect(blocks(sb)).toEqual([[0xffff_ff00, 0x200]]);
    expect(sbUnsacked(sb, 0xffff_fe00, 0x300)).toBe(0x100 + 0x100);
    sbTrim(sb, 0x10);
    expect(blocks(sb)).toEqual([[0x10, 0x200]]);
  });

  it('trims what SND.UNA passed', () => {
    const sb: Scoreboard = [];
    sbAdd(sb, 1000, 2000);
    sbAdd(sb, 3000, 4000);
    sbTrim(sb, 2000);
    expect(blocks(sb)).toEqual([[3000, 4000]]);
    sbTrim(sb, 3500);
    expect(blocks(sb)).toEqual([[3500, 4000]]);
    sbTrim(sb, 4000);
    expect(sb).toEqual([]);
  });

  it('holds at most SCOREBOARD_MAX_BLOCKS ranges, forgetting the highest', () => {
    const sb: Scoreboard = [];
    for (let i = 0; i < SCOREBOARD_MAX_BLOCKS + 10; i++) sbAdd(sb, 1000 + 2000 * i, 2000 + 2000 * i);
    expect(sb.length).toBe(SCOREBOARD_MAX_BLOCKS);
    expect(sbHighest(sb)).toBe(2000 + 2000 * (SCOREBOARD_MAX_BLOCKS - 1));
  });

  it('finds holes, skipping SACKed ranges', () => {
    const sb: Scoreboard = [];
    sbAdd(sb, 2000, 3000);
    sbAdd(sb, 4000, 6000);
    expect(sbNextHole(sb, 1000, 8000)).toEqual({ seq: 1000, end: 2000 });
    expect(sbNextHole(sb, 2500, 8000)).toEqual({ seq: 3000, end: 4000 });
    expect(sbNextHole(sb, 4000, 8000)).toEqual({ seq: 6000, end: 8000 });
    expect(sbNextHole(sb, 4000, 6000)).toBeUndefined();
  });

  it('IsLost: three SACKed ranges, or more than 2*SMSS SACKed bytes, above a byte', () => {
    const sb: Scoreboard = [];
    const una = 1000;
    sbAdd(sb, 2000, 3000);
    sbAdd(sb, 4000, 5000);
    expect(sbIsLost(sb, una, una, mss)).toBe(false); // 2 ranges, 2000 bytes
    sbAdd(sb, 6000, 6100);
    expect(sbIsLost(sb, una, una, mss)).toBe(true); // 3 ranges
    expect(sbIsLost(sb, 3000, una, mss)).toBe(false); // 2 ranges, 1100 bytes above
    expect(sbLostEnd(sb, una, mss)).toBe(2000);
    const big: Scoreboard = [];
    sbAdd(big, 2000, 4001);
    expect(sbIsLost(big, una, una, mss)).toBe(true); // 2001 bytes > 2*SMSS
    const exact: Scoreboard = [];
    sbAdd(exact, 2000, 4000);
    expect(sbIsLost(exact, una, una, mss)).toBe(false); // exactly 2*SMSS is not more
  });

  it('applies an ACK: D-SACK first blocks (below the ACK, or inside the second) are not SACK information', () => {
    const sb: Scoreboard = [];
    const below = sbApplyOption(sb, [{ left: 500, right: 1000 }, { left: 3000, right: 4000 }], 1000, 1000, 10_000);
    expect(below).toEqual({ newBytes: 1000, dsack: true, invalid: 0 });
    const inside = sbApplyOption(sb, [{ left: 3200, right: 3400 }, { left: 3000, right: 5000 }], 1000, 1000, 10_000);
    expect(inside).toEqual({ newBytes: 1000, dsack: true, invalid: 0 });
    expect(blocks(sb)).toEqual([[3000, 5000]]);
  });

  it('ignores and counts invalid blocks: reversed, empty, below SND.UNA, beyond SND.MAX', () => {
    const sb: Scoreboard = [];
    const u = sbApplyOption(
      sb,
      [
        { left: 3000, right: 2000 },
        { left: 4000, right: 4000 },
        { left: 9000, right: 11_000 },
        { left: 5000, right: 6000 },
      ],
      1000,
      1000,
      10_000,
    );
    expect(u).toEqual({ newBytes: 1000, dsack: false, invalid: 3 });
    const v = sbApplyOption(sb, [{ left: 7000, right: 8000 }, { left: 500, right: 1500 }], 2000, 2000, 10_000);
    expect(v).toEqual({ newBytes: 1000, dsack: false, invalid: 1 }); // second block straddles SND.UNA
    expect(blocks(sb)).toEqual([[5000, 6000], [7000, 8000]]);
  });
});
