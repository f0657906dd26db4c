/** Comments the simulated network adds to the captures of a cluster run. */
import type { CopyFate } from './network.js';

/** The network's fate of a sent packet as a capture comment (shared with the transfer captures). */
export { sendComment as sendFateComment } from './capture.js';

export function deliverComment(copy: CopyFate): string | undefined {
  const notes: string[] = [];
  if (copy.copy > 0) notes.push('duplicate copy made by the network');
  if (copy.reordered) notes.push('held back by the network (reordered)');
  return notes.length === 0 ? undefined : `sim: ${notes.join('; ')}`;
}
