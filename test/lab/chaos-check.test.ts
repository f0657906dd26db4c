// The verdicts of `ftcp chaos` (src/lab/chaos-check.ts) on doctored data: they must catch a
// non-identical emission of a fenced primary, a broken stream, split brain and a double grant.
import { describe, expect, it } from 'vitest';
import { arbiterDoubleGrants, epochConflicts, fencedEmissions, streamVerdict } from '../../src/lab/chaos-check.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { buildTcpPacket } from '../../src/wire/packet.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST } from '../../src/wire/tcp.js';

const service = parseIpv4Addr('192.0.2.10');
const client = parseIpv4Addr('192.0.2.1');
const ISN = 0xfffffff0; // the stream wraps past 2^32 on purpose

function seg(offset: number, text: string, flags = TCP_ACK | TCP_PSH, id = 1): Uint8Array {
  return buildTcpPacket({ src: service, dst: client, id }, { srcPort: 7070, dstPort: 40000, seq: (ISN + offset) >>> 0, ack: 1000, flags, window: 65535, payload: new TextEncoder().encode(text) });
}

/** What the new primary sent: "hello world" in two segments, then a FIN. */
const reference = [seg(0, 'hello '), seg(6, 'world'), seg(11, '', TCP_ACK | TCP_FIN)];

describe('fencedEmissions', () => {
  it('accepts segments identical to the new primary\'s, re-segmented ones, and ACKs without data', () => {
    const r = fencedEmissions([seg(0, 'hello '), seg(3, 'lo wor', TCP_ACK, 7), seg(11, '', TCP_ACK), seg(6, 'world', TCP_ACK | TCP_FIN)], reference);
    // 'world' + FIN: the FIN at +11 is one the new primary sent too.
    expect(r).toEqual({ segments: 4, identical: 3, noData: 1, problems: [] });
  });

  it('counts a packet emitted twice once', () => {
    expect(fencedEmissions([seg(0, 'hello '), seg(0, 'hello ')], reference).segments).toBe(1);
  });

  it('catches a byte that differs from what the new primary sent at that sequence number', () => {
    const r = fencedEmissions([seg(6, 'wOrld')], reference);
    expect(r.identical).toBe(0);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/byte at \+1 is 79 but the new primary sent 111/);
  });

  it('catches data the new primary never sent (beyond its stream, or on another connection)', () => {
    const beyond = fencedEmissions([seg(6, 'world!!')], reference.slice(0, 2));
    expect(beyond.problems[0]).toMatch(/2 of its 7 bytes of sequence space \(from \+5\) were never sent/);
    // Where the new primary sent its FIN, data is a difference.
    expect(fencedEmissions([seg(6, 'world!!')], reference).problems[0]).toMatch(/byte at \+5 is 33 but the new primary sent -2/);
    const other = buildTcpPacket({ src: service, dst: client, id: 1 }, { srcPort: 7070, dstPort: 40001, seq: ISN, ack: 1, flags: TCP_ACK, window: 100, payload: new TextEncoder().encode('hello ') });
    expect(fencedEmissions([other], reference).problems[0]).toMatch(/never sent by the new primary/);
  });

  it('catches a FIN or a RST the new primary never sent', () => {
    expect(fencedEmissions([seg(6, '', TCP_ACK | TCP_FIN)], reference).problems[0]).toMatch(/byte at \+0 is -2 but the new primary sent 119/);
    expect(fencedEmissions([seg(6, '', TCP_RST)], reference).problems[0]).toMatch(/a RST the new primary never sent/);
    expect(fencedEmissions([seg(6, '', TCP_RST)], [...reference, seg(6, '', TCP_RST, 9)]).problems).toEqual([]);
  });

  it('calls a packet that is not TCP a problem', () => {
    expect(fencedEmissions([new Uint8Array([0x45, 0, 0])], reference).problems[0]).toMatch(/not TCP\/IPv4/);
  });
});

describe('epochConflicts and arbiterDoubleGrants', () => {
  const announce = (epoch: number) => ({ event: 'announce', epoch });
  it('finds an epoch two replicas announced, or emitted client packets in', () => {
    expect(epochConflicts(new Map([['a', [announce(1)]], ['b', [announce(2)]]]), new Map([['a', new Set([1])], ['b', new Set([2])]]))).toEqual([]);
    expect(epochConflicts(new Map([['a', [announce(1), announce(2)]], ['b', [announce(2)]]]), new Map())).toEqual([2]);
    expect(epochConflicts(new Map([['a', [announce(1)]], ['b', [announce(2)]]]), new Map([['a', new Set([1, 2])]]))).toEqual([2]);
  });

  it('finds an epoch granted twice, or answered with another winner', () => {
    const granted = (epoch: number, winner: string) => ({ event: 'granted', service: '192.0.2.10', epoch, winner });
    const answered = (epoch: number, winner: string) => ({ event: 'answered', service: '192.0.2.10', epoch, asker: 'a', winner });
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
  const exit = (digests: Record<string, { received: number; sha256: string }>) => ({ event: 'exit', stats: { bulkUploads: digests } });

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
