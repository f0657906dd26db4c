// What the client did with each re-sent segment (src/lab/demo/resent.ts), from captures
// written here by hand: an old pure ACK answered with a duplicate ACK, an old data segment
// with a D-SACK, a segment the primary never sent taken (the ACK moves), and a pure ACK at
// RCV.NXT that needs no answer. Also why a run had no duplicate, and the kill's timing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCaptureFile } from '../../../src/pcap/capture-file.js';
import { outputTag, reemittedTag, TAG_SEPARATOR } from '../../../src/replica/capture-tags.js';
import { parseIpv4Addr } from '../../../src/wire/addr.js';
import { buildTcpPacket } from '../../../src/wire/packet.js';
import { TCP_ACK, TCP_PSH, type TcpOption } from '../../../src/wire/tcp.js';
import { droppedAsDuplicate, resentLines, resentSegments, whyNoDuplicate, type ResentSegment } from '../../../src/lab/demo/resent.js';
import { inFlightTiming } from '../../../src/lab/demo/in-flight.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-resent-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SERVICE = parseIpv4Addr('192.0.2.10');
const CLIENT = parseIpv4Addr('192.0.2.1');
const fromService = (id: number, seq: number, payload = '') =>
  buildTcpPacket({ src: SERVICE, dst: CLIENT, id }, { srcPort: 7070, dstPort: 40001, seq, ack: 5000, flags: TCP_ACK | (payload ? TCP_PSH : 0), window: 65535, payload: new TextEncoder().encode(payload) });
const fromClient = (id: number, ack: number, options: TcpOption[] = []) =>
  buildTcpPacket({ src: CLIENT, dst: SERVICE, id }, { srcPort: 40001, dstPort: 7070, seq: 5000, ack, flags: TCP_ACK, window: 65535, options });

function write(name: string, packets: Array<[Uint8Array, string?]>): string {
  const path = join(dir, name);
  const { writer, file } = openCaptureFile(path);
  const ifc = writer.addInterface(name);
  packets.forEach(([p, comment], i) => writer.writePacket(ifc, 1_000_000 + i * 1000, p, comment));
  file.close();
  return path;
}

describe('resentSegments', () => {
  const ack = fromService(1, 1000); // a pure ACK, then the 3-byte answer, both at 1000
  const answer = fromService(2, 1000, 'abc');
  const held = fromService(3, 1003, 'defg'); // still held by the output rule when a died
  const atNext = fromService(4, 1007); // a pure ACK at the client's RCV.NXT once it has 1007
  const sent = (i: number) => `${outputTag(i, 1)}`;
  const resent = (i: number) => [outputTag(i, 2), reemittedTag(i)].join(TAG_SEPARATOR);
  const a = write('a.pcapng', [
    [ack, sent(5)],
    [answer, sent(5)],
  ]);
  const b = write('b.pcapng', [
    [ack, resent(5)],
    [answer, resent(5)],
    [held, resent(6)],
    [atNext, resent(7)],
  ]);
  const client = write('client.pcapng', [
    [ack],
    [answer],
    [fromClient(10, 1003)],
    [ack],
    [answer],
    [held],
    [atNext],
    [fromClient(11, 1003)], // the duplicate ACK for the old pure ACK
    [fromClient(12, 1003, [{ kind: 'sack', blocks: [{ left: 1000, right: 1003 }] }])], // D-SACK (RFC 2883)
    [fromClient(13, 1007)], // took the 4 new bytes
  ]);
  const segments = resentSegments({ survivor: b, survivorName: 'b', killed: a, client });

  it('pairs each re-sent segment with the client\'s answer', () => {
    expect(segments.map((s) => [s.ref, s.len, s.sentByPrimary, s.identical, s.answer, s.answerRef])).toEqual([
      ['b.pcapng#1', 0, true, true, 'duplicate-ack', 'client.pcapng#8'],
      ['b.pcapng#2', 3, true, true, 'd-sack', 'client.pcapng#9'],
      ['b.pcapng#3', 4, false, false, 'accepted', 'client.pcapng#10'],
      ['b.pcapng#4', 0, false, false, 'no-answer-due', null],
    ]);
    expect(segments.filter(droppedAsDuplicate)).toHaveLength(2);
    expect(whyNoDuplicate(segments, { r: 4, lastIndex: 7, reemitted: 4, reemittedEntries: 3 }, 'b', 'a')).toBeUndefined();
  });

  it('prints a line per segment', () => {
    const lines = resentLines(segments, 'a');
    expect(lines[0]).toBe('    b.pcapng#1 to 192.0.2.1:40001, seq 1000, a pure ACK: byte-identical to what a sent; the client had it and dropped it: duplicate ACK 1003 (client.pcapng#8)');
    expect(lines[1]).toContain('3 byte(s): byte-identical to what a sent; the client had it and dropped it: ACK 1003 with a D-SACK for it (client.pcapng#9)');
    expect(lines[2]).toContain('a never sent it (still held by the output rule); the client did not have it and took it: ACK 1007');
    expect(resentLines(segments, 'a', 2).at(-1)).toBe('    ... and 2 more');
  });
});

describe('whyNoDuplicate', () => {
  const seg = (over: Partial<ResentSegment>): ResentSegment => ({ ref: 'b.pcapng#1', client: 'c', seq: 0, len: 3, flags: '', sentByPrimary: false, identical: false, answer: 'accepted', answerRef: null, answerAck: null, ...over });
  it('says why a failover re-sent no duplicate', () => {
    expect(whyNoDuplicate([], { r: 15, lastIndex: 15, reemitted: 0, reemittedEntries: 0 }, 'b', 'a')).toMatch(/^nothing to re-send: b had been told \(r = 15\)/);
    expect(whyNoDuplicate([], { r: 15, lastIndex: 17, reemitted: 0, reemittedEntries: 2 }, 'b', 'a')).toBe('the 2 entries above r = 15 had no output to re-send');
    expect(whyNoDuplicate([], { r: 15, lastIndex: 17, reemitted: 2, reemittedEntries: 2 }, 'b', 'a')).toBe('b said it re-emitted 2 packet(s) at go-live, but its capture holds no segment marked re-emitted');
    expect(whyNoDuplicate([seg({})], { r: 15, lastIndex: 16, reemitted: 1, reemittedEntries: 1 }, 'b', 'a')).toMatch(/^no duplicate: a still held it under the output rule/);
  });
});

describe('inFlightTiming', () => {
  it('holds and loses well inside the failure timeout', () => {
    expect(inFlightTiming(10, 50)).toEqual({ holdMs: 17, loseMs: 20 });
    expect(inFlightTiming(30, 300)).toEqual({ holdMs: 60, loseMs: 135 });
    for (const [h, d] of [[1, 3], [10, 50], [25, 300], [100, 200]] as const) {
      const t = inFlightTiming(h, d);
      expect(t.holdMs).toBeLessThan(d / 2);
      expect(t.loseMs + h).toBeLessThan(d);
    }
  });
});
