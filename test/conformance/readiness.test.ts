// poll/epoll readiness (src/conformance/readiness.ts), recvmsg's control messages
// (msghdr.ts) and the calls beside them: Linux's tcp_poll mask from a socket's state, the
// epoll ready list (the runner's errors for these calls are in runner.test.ts).
import { describe, expect, it } from 'vitest';
import { POLL } from '../../src/conformance/exprs.js';
import { connectionMask, EpollSets, writeable, type ReadyState } from '../../src/conformance/readiness.js';
import type { Expr } from '../../src/conformance/script.js';

const base: ReadyState = { connected: true, eof: false, closed: false, error: false, shutRd: false, shutWr: false, readable: 0, queued: 0, free: 1000, notSent: 0, notSentLowat: 0xffff_ffff };

describe('tcp_poll mask', () => {
  it('writable while free space is at least half the queue and the unsent bytes, doubled, stay under the limit', () => {
    expect(writeable({ ...base, queued: 2000, free: 1000 })).toBe(true);
    expect(writeable({ ...base, queued: 2002, free: 1000 })).toBe(false);
    expect(writeable({ ...base, notSent: 1999, notSentLowat: 4000 })).toBe(true);
    expect(writeable({ ...base, notSent: 2000, notSentLowat: 4000 })).toBe(false);
  });

  it('reports data, the peer FIN, the end and errors as Linux does', () => {
    expect(connectionMask(base)).toBe(POLL.OUT | POLL.WRNORM);
    expect(connectionMask({ ...base, readable: 5 }) & POLL.IN).toBe(POLL.IN);
    expect(connectionMask({ ...base, eof: true }) & (POLL.IN | POLL.RDHUP)).toBe(POLL.IN | POLL.RDHUP);
    expect(connectionMask({ ...base, connected: false })).toBe(0);
    expect(connectionMask({ ...base, closed: true, error: true }) & (POLL.HUP | POLL.ERR)).toBe(POLL.HUP | POLL.ERR);
  });
});

describe('epoll ready list', () => {
  const ctx = { unsupported: (m: string): never => { throw new Error(m); }, mismatch: (e: string, a: string): never => { throw new Error(`${e} / ${a}`); } };
  const any: Expr = { kind: 'ellipsis', line: 1, column: 1 };
  const ev = (events: number): Expr => ({ kind: 'struct', line: 1, column: 1, items: [{ kind: 'assign', name: 'events', value: { kind: 'int', value: events, line: 1, column: 1 }, line: 1, column: 1 }] });

  it('edge-triggered items are reported once per wakeup, level-triggered ones while ready', () => {
    const sets = new EpollSets();
    sets.create(5);
    let mask: number = POLL.IN;
    expect(sets.ctl(ctx, 5, 1, 4, ev(POLL.IN | 0x8000_0000), () => mask)).toEqual({ value: 0 });
    expect(sets.wait(ctx, 5, any, 1, () => mask, true)).toEqual({ value: 1 });
    expect(sets.wait(ctx, 5, any, 1, () => mask, true)).toEqual({ value: 0 });
    expect(sets.wait(ctx, 5, any, 1, () => mask, false)).toBeUndefined(); // would block
    sets.wake(4);
    expect(sets.wait(ctx, 5, any, 1, () => mask, true)).toEqual({ value: 1 });
    expect(sets.ctl(ctx, 5, 3, 4, ev(POLL.IN), () => mask)).toEqual({ value: 0 });
    expect(sets.wait(ctx, 5, any, 1, () => mask, true)).toEqual({ value: 1 });
    expect(sets.wait(ctx, 5, any, 1, () => mask, true)).toEqual({ value: 1 });
    mask = 0;
    expect(sets.wait(ctx, 5, any, 1, () => mask, true)).toEqual({ value: 0 });
    expect(sets.ctl(ctx, 5, 1, 4, ev(POLL.IN), () => mask)).toEqual({ value: -1, errno: 'EEXIST' });
    expect(sets.ctl(ctx, 5, 1, 9, ev(POLL.IN), () => undefined)).toEqual({ value: -1, errno: 'EBADF' });
  });
});
