/**
 * The nearest valid word to a misspelt one, for error messages ("unknown key heartbeatMS;
 * did you mean heartbeatMs?"): Levenshtein distance, case-insensitive, with a cut-off so
 * that a word unlike any valid one gets the list instead of a wild guess.
 */

/** The edit distance (insertions, deletions, substitutions) between a and b. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The valid word closest to `word`, or undefined when none is within a third of its length (at least 2 edits). */
export function nearestWord(word: string, valid: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.ceil(word.length / 3)) + 1;
  for (const v of valid) {
    const d = editDistance(w, v.toLowerCase());
    if (d < bestDistance) {
      best = v;
      bestDistance = d;
    }
  }
  return best;
}

/** "did you mean X?" or "valid: a, b, c", for the end of an error line. */
export function suggestion(word: string, valid: readonly string[]): string {
  const near = nearestWord(word, valid);
  return near !== undefined ? `did you mean ${near}?` : `valid: ${valid.join(', ')}`;
}
