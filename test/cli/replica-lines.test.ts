// `ftcp replica` without --json: events as words, not JSON; a short summary at exit.
import { describe, expect, it } from 'vitest';
import { describeFields, exitSummary } from '../../src/cli/replica-lines.js';

describe('replica human lines', () => {
  it('an event\'s fields as words, nested objects flattened, no JSON', () => {
    const text = describeFields({ channel: 'dial', peer: 'a', reason: 'closed', mismatch: { field: 'app', mine: 'echo', theirs: 'kv', deep: { x: 1 } }, list: [1, 2], gone: null });
    expect(text).toBe('channel dial, peer a, reason closed, mismatch field app mine echo theirs kv, list 2 item(s)');
    expect(text).not.toMatch(/[{}"]/);
  });
  it('the exit summary: a few lines, no JSON, pointing at --json for the rest', () => {
    const stats = { role: 'primary', epoch: 2, index: 180, servicePacketsIn: 40, servicePacketsOut: 41, reemitted: 0, framesIn: 90, framesOut: 95, framesDropped: 0, arbiterRequests: 3, arbiterAnswers: 3, fenceHeld: 0, replica: { a: 1 }, stack: { drops: { x: 1 } }, link: { sent: 1 }, logRtt: { p50: 1 } };
    const lines = exitSummary('replica a', 'SIGTERM', stats);
    expect(lines[0]).toBe('replica a: exits (SIGTERM) as primary of epoch 2, at log entry 180');
    expect(lines.length).toBeLessThanOrEqual(6);
    expect(lines.join('\n')).not.toMatch(/[{}"]/);
    expect(lines.at(-1)).toContain('--json');
    expect(lines.join('\n').length).toBeLessThan(400);
  });
});
