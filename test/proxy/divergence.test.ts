import { describe, expect, it } from 'vitest';
import { DivergenceCheck } from '../../src/proxy/divergence.js';
import type { UpstreamAction } from '../../src/proxy/upstream.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const data = (s: string): UpstreamAction => ({ type: 'data', data: enc.encode(s) });
const text = (actions: UpstreamAction[]) => actions.map((a) => (a.type === 'data' ? dec.decode(a.data) : `<${a.type}>`)).join('');

describe('divergence check', () => {
  it('equal streams, split differently and in either order, are no divergence', () => {
    const c = new DivergenceCheck(false);
    c.logged(1, data('hel'));
    c.own(1, data('h'));
    c.own(1, data('ello wo'));
    c.logged(1, data('lo world'));
    c.own(1, data('rld'));
    c.logged(1, { type: 'end' });
    c.own(1, { type: 'end' });
    expect(c.count).toBe(0);
    expect(c.pollDivergence()).toBeUndefined();
  });

  it('the first differing byte is a divergence (connection, offset), counted once per connection', () => {
    const c = new DivergenceCheck(false);
    c.logged(4, data('1\n2\n3\n'));
    c.own(4, data('1\n2\n9\n'));
    c.own(4, data('more, also different'));
    c.logged(4, data('other bytes'));
    c.logged(5, data('x'));
    c.own(5, data('y'));
    expect(c.count).toBe(2);
    expect(c.found.map((d) => [d.conn, d.offset])).toEqual([
      [4, 4],
      [5, 0],
    ]);
    expect(c.pollDivergence()?.what).toBe('byte 0x33 logged, 0x39 own');
    // The same words whichever side came first.
    expect(c.pollDivergence()?.what).toBe('byte 0x78 logged, 0x79 own');
    const d = new DivergenceCheck(false);
    d.own(1, data('y'));
    d.logged(1, data('x'));
    expect(d.pollDivergence()?.what).toBe('byte 0x78 logged, 0x79 own');
  });

  it('different ends or lengths at the end are divergences', () => {
    const c = new DivergenceCheck(false);
    c.logged(1, data('ab'));
    c.logged(1, { type: 'end' });
    c.own(1, data('ab'));
    c.own(1, { type: 'reset', reason: 'x' });
    c.logged(2, data('abc'));
    c.logged(2, { type: 'end' });
    c.own(2, data('ab'));
    c.own(2, { type: 'end' });
    c.logged(3, { type: 'end' });
    c.own(3, data('late'));
    expect(c.found.map((d) => [d.conn, d.offset])).toEqual([
      [1, 2],
      [2, 2],
      [3, 0],
    ]);
  });

  it('a backup only compares; after go-live its own bytes beyond the logged prefix continue the stream', () => {
    const c = new DivergenceCheck(false);
    c.logged(1, data('0123'));
    expect(c.own(1, data('012345'))).toEqual([]);
    c.logged(2, data('abcdef'));
    c.own(2, data('abc'));
    c.own(3, data('xyz'));
    c.own(3, { type: 'end' });
    const live = c.goLive();
    expect(live.map((l) => [l.conn, text(l.actions)])).toEqual([
      [1, '45'],
      [3, 'xyz<end>'],
    ]);
    // What comes later: the part already logged is compared, not sent again.
    expect(text(c.own(2, data('def')))).toBe('');
    expect(text(c.own(2, data('gh')))).toBe('gh');
    // The new primary logs what it forwarded; nothing is handed out twice.
    c.logged(1, data('45'));
    expect(text(c.own(1, data('6')))).toBe('6');
    expect(c.count).toBe(0);
  });

  it('a primary forwards all of its own bytes, one entry ahead of the log', () => {
    const c = new DivergenceCheck(true);
    const out = c.own(7, data('hello'));
    expect(text(out)).toBe('hello');
    c.logged(7, data('hello'));
    expect(text(c.own(7, { type: 'reset', reason: 'connection reset' }))).toBe('<reset>');
    c.logged(7, { type: 'reset', reason: 'logged' });
    expect(c.count).toBe(0);
  });
});
