// The run checks shared by the simulator and the process runs (src/replica/run-checks.ts),
// on doctored observations: each must pass what is right and catch what is wrong.
import { describe, expect, it } from 'vitest';
import { addClaim, bulkUploadProblems, claimsByEpoch, compareReemitted, fencedEmissions, identicalReemitted, packetKey, splitBrainEpochs, streamCounts, streamsIntact, streamVerdict } from '../../src/replica/run-checks.js';
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


describe('splitBrainEpochs', () => {
  it('passes one claimant per epoch', () => {
    expect(splitBrainEpochs(claimsByEpoch([['a', [1, 3]], ['b', [2]], ['c', [4]]]))).toEqual([]);
    // The same replica claiming an epoch twice (announce, then emitting in it) is one claimant.
    expect(splitBrainEpochs(claimsByEpoch([['a', [1, 1]], ['a', [1]]]))).toEqual([]);
  });

  it('catches epochs two replicas claimed, in the order of first claim', () => {
    expect(splitBrainEpochs(claimsByEpoch([['a', [3, 1]], ['b', [1, 3]], ['c', [2]]]))).toEqual([3, 1]);
    const claims = claimsByEpoch([['a', [2]]]);
    addClaim(claims, 2, 'b');
    expect(splitBrainEpochs(claims)).toEqual([2]);
  });
});

describe('client streams', () => {
  it('counts intact and broken streams; all intact needs at least one', () => {
    expect(streamCounts([{ intact: true }, { intact: false }, { intact: true }])).toEqual({ intact: 2, broken: 1 });
    expect(streamsIntact({ intact: 3, broken: 0 })).toBe(true);
    expect(streamsIntact({ intact: 2, broken: 1 })).toBe(false);
    expect(streamsIntact(streamCounts([]))).toBe(false);
  });

  const sha = 'ab'.repeat(32);
  it('catches an upload the server app received short, different or not at all', () => {
    expect(bulkUploadProblems([{ conn: 1, bytes: 10, sha256: sha, digest: { received: 10, sha256: sha } }])).toEqual([]);
    const bad = bulkUploadProblems([
      { conn: 1, bytes: 10, sha256: sha, digest: { received: 9, sha256: sha } },
      { conn: 2, bytes: 10, sha256: sha, digest: { received: 10, sha256: 'cd'.repeat(32) } },
      { conn: '?', bytes: 10, sha256: null, digest: undefined },
    ]);
    expect(bad).toHaveLength(3);
    expect(bad[0]).toBe(`bulk: connection 1 uploaded 10 bytes (sha256 ${sha}) but the server app has 9 bytes (sha256 ${sha})`);
    expect(bad[2]).toBe('bulk: connection ? uploaded 10 bytes (sha256 ?) but the server app has no digest');
  });

  it('breaks a stream the client saw intact when its upload is wrong; no result breaks all', () => {
    const clean = { streams: { intact: 2, broken: 0 }, resets: 0, problems: [] };
    expect(streamVerdict(clean, [], 2)).toEqual({ streams: { intact: 2, broken: 0 }, resets: 0, problems: [] });
    expect(streamVerdict(clean, ['bulk: x'], 2)).toEqual({ streams: { intact: 1, broken: 1 }, resets: 0, problems: ['bulk: x'] });
    expect(streamVerdict({ ...clean, resets: 1, problems: ['p'] }, [], 2).problems).toEqual(['client: p', '1 connection(s) reset']);
    expect(streamVerdict(undefined, [], 3)).toEqual({ streams: { intact: 0, broken: 3 }, resets: 0, problems: ['the client gave no result'] });
  });
});

describe('re-emitted segments', () => {
  const sent = [seg(0, 'hello ', TCP_ACK | TCP_PSH, 5), seg(6, 'world', TCP_ACK | TCP_PSH, 6)];
  const keys = new Set(sent.map(packetKey));

  it('packetKey is one char per byte', () => {
    expect(packetKey(new Uint8Array([0, 0x41, 0xff]))).toBe('\u0000A\u00ff');
    const big = new Uint8Array(20000).map((_, i) => i & 0xff);
    expect(packetKey(big).length).toBe(20000);
  });

  it('passes re-emitted segments identical to the old primary\'s', () => {
    expect(compareReemitted(keys, [sent[1]!])).toEqual({ segments: 1, sentByPrimary: 1, identicalToPrimary: 1 });
    // One the primary never sent (held by the output rule): nothing to compare with.
    expect(compareReemitted(keys, [seg(11, '!', TCP_ACK | TCP_PSH, 7)])).toEqual({ segments: 1, sentByPrimary: 0, identicalToPrimary: 0 });
  });

  it('catches a re-emitted segment that differs from the primary\'s copy of it', () => {
    const differs = seg(6, 'wOrld', TCP_ACK | TCP_PSH, 6);
    expect(compareReemitted(keys, [differs, sent[0]!])).toEqual({ segments: 2, sentByPrimary: 2, identicalToPrimary: 1 });
    expect(identicalReemitted(keys, [differs])).toBe(0);
  });

  it('finds the IPv4 header after an Ethernet header (captures of a replica on a TAP device)', () => {
    const eth = (p: Uint8Array, src = 0x66) => Uint8Array.from([2, 0, 0xc0, 0, 2, 0x18, 2, src, 0xc0, 0, 2, 0x0a, 0x08, 0x00, ...p]);
    const frames = new Set(sent.map((p) => packetKey(eth(p))));
    expect(compareReemitted(frames, [eth(sent[1]!)], 14)).toEqual({ segments: 1, sentByPrimary: 1, identicalToPrimary: 1 });
    // Every frame to one client has the same first bytes: another segment is not "the same segment".
    expect(compareReemitted(frames, [eth(seg(11, '!', TCP_ACK | TCP_PSH, 7))], 14)).toEqual({ segments: 1, sentByPrimary: 0, identicalToPrimary: 0 });
    // The same segment from another MAC is not byte-identical.
    expect(compareReemitted(frames, [eth(sent[0]!, 0x67)], 14)).toEqual({ segments: 1, sentByPrimary: 1, identicalToPrimary: 0 });
    // An ARP frame is its own identity.
    const arp = Uint8Array.from([...eth(new Uint8Array(28)).subarray(0, 12), 0x08, 0x06, ...new Uint8Array(28).fill(1)]);
    expect(compareReemitted(new Set([packetKey(arp)]), [arp], 14)).toEqual({ segments: 1, sentByPrimary: 1, identicalToPrimary: 1 });
  });
});
