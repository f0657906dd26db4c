// The Redis load's checks (src/lab/redis-load.ts), reply by reply: what passes, and that each
// kind of wrong reply is caught with a message naming it.
import { describe, expect, it } from 'vitest';
import { RedisChecks, replyFromResp, type RedisReply } from '../../src/lab/redis-load.js';
import { Prng } from '../../src/tcp/prng.js';

const int = (n: number): RedisReply => replyFromResp({ type: 'integer', value: n });
const ok = replyFromResp({ type: 'simple', value: 'OK' });
const bulk = (t: string | null): RedisReply => replyFromResp({ type: 'bulk', value: t === null ? null : new TextEncoder().encode(t) });

/** Checks whose next request is an INCR pair (seed chosen so), or a SET/GET pair. */
function checksWith(kind: 'INCR' | 'SET'): { checks: RedisChecks; commands: string[][]; answers: number[] } {
  for (let seed = 1; ; seed++) {
    const answers: number[] = [];
    const checks = new RedisChecks(0, new Prng(seed), answers);
    const commands = checks.next(1);
    if (commands[0]![0] === kind) return { checks, commands, answers };
  }
}

describe('RedisChecks', () => {
  it('INCR pair: the shared counter rises, the own counter is the previous reply plus one', () => {
    const { checks, commands, answers } = checksWith('INCR');
    expect(commands).toEqual([['INCR', 'ftcp:counter'], ['INCR', 'ftcp:conn:0']]);
    expect(checks.reply(int(5))).toBeUndefined();
    expect(checks.awaiting).toBe(1);
    expect(checks.reply(int(1))).toBeUndefined();
    expect(answers).toEqual([5]);
    expect(checks.state).toMatchObject({ counter: 1, incrs: 1 });
  });

  it('INCR pair: a repeated shared value, a skipped own value, or a non-integer is caught', () => {
    const a = checksWith('INCR');
    a.checks.reply(int(5));
    expect(a.checks.reply(int(2))).toBe('INCR ftcp:conn:0 answered :2, expected :1 (the previous reply plus one)');
    const b = checksWith('INCR');
    expect(b.checks.reply(int(0))).toBe('INCR ftcp:counter answered :0 after :0 (replies must rise)');
    const c = checksWith('INCR');
    expect(c.checks.reply(ok)).toMatch(/answered \+OK after/);
  });

  it('SET/GET pair: +OK, then the value just set; the key is remembered for the check against Redis', () => {
    const { checks, commands } = checksWith('SET');
    const [set, get] = commands;
    expect(set![1]).toBe(get![1]);
    expect(checks.reply(ok)).toBeUndefined();
    expect(checks.reply(bulk(set![2]!))).toBeUndefined();
    expect(checks.state.keys).toEqual({ [set![1]!]: set![2] });
    expect(checks.reply(ok)).toBe('an unsolicited reply +OK');
  });

  it('SET/GET pair: a stale or nil GET is caught', () => {
    const a = checksWith('SET');
    a.checks.reply(ok);
    expect(a.checks.reply(bulk('old'))).toMatch(/^GET ftcp:conn:0:k\d answered \$"old", expected the value just set/);
    const b = checksWith('SET');
    b.checks.reply(ok);
    expect(b.checks.reply(bulk(null))).toMatch(/answered \$nil/);
    const c = checksWith('SET');
    expect(c.checks.reply(replyFromResp({ type: 'error', value: 'ERR wrong' }))).toBe('SET answered -ERR wrong, expected +OK');
  });
});
