/**
 * Seed derivation: every random stream in a run is derived from the one run seed and a
 * label (a role name, a link's endpoints), never from the order in which streams were
 * created. Adding a link or a host therefore leaves every other stream unchanged.
 */

/** MurmurHash3's 32-bit finaliser: a bijective, well-mixing map on u32. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function mixWord(acc: number, word: number): number {
  return fmix32((Math.imul(acc ^ (word >>> 0), 0x9e3779b1) + 0x7f4a7c15) >>> 0);
}

/** A u32 seed derived from `seed` and a path of labels (numbers are taken as u32). */
export function deriveSeed(seed: number, ...labels: (number | string)[]): number {
  let acc = fmix32((seed >>> 0) ^ 0x5bd1e995);
  for (const label of labels) {
    if (typeof label === 'number') {
      acc = mixWord(acc, label);
    } else {
      acc = mixWord(acc, label.length);
      for (let i = 0; i < label.length; i++) acc = mixWord(acc, label.charCodeAt(i));
    }
  }
  return acc;
}
