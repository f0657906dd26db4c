// The verdicts of `ftcp chaos` (src/lab/chaos-check.ts) on doctored event lines: they must
// catch a broken stream, split brain and a double grant. (The fencing check, fencedEmissions,
// is src/replica/run-checks.ts's: test/replica/run-checks.test.ts.)
import { describe, expect, it } from 'vitest';
import { arbiterDoubleGrants, epochConflicts, isFalseFailover, streamVerdict } from '../../src/lab/chaos-check.js';
import type { ChildEvent, EventOf } from '../../src/net/events.js';
describe('epochConflicts and arbiterDoubleGrants', () => {
  const announce = (epoch: number): ChildEvent => ({ event: 'announce', name: 'x', atMs: 0, epoch, service: '192.0.2.10' });
  it('finds an epoch two replicas announced, or emitted client packets in', () => {
    expect(epochConflicts(new Map([['a', [announce(1)]], ['b', [announce(2)]]]), new Map([['a', new Set([1])], ['b', new Set([2])]]))).toEqual([]);
    expect(epochConflicts(new Map([['a', [announce(1), announce(2)]], ['b', [announce(2)]]]), new Map())).toEqual([2]);
    expect(epochConflicts(new Map([['a', [announce(1)]], ['b', [announce(2)]]]), new Map([['a', new Set([1, 2])]]))).toEqual([2]);
  });

  it('finds an epoch granted twice, or answered with another winner', () => {
    const granted = (epoch: number, winner: string) => ({ event: 'granted' as const, service: '192.0.2.10', epoch, winner, persistUs: 1, peer: '127.0.0.1:1' });
    const answered = (epoch: number, winner: string) => ({ event: 'answered' as const, service: '192.0.2.10', epoch, asker: 'a', winner, peer: '127.0.0.1:1' });
    expect(arbiterDoubleGrants([granted(1, 'b'), answered(1, 'b'), granted(3, 'c')])).toEqual([]);
    expect(arbiterDoubleGrants([granted(1, 'b'), granted(1, 'b')])).toEqual([1]);
    expect(arbiterDoubleGrants([granted(1, 'b'), answered(1, 'a')])).toEqual([1]);
    // Another service's epoch 1 is another flag.
    expect(arbiterDoubleGrants([granted(1, 'b'), { ...granted(1, 'a'), service: '192.0.2.11' }])).toEqual([]);
  });
});

describe('streamVerdict', () => {
  const sha = 'ab'.repeat(32);
  const clean = { streams: { intact: 2, broken: 0 }, resets: 0, problems: [], uploads: [{ conn: 1, bytes: 10, sha256: sha }, { conn: 2, bytes: 20, sha256: sha }] };
  const exit = (digests: Record<string, { received: number; sha256: string }>): EventOf<'exit'> => ({ event: 'exit', name: 'b', atMs: 0, reason: 'signal', stats: { bulkUploads: digests } });

  it('passes intact streams whose uploads the server app digested identically', () => {
    expect(streamVerdict(clean, exit({ 1: { received: 10, sha256: sha }, 2: { received: 20, sha256: sha } }), true, 2)).toEqual({ streams: { intact: 2, broken: 0 }, resets: 0, problems: [] });
  });

  it('catches a stream the client found broken, and a reset', () => {
    const v = streamVerdict({ ...clean, streams: { intact: 1, broken: 1 }, resets: 1, problems: ['connection 2 (client port 40001): byte 7 differs'] }, exit({ 1: { received: 10, sha256: sha }, 2: { received: 20, sha256: sha } }), true, 2);
    expect(v.streams).toEqual({ intact: 1, broken: 1 });
    expect(v.problems).toEqual(['client: connection 2 (client port 40001): byte 7 differs', '1 connection(s) reset']);
  });

  it('catches an upload the server app received short or different', () => {
    const v = streamVerdict(clean, exit({ 1: { received: 10, sha256: sha }, 2: { received: 19, sha256: 'cd'.repeat(32) } }), true, 2);
    expect(v.streams).toEqual({ intact: 1, broken: 1 });
    expect(v.problems[0]).toMatch(/connection 2 uploaded 20 bytes .* but the server app has 19 bytes/);
    expect(streamVerdict(clean, undefined, true, 2).problems).toEqual(['bulk: the surviving replica reported no upload digests']);
  });

  it('breaks every stream when the client gave no result', () => {
    expect(streamVerdict(undefined, undefined, true, 3)).toEqual({ streams: { intact: 0, broken: 3 }, resets: 0, problems: ['the client gave no result'] });
  });
});

describe('isFalseFailover', () => {
  it('a replica fenced, stopped or live before the fault is a false failover', () => {
    for (const event of ['fenced', 'stopped', 'live']) expect(isFalseFailover(event, false, false)).toBe(true);
    expect(isFalseFailover('suspect', false, false)).toBe(false);
  });

  it('not after the fault, and not once the trial stops the pair (the other replica suspects the first to exit, and may win and go live)', () => {
    for (const event of ['fenced', 'stopped', 'live']) {
      expect(isFalseFailover(event, true, false)).toBe(false);
      expect(isFalseFailover(event, false, true)).toBe(false);
    }
  });
});
