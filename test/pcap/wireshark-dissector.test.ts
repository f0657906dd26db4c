// The Wireshark dissector for the control plane (wireshark/ftcp-log.lua), run by tshark on a
// simulated cluster's log capture and checked against our own decoders (channel.ts, log.ts,
// arbiter.ts, replay-input.ts): frame types, epochs, r, entries (kind, index, epoch, time, CRC,
// state checks, digest), the embedded client packets dissected as IP/TCP, the Info column
// against the capture's own comments; deliberately corrupted frames flagged with expert info
// and nothing else; every entry kind and frame type from a hand-built capture; Decode As.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { collectPcapng } from '../../src/pcap/pcapng.js';
import { readPcapng } from '../../src/pcap/reader.js';
import { decodeArbiter, encodeArbiter } from '../../src/replica/arbiter.js';
import { decodeAppendEntries, decodeChannel, encodeChannel, snapshotMessages, type ChannelMessage } from '../../src/replica/channel.js';
import { encodeEntry, type LogEntry } from '../../src/replica/log.js';
import { decodeLog, extractLogFrames } from '../../src/replica/replay-input.js';
import { CLUSTER_ARBITER, CLUSTER_CLIENT, CLUSTER_REPLICAS, CLUSTER_SERVICE, CLUSTER_SERVICE_PORT, runCluster } from '../../src/sim/cluster.js';
import { parseUdp, udpPacket } from '../../src/wire/udp.js';
import { ARBITER_PORT, LOG_PORT } from '../../src/replica/replay-input.js';
import { Prng } from '../../src/tcp/prng.js';
import { crc32 } from '../../src/wire/crc32.js';
import { buildTcpPacket, formatIpv4Addr, parseTcpPacket, TCP_SYN } from '../../src/wire/index.js';
import { describeTsharkLua, tsharkLuaFields } from '../helpers/tshark-lua.js';
import { packetsOf } from '../replica/replay-helpers.js';

const FRAME_TYPES = ['append', 'heartbeat', 'ack', 'resend', 'join', 'snapshot', 'hello', 'handover', 'forward'];
const ENTRY_KINDS = ['packet', 'tick', 'app', 'epoch', 'retransmit'];
const PI_ERROR = '8388608';

const FIELDS = [
  'frame.number', '_ws.col.Protocol', '_ws.col.Info', 'frame.protocols', 'frame.comment',
  'ftcplog.type', 'ftcplog.epoch', 'ftcplog.r', 'ftcplog.last_index', 'ftcplog.crc.status',
  'ftcplog.ack', 'ftcplog.resend_from', 'ftcplog.join.name', 'ftcplog.hello.text', 'ftcplog.forward.packet', 'ftcplog.snapshot.index', 'ftcplog.snapshot.offset', 'ftcplog.snapshot.chunk_length',
  'ftcplog.entry.index', 'ftcplog.entry.epoch', 'ftcplog.entry.kind', 'ftcplog.entry.time', 'ftcplog.entry.crc.status',
  'ftcplog.entry.check_count', 'ftcplog.check.socket', 'ftcplog.check.rcv_nxt', 'ftcplog.entry.digest',
  'ftcplog.entry.app.op', 'ftcplog.entry.app.n', 'ftcplog.entry.new_epoch', 'ftcplog.entry.member', 'ftcplog.entry.skip_count', 'ftcplog.entry.skip',
  'ftcparb.type', 'ftcparb.epoch', 'ftcparb.replica', 'ftcparb.winner', 'ftcparb.won', 'ftcparb.crc.status',
  'ip.src', 'ip.dst', 'tcp.srcport', 'tcp.dstport',
  '_ws.malformed', '_ws.expert.severity', '_ws.expert.message',
] as const;
type Field = (typeof FIELDS)[number];
type Row = Record<Field, string[]>;

function dissect(path: string, extra: readonly string[] = []): Row[] {
  const run = tsharkLuaFields(path, FIELDS, extra);
  expect(run.exitCode, run.stderr).toBe(0);
  expect(run.stderr).toBe('');
  return run.rows.map((cells) => Object.fromEntries(FIELDS.map((f, i) => [f, cells[i] ?? []])) as Row);
}

/** Expert items of severity error on a row, as messages. */
function errors(row: Row): string[] {
  return row['_ws.expert.severity'].flatMap((s, i) => (s === PI_ERROR ? [row['_ws.expert.message'][i] ?? ''] : []));
}

const num = (xs: readonly string[]) => xs.map(Number);

/** What our decoders say about one packet of a log capture. */
type Decoded =
  | { proto: 'log'; ok: true; message: ChannelMessage; entries: LogEntry[]; badEntries: number }
  | { proto: 'log'; ok: false }
  | { proto: 'arbiter'; ok: boolean; message?: ReturnType<typeof decodeArbiter> };

function decodePacket(data: Uint8Array): Decoded {
  const d = parseUdp(data);
  if (d === undefined) throw new Error('a log capture packet that is not IPv4/UDP');
  if (d.dstPort === ARBITER_PORT || d.srcPort === ARBITER_PORT) {
    const message = decodeArbiter(d.payload);
    return { proto: 'arbiter', ok: message !== undefined, message };
  }
  const c = decodeChannel(d.payload);
  if (!c.ok) return { proto: 'log', ok: false };
  const { entries, bad } = c.message.type === 'append' ? decodeAppendEntries(c.message.entries) : { entries: [], bad: 0 };
  return { proto: 'log', ok: true, message: c.message, entries, badEntries: bad };
}

/** The summary cluster-describe.ts put in a packet's comment (the Info column must say the same). */
function commentSummary(comment: readonly string[]): string | undefined {
  const m = /(?:^|; )(?:log|arbiter): ([^;]*)/.exec(comment.join('; '));
  return m?.[1];
}

/** A log capture with some packets replaced (same interfaces, comments and times). */
function rewrite(capture: Uint8Array, replace: Map<number, Uint8Array>): Uint8Array {
  const file = readPcapng(capture);
  const { writer, buffer } = collectPcapng({ application: 'ftcp test (corrupted copy)' });
  for (const i of file.interfaces) writer.addInterface(i.name ?? 'if', i.description !== undefined ? { description: i.description } : {});
  file.packets.forEach((p, i) => writer.writePacket(p.interfaceId, p.timestampUs, replace.get(i + 1) ?? p.data, p.comments.join('; ') || undefined));
  return buffer.toBytes();
}

/** The same datagram with a new UDP payload (valid UDP and IP checksums). */
function withPayload(data: Uint8Array, payload: Uint8Array): Uint8Array {
  const d = parseUdp(data)!;
  return udpPacket(d.src, d.dst, d.srcPort, d.dstPort, payload, (data[4]! << 8) | data[5]!);
}

function setCrc(frame: Uint8Array, start = 0, end = frame.length): void {
  new DataView(frame.buffer, frame.byteOffset).setUint32(end - 4, crc32(frame, start, end - 4));
}

let dir = '';
let capture: Uint8Array = new Uint8Array(0);
let logPath = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ftcp-dissector-'));
  // A failover (a killed, b takes over after the arbiter), then c joins b (join, snapshot);
  // a digest every 8 entries so that digests show.
  const r = runCluster({ seed: 7, app: 'echo', connections: 2, join: { atUs: 2_000_000 }, digestEvery: 8, capture: 'memory' });
  expect(r.ok, r.problems.join('\n')).toBe(true);
  capture = r.captures.log!;
  logPath = join(dir, 'log.pcapng');
  writeFileSync(logPath, capture);
});

afterAll(() => {
  if (dir !== '' && process.env['KEEP_DISSECTOR_FILES'] === undefined) rmSync(dir, { recursive: true, force: true });
});

describeTsharkLua('wireshark/ftcp-log.lua on a simulated log capture', () => {
  it('decodes every frame as our decoders do: type, epoch, r, entries, checks, digests, and the Info column says what the comment says', () => {
    const packets = readPcapng(capture).packets;
    const rows = dissect(logPath);
    expect(rows).toHaveLength(packets.length);
    const seenTypes = new Set<string>();
    let digests = 0;
    rows.forEach((row, i) => {
      const where = `frame ${i + 1}`;
      const d = decodePacket(packets[i]!.data);
      expect(d.ok, where).toBe(true);
      expect(row['ftcplog.crc.status'].concat(row['ftcparb.crc.status']), where).toEqual(['1']);
      expect(row['_ws.col.Info'][0], where).toBe(commentSummary(packets[i]!.comments));
      if (d.proto === 'arbiter') {
        const m = d.message!;
        seenTypes.add(`arbiter ${m.type}`);
        expect(row['_ws.col.Protocol'], where).toEqual(['FTCP-ARB']);
        expect(num(row['ftcparb.type']), where).toEqual([m.type === 'request' ? 1 : 2]);
        expect(num(row['ftcparb.epoch']), where).toEqual([m.epoch]);
        expect(row['ftcparb.replica'], where).toEqual([m.replica]);
        expect(row['ftcparb.winner'], where).toEqual(m.type === 'response' ? [m.winner] : []);
        return;
      }
      if (!d.ok) throw new Error(`${where}: our decoder rejects it`);
      const m = d.message;
      seenTypes.add(m.type);
      expect(row['_ws.col.Protocol'], where).toEqual(['FTCP-LOG']);
      expect(row['ftcplog.type'].map((t) => FRAME_TYPES[Number(t) - 1]), where).toEqual([m.type]);
      expect(num(row['ftcplog.epoch']), where).toEqual([m.epoch]);
      expect(num(row['ftcplog.r']), where).toEqual(m.type === 'append' || m.type === 'heartbeat' ? [m.r] : []);
      expect(num(row['ftcplog.last_index']), where).toEqual(m.type === 'heartbeat' ? [m.lastIndex] : []);
      expect(num(row['ftcplog.ack']), where).toEqual(m.type === 'ack' ? [m.index] : []);
      expect(num(row['ftcplog.snapshot.index']), where).toEqual(m.type === 'snapshot' ? [m.index] : []);
      expect(row['ftcplog.join.name'], where).toEqual(m.type === 'join' ? [m.name] : []);
      const e = d.entries;
      expect(d.badEntries, where).toBe(0);
      expect(num(row['ftcplog.entry.index']), where).toEqual(e.map((x) => x.index));
      expect(num(row['ftcplog.entry.epoch']), where).toEqual(e.map((x) => x.epoch));
      expect(row['ftcplog.entry.kind'].map((k) => ENTRY_KINDS[Number(k) - 1]), where).toEqual(e.map((x) => x.kind));
      expect(num(row['ftcplog.entry.time']), where).toEqual(e.map((x) => x.timeUs));
      expect(row['ftcplog.entry.crc.status'], where).toEqual(e.map(() => '1'));
      expect(num(row['ftcplog.entry.check_count']), where).toEqual(e.map((x) => x.checks.length));
      expect(num(row['ftcplog.check.rcv_nxt']), where).toEqual(e.flatMap((x) => x.checks.map((c) => c.rcvNxt)));
      expect(row['ftcplog.entry.digest'].map((x) => Number.parseInt(x, 16)), where).toEqual(e.flatMap((x) => (x.digest === undefined ? [] : [x.digest])));
      digests += row['ftcplog.entry.digest'].length;
    });
    // The run has all of these (a failover and a join); the dissector named each one.
    expect([...seenTypes].sort()).toEqual(['ack', 'append', 'arbiter request', 'arbiter response', 'heartbeat', 'join', 'snapshot']);
    expect(digests).toBeGreaterThan(3);
  });

  it('shows the same entries as replay-input.ts decodes, with indices consecutive within each epoch', () => {
    const rows = dissect(logPath);
    const ours = decodeLog(extractLogFrames(packetsOf(capture)));
    expect(ours.corrupt).toEqual([]);
    const seen = rows.flatMap((row) => row['ftcplog.entry.index'].map((index, i) => ({ frame: Number(row['frame.number'][0]), index: Number(index), epoch: Number(row['ftcplog.entry.epoch'][i]) })));
    expect(seen).toEqual(ours.entries.map((x) => ({ frame: x.packet, index: x.entry.index, epoch: x.entry.epoch })));
    expect(seen.length).toBeGreaterThan(100);
    const byEpoch = new Map<number, Set<number>>();
    for (const s of seen) byEpoch.set(s.epoch, (byEpoch.get(s.epoch) ?? new Set()).add(s.index));
    expect(byEpoch.size).toBeGreaterThan(1); // entries of the first primary and of the one that took over
    for (const [epoch, set] of byEpoch) {
      const sorted = [...set].sort((a, b) => a - b);
      expect(sorted, `epoch ${epoch}`).toEqual(sorted.map((_, i) => sorted[0]! + i));
    }
  });

  it('dissects the client packet inside each packet entry as IP/TCP, client to service, with no malformed packet or expert error', () => {
    const packets = readPcapng(capture).packets;
    const rows = dissect(logPath);
    let inner = 0;
    rows.forEach((row, i) => {
      const where = `frame ${i + 1}`;
      const d = decodePacket(packets[i]!.data);
      const logged = d.proto === 'log' && d.ok ? d.entries.flatMap((e) => (e.kind === 'packet' ? [e.packet] : [])) : [];
      const parsed = logged.map((p) => parseTcpPacket(p));
      // Our own parser says which embedded packets are damaged (none in this run); tshark must agree.
      const bad = parsed.filter((p) => !p.ok).length;
      expect(bad, where).toBe(0);
      const segs = parsed.flatMap((p) => (p.ok ? [p] : []));
      const outer = parseUdp(packets[i]!.data)!;
      expect(row['ip.src'], where).toEqual([formatIpv4Addr(outer.src), ...segs.map((p) => formatIpv4Addr(p.ip.src))]);
      expect(row['ip.dst'], where).toEqual([formatIpv4Addr(outer.dst), ...segs.map((p) => formatIpv4Addr(p.ip.dst))]);
      expect(num(row['tcp.srcport']), where).toEqual(segs.map((p) => p.segment.srcPort));
      expect(num(row['tcp.dstport']), where).toEqual(segs.map(() => CLUSTER_SERVICE_PORT));
      for (const p of segs) {
        expect(p.ip.src, where).toBe(CLUSTER_CLIENT);
        expect(p.ip.dst, where).toBe(CLUSTER_SERVICE);
      }
      if (segs.length > 0) expect(row['frame.protocols'][0], where).toMatch(/^raw:ip:udp:ftcplog:ip:tcp/);
      inner += segs.length;
      expect(row['_ws.malformed'], where).toEqual([]);
      expect(errors(row), where).toEqual([]);
    });
    expect(inner).toBeGreaterThan(100);
  });

  it('flags each deliberately corrupted frame in a copy of the capture, and only those, without a dissector error', () => {
    const packets = readPcapng(capture).packets;
    const decoded = packets.map((p) => decodePacket(p.data));
    const payloadOf = (frame: number) => parseUdp(packets[frame - 1]!.data)!.payload.slice();
    const find = (pred: (d: Decoded) => boolean, after = 0) => decoded.findIndex((d, i) => i + 1 > after && pred(d)) + 1;
    const isType = (t: string) => (d: Decoded) => d.proto === 'log' && d.ok && d.message.type === t;
    const withPacketEntry = (d: Decoded) => d.proto === 'log' && d.ok && d.entries.some((e) => e.kind === 'packet');
    const corrupt = new Map<number, { payload: Uint8Array; expect: RegExp }>();
    const add = (frame: number, edit: (p: Uint8Array) => Uint8Array | void, expected: RegExp) => {
      expect(frame, `no frame for ${expected}`).toBeGreaterThan(0);
      expect(corrupt.has(frame)).toBe(false);
      const p = payloadOf(frame);
      corrupt.set(frame, { payload: edit(p) ?? p, expect: expected });
    };
    // An append: one bit of the first entry's time flipped (entry and frame CRCs both fail).
    const a1 = find(withPacketEntry);
    add(a1, (p) => void (p[22 + 27] = p[22 + 27]! ^ 0x01), /Bad log entry CRC[\s\S]*Bad frame CRC|Bad frame CRC[\s\S]*Bad log entry CRC/);
    // An append whose first entry has an unknown kind, both CRCs made right again.
    const a2 = find(withPacketEntry, a1);
    add(a2, (p) => {
      p[22 + 1] = 9;
      const n = new DataView(p.buffer).getUint32(22 + 4);
      setCrc(p, 22, 22 + n);
      setCrc(p);
    }, /Unknown log entry kind 9/);
    // An append that claims one entry more than it carries (frame CRC right).
    const a3 = find(withPacketEntry, a2);
    add(a3, (p) => {
      new DataView(p.buffer).setUint16(20, new DataView(p.buffer).getUint16(20) + 1);
      setCrc(p);
    }, /no room for its header/);
    const h1 = find(isType('heartbeat'));
    add(h1, (p) => void new DataView(p.buffer).setUint32(4, p.length + 1), /Frame length field says/);
    const h2 = find(isType('heartbeat'), h1);
    add(h2, (p) => void (p[0] = 2), /Unknown log-channel format version 2/);
    const k1 = find(isType('ack'));
    add(k1, (p) => {
      p[1] = 200;
      setCrc(p);
    }, /Unknown frame type 200/);
    const k2 = find(isType('ack'), k1);
    add(k2, (p) => p.slice(0, 10), /shorter than the 16-byte header/);
    const r1 = find((d) => d.proto === 'arbiter');
    add(r1, (p) => void (p[p.length - 1] = p[p.length - 1]! ^ 0xff), /Bad arbiter message CRC/);

    const copy = rewrite(capture, new Map([...corrupt].map(([frame, c]) => [frame, withPayload(packets[frame - 1]!.data, c.payload)])));
    const path = join(dir, 'log-corrupted.pcapng');
    writeFileSync(path, copy);
    const copied = readPcapng(copy).packets;
    const rows = dissect(path);
    expect(rows).toHaveLength(packets.length);
    rows.forEach((row, i) => {
      const frame = i + 1;
      const mine = errors(row);
      const c = corrupt.get(frame);
      // Our decoders reject exactly the frames the dissector flags.
      const d = decodePacket(copied[i]!.data);
      const rejected = !d.ok || (d.proto === 'log' && d.badEntries > 0);
      expect(rejected, `frame ${frame}`).toBe(c !== undefined);
      expect(mine.join('\n'), `frame ${frame}`).not.toMatch(/Dissector error/);
      if (c === undefined) {
        expect(row['_ws.malformed'], `frame ${frame}`).toEqual([]);
        expect(mine, `frame ${frame}`).toEqual([]);
      } else {
        // Malformed-group expert items also set _ws.malformed (Wireshark's convention); CRC ones do not.
        expect(mine.join('\n'), `frame ${frame}`).toMatch(c.expect);
        expect(row['_ws.col.Info'][0], `frame ${frame}`).toMatch(/\[.*(malformed|bad CRC|bad).*\]|malformed/);
      }
    });
    // The entry whose time was hit still shows its index (its CRC says not to trust it).
    const hit = rows[a1 - 1]!;
    expect(hit['ftcplog.entry.crc.status'][0]).toBe('0');
    expect(hit['ftcplog.crc.status']).toEqual(['0']);
    const original = decodePacket(packets[a1 - 1]!.data);
    if (original.proto !== 'log' || !original.ok) throw new Error('unreachable');
    expect(num(hit['ftcplog.entry.index'])).toEqual(original.entries.map((e) => e.index));
  });
});

const FTCP_FLAGS = 'ftcplog.bad_crc || ftcplog.malformed || ftcplog.entry.bad_crc || ftcplog.entry.malformed || ftcparb.bad_crc || ftcparb.malformed';

/** Offsets [start, end) of the entry frames inside an intact append payload. */
function entrySpans(payload: Uint8Array): Array<[number, number]> {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
  const spans: Array<[number, number]> = [];
  let pos = 22;
  for (let i = 0; i < view.getUint16(20); i++) {
    const n = view.getUint32(pos + 4);
    spans.push([pos, pos + n]);
    pos += n;
  }
  return spans;
}

/**
 * One seeded mutation of a control-plane payload: a flipped byte (CRCs left wrong, or made
 * right again so that the structure checks are what catches it), a truncation (length field
 * left, or made to agree), or nothing.
 */
function mutate(payload: Uint8Array, rng: Prng, arbiter: boolean): Uint8Array {
  const p = payload.slice();
  const fixCrcs = (at: number) => {
    if (!arbiter && p[1] === 1 && p.length >= 26) {
      for (const [s, e] of entrySpans(payload)) if (at >= s && at < e - 4 && e <= p.length - 4) setCrc(p, s, e);
    }
    setCrc(p);
  };
  switch (rng.below(5)) {
    case 0: {
      const at = rng.below(p.length);
      p[at] = p[at]! ^ (1 + rng.below(255));
      return p;
    }
    case 1: {
      const at = rng.below(p.length - 4);
      p[at] = p[at]! ^ (1 + rng.below(255));
      fixCrcs(at);
      return p;
    }
    case 2:
      return p.slice(0, 1 + rng.below(p.length - 1));
    case 3: {
      const cut = p.slice(0, Math.max(arbiter ? 18 : 16, rng.below(p.length)));
      if (!arbiter) new DataView(cut.buffer).setUint32(4, cut.length);
      setCrc(cut);
      return cut;
    }
    default:
      return p;
  }
}

describeTsharkLua('wireshark/ftcp-log.lua on seeded mutations of every frame', () => {
  it('flags a frame exactly when our decoders reject it, and never fails with a Lua error', () => {
    const packets = readPcapng(capture).packets;
    const rng = new Prng(20261130);
    const replace = new Map<number, Uint8Array>();
    packets.forEach((pk, i) => {
      const d = parseUdp(pk.data)!;
      replace.set(i + 1, withPayload(pk.data, mutate(d.payload, rng, d.dstPort === ARBITER_PORT || d.srcPort === ARBITER_PORT)));
    });
    const path = join(dir, 'log-mutated.pcapng');
    writeFileSync(path, rewrite(capture, replace));
    const rows = dissect(path);
    expect(rows).toHaveLength(packets.length);
    const flagged = new Set(dissect(path, ['-Y', FTCP_FLAGS]).map((r) => Number(r['frame.number'][0])));
    let rejected = 0;
    rows.forEach((row, i) => {
      const frame = i + 1;
      const d = decodePacket(replace.get(frame)!);
      const bad = !d.ok || (d.proto === 'log' && d.badEntries > 0);
      if (bad) rejected++;
      expect(flagged.has(frame), `frame ${frame}: our decoders ${bad ? 'reject' : 'accept'} it`).toBe(bad);
      expect(row['_ws.expert.message'].join('\n'), `frame ${frame}`).not.toMatch(/Dissector error/);
      expect(row['_ws.col.Protocol'], `frame ${frame}`).toEqual([d.proto === 'arbiter' ? 'FTCP-ARB' : 'FTCP-LOG']);
    });
    // Most frames were damaged, some were left intact.
    expect(rejected).toBeGreaterThan(packets.length / 2);
    expect(rejected).toBeLessThan(packets.length);
  });
});

// ---- a hand-built capture with every frame type and entry kind

const replicaA = CLUSTER_REPLICAS['a']!;
const replicaB = CLUSTER_REPLICAS['b']!;

function handBuilt(port = LOG_PORT): { bytes: Uint8Array; entries: LogEntry[]; messages: ChannelMessage[] } {
  const check = { socket: 3, sndUna: 1001, sndNxt: 2001, rcvNxt: 4_000_000_000, sndWnd: 65535, rcvWnd: 1 << 20 };
  const syn = buildTcpPacket({ src: CLUSTER_CLIENT, dst: CLUSTER_SERVICE, id: 7 }, { srcPort: 40001, dstPort: CLUSTER_SERVICE_PORT, seq: 1000, ack: 0, flags: TCP_SYN, window: 65535, options: [{ kind: 'mss', mss: 1460 }] });
  const common = (index: number, epoch: number, timeUs: number) => ({ index, epoch, timeUs, checks: [] as (typeof check)[] });
  const entries: LogEntry[] = [
    { ...common(1, 1, 1_000), kind: 'packet', packet: syn },
    { ...common(2, 1, 2_000), kind: 'tick', checks: [check], digest: 0xdeadbeef },
    { ...common(3, 1, 3_000), kind: 'app', socket: 3, op: 'write', data: new TextEncoder().encode('hello'), checks: [check, { ...check, socket: 4 }] },
    { ...common(4, 2, 4_000), kind: 'app', socket: 3, op: 'read', amount: 100 },
    { ...common(5, 2, 5_000), kind: 'app', socket: 3, op: 'close' },
    { ...common(6, 2, 5_000_000_123), kind: 'epoch', newEpoch: 2, members: ['a', 'b'] },
    { ...common(7, 2, 5_000_000_123), kind: 'retransmit', skip: [3, 70_000] },
  ];
  const frames = entries.map(encodeEntry);
  const messages: ChannelMessage[] = [
    { type: 'append', epoch: 1, r: 0, entries: frames.slice(0, 3) },
    { type: 'heartbeat', epoch: 1, r: 3, lastIndex: 3 },
    { type: 'ack', epoch: 1, index: 3 },
    { type: 'resend', epoch: 1, from: 2 },
    { type: 'append', epoch: 2, r: 3, entries: frames.slice(3) },
    { type: 'join', epoch: 2, name: 'c' },
    ...snapshotMessages(2, 7, new Uint8Array(40_000).map((_, i) => i & 0xff)),
    { type: 'hello', epoch: 2, text: '{"app":"counter"}' },
    { type: 'handover', epoch: 2, r: 6, lastIndex: 7 },
    { type: 'forward', epoch: 2, packet: syn },
  ];
  const { writer, buffer } = collectPcapng();
  const logIf = writer.addInterface('log channel');
  const arbIf = writer.addInterface('arbiter');
  messages.forEach((m, i) => writer.writePacket(logIf, 10_000 * (i + 1), udpPacket(replicaA, replicaB, port, port, encodeChannel(m), i)));
  const req = encodeArbiter({ type: 'request', id: 5, epoch: 2, replica: 'b' });
  writer.writePacket(arbIf, 500_000, udpPacket(replicaB, CLUSTER_ARBITER, ARBITER_PORT, ARBITER_PORT, req, 100));
  const won = encodeArbiter({ type: 'response', id: 5, epoch: 2, replica: 'b', winner: 'b' });
  writer.writePacket(arbIf, 500_100, udpPacket(CLUSTER_ARBITER, replicaB, ARBITER_PORT, ARBITER_PORT, won, 101));
  const lost = encodeArbiter({ type: 'response', id: 6, epoch: 2, replica: 'a', winner: 'b' });
  writer.writePacket(arbIf, 500_200, udpPacket(CLUSTER_ARBITER, replicaA, ARBITER_PORT, ARBITER_PORT, lost, 102));
  return { bytes: buffer.toBytes(), entries, messages };
}

describeTsharkLua('wireshark/ftcp-log.lua on every frame type and entry kind', () => {
  it('decodes each field as it was encoded', () => {
    const { bytes, entries, messages } = handBuilt();
    const path = join(dir, 'hand-built.pcapng');
    writeFileSync(path, bytes);
    const rows = dissect(path);
    expect(rows).toHaveLength(messages.length + 3);
    for (const row of rows) {
      expect(errors(row), row['frame.number'][0]).toEqual([]);
      expect(row['_ws.malformed']).toEqual([]);
    }
    expect(rows.slice(0, messages.length).map((r) => FRAME_TYPES[Number(r['ftcplog.type'][0]) - 1])).toEqual(messages.map((m) => m.type));
    const all = (f: Field) => rows.flatMap((r) => r[f]);
    expect(num(all('ftcplog.entry.index'))).toEqual(entries.map((e) => e.index));
    expect(all('ftcplog.entry.kind').map((k) => ENTRY_KINDS[Number(k) - 1])).toEqual(entries.map((e) => e.kind));
    expect(num(all('ftcplog.entry.epoch'))).toEqual(entries.map((e) => e.epoch));
    expect(num(all('ftcplog.entry.time'))).toEqual(entries.map((e) => e.timeUs)); // 5_000_000_123 needs all 64 bits
    expect(num(all('ftcplog.entry.check_count'))).toEqual([0, 1, 2, 0, 0, 0, 0]);
    expect(num(all('ftcplog.check.socket'))).toEqual([3, 3, 4]);
    expect(num(all('ftcplog.check.rcv_nxt'))).toEqual([4_000_000_000, 4_000_000_000, 4_000_000_000]);
    expect(all('ftcplog.entry.digest')).toEqual(['0xdeadbeef']);
    expect(num(all('ftcplog.entry.app.op'))).toEqual([1, 4, 3]); // write, read, close
    expect(num(all('ftcplog.entry.app.n'))).toEqual([5, 100, 0]);
    expect(num(all('ftcplog.entry.new_epoch'))).toEqual([2]);
    expect(all('ftcplog.entry.member')).toEqual(['a', 'b']);
    expect(num(all('ftcplog.entry.skip_count'))).toEqual([2]);
    expect(num(all('ftcplog.entry.skip'))).toEqual([3, 70_000]);
    expect(num(all('tcp.srcport'))).toEqual([40001]);
    expect(num(all('ftcplog.r'))).toEqual([0, 3, 3, 6]);
    expect(num(all('ftcplog.last_index'))).toEqual([3, 7]);
    expect(all('ftcplog.hello.text')).toEqual(['{"app":"counter"}']);
    expect(all('ftcplog.forward.packet')).toHaveLength(1);
    expect(num(all('ftcplog.ack'))).toEqual([3]);
    expect(num(all('ftcplog.resend_from'))).toEqual([2]);
    expect(all('ftcplog.join.name')).toEqual(['c']);
    expect(num(all('ftcplog.snapshot.offset'))).toEqual([0, 32_768]);
    expect(num(all('ftcplog.snapshot.chunk_length'))).toEqual([32_768, 40_000 - 32_768]);
    expect(num(all('ftcparb.type'))).toEqual([1, 2, 2]);
    expect(all('ftcparb.winner')).toEqual(['b', 'b']);
    expect(all('ftcparb.won')).toEqual(['1', '0']);
    expect(all('_ws.col.Info').slice(-3)).toEqual(['b asks for the test-and-set of epoch 2', 'epoch 2 belongs to b (won)', 'epoch 2 belongs to b (lost)']);
  });

  it('is offered under Decode As and follows its port preference', () => {
    const { bytes, messages } = handBuilt(40_000);
    const path = join(dir, 'other-port.pcapng');
    writeFileSync(path, bytes);
    const logFrames = (rows: Row[]) => rows.filter((r) => r['ftcplog.type'].length > 0).length;
    expect(logFrames(dissect(path))).toBe(0);
    expect(logFrames(dissect(path, ['-d', 'udp.port==40000,ftcplog']))).toBe(messages.length);
    expect(logFrames(dissect(path, ['-o', 'ftcplog.udp_port:40000']))).toBe(messages.length);
  });
});
