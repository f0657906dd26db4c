/**
 * `ftcp replica` without --json: a line of words per event (not a JSON object), and a
 * summary of a few lines at exit (the whole statistics object stays --json's).
 */

/** The fields of an event as `key value, key value` (nested objects flattened one level, long values cut). */
export function describeFields(fields: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === null || v === undefined) continue;
    if (typeof v === 'object' && !Array.isArray(v)) {
      const inner = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== null && typeof x !== 'object');
      parts.push(`${k} ${inner.map(([ik, x]) => `${ik} ${String(x)}`).join(' ') || '(none)'}`);
      continue;
    }
    const text = Array.isArray(v) ? `${v.length} item(s)` : String(v);
    parts.push(`${k} ${text.length > 120 ? `${text.slice(0, 117)}...` : text}`);
  }
  return parts.join(', ');
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});

/** The exit summary: role and position, traffic, the log channel and the arbiter, in a few lines. */
export function exitSummary(who: string, reason: string, stats: Record<string, unknown>): string[] {
  const epoch = num(stats['epoch']);
  const index = num(stats['index']);
  const lines = [`${who}: exits (${reason}) as ${String(stats['role'] ?? 'nothing')}${epoch !== undefined ? ` of epoch ${epoch}` : ''}${index !== undefined ? `, at log entry ${index}` : ''}`];
  lines.push(`  service packets: ${num(stats['servicePacketsIn']) ?? 0} in, ${num(stats['servicePacketsOut']) ?? 0} out, ${num(stats['reemitted']) ?? 0} re-emitted`);
  lines.push(`  log channel frames: ${num(stats['framesIn']) ?? 0} in, ${num(stats['framesOut']) ?? 0} out, ${num(stats['framesDropped']) ?? 0} dropped`);
  lines.push(`  arbiter: ${num(stats['arbiterRequests']) ?? 0} request(s), ${num(stats['arbiterAnswers']) ?? 0} answer(s)${(num(stats['fenceHeld']) ?? 0) > 0 ? `, ${String(stats['fenceHeld'])} packet(s) held by the fence` : ''}`);
  const upstream = obj(stats['upstream']);
  if (stats['upstream'] !== undefined) lines.push(`  upstream app: ${num(upstream['divergences']) ?? 0} divergence(s)`);
  lines.push('  (every counter: --json)');
  return lines;
}
