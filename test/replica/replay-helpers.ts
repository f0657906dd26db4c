// Shared by the replay tests: simulated cluster captures, a recording stack factory (what the
// primary's own stack said before each input), and byte surgery on a log capture.
import { readPcapng } from '../../src/pcap/reader.js';
import { decodeChannel } from '../../src/replica/channel.js';
import { decodeEntry, type LogEntry } from '../../src/replica/log.js';
import type { CapturedPacket } from '../../src/replica/replay-input.js';
import { connectionState, type ConnectionState } from '../../src/replica/replay.js';
import type { RsmStack, RsmStackFactory } from '../../src/replica/rsm.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import type { SocketId } from '../../src/tcp/types.js';
import { foldChecksum, pseudoHeaderSum, sum16 } from '../../src/wire/checksum.js';
import { crc32 } from '../../src/wire/crc32.js';

export function packetsOf(capture: Uint8Array): CapturedPacket[] {
  return readPcapng(capture).packets.map((p, i) => ({ number: i + 1, timeUs: p.timestampUs, data: p.data, comments: p.comments }));
}

/**
 * A stack factory that records, for every stack it creates, the state of each accepted
 * connection just before each handlePacket / handleTimeout call: the state after the
 * previous log entry, as the replica's own stack had it.
 */
export class RecordingFactory implements RsmStackFactory {
  readonly stacks: Array<{ before: ConnectionState[][]; current: () => ConnectionState[] }> = [];
  create(config: Parameters<RsmStackFactory['create']>[0]): RsmStack {
    return this.wrap(stackFactory.create(config));
  }
  restore(snapshot: Uint8Array): RsmStack {
    return this.wrap(stackFactory.restore(snapshot));
  }
  private wrap(inner: RsmStack): RsmStack {
    const accepted: SocketId[] = [];
    const states = (): ConnectionState[] => {
      const out: ConnectionState[] = [];
      for (const id of accepted) {
        try {
          out.push(connectionState(inner.info(id), 0));
        } catch {
          // released
        }
      }
      return out;
    };
    const record = { before: [] as ConnectionState[][], current: states };
    this.stacks.push(record);
    return new Proxy(inner, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        if (prop === 'handlePacket' || prop === 'handleTimeout') {
          return (...args: unknown[]) => {
            record.before.push(states());
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        if (prop === 'accept') {
          return (...args: unknown[]) => {
            const s = (v as (...a: unknown[]) => SocketId | undefined).apply(target, args);
            if (s !== undefined) accepted.push(s);
            return s;
          };
        }
        return (v as (...a: unknown[]) => unknown).bind(target);
      },
    });
  }
}

/** Compare the replay's connection list with the recorded one, ignoring firstIndex. */
export function comparable(list: readonly ConnectionState[]): Array<Omit<ConnectionState, 'firstIndex'>> {
  return list.map(({ firstIndex: _f, ...rest }) => rest).sort((a, b) => a.id - b.id);
}

/** Where entry `index` sits in a log capture: every copy, as offsets into the file. */
export function findEntryCopies(capture: Uint8Array, index: number): Array<{ channelAt: number; channelLength: number; entryAt: number; entryLength: number; entry: LogEntry }> {
  const out: Array<{ channelAt: number; channelLength: number; entryAt: number; entryLength: number; entry: LogEntry }> = [];
  for (const p of packetsOf(capture)) {
    const d = p.data;
    if (d[9] !== 17) continue;
    const ihl = (d[0]! & 0x0f) * 4;
    const payload = d.subarray(ihl + 8);
    const c = decodeChannel(payload);
    if (!c.ok || c.message.type !== 'append') continue;
    let pos = 22;
    for (const frame of c.message.entries) {
      const e = decodeEntry(frame);
      if (e.ok && e.entry.index === index) {
        const channelAt = indexOfBytes(capture, payload);
        out.push({ channelAt, channelLength: payload.length, entryAt: channelAt + pos, entryLength: frame.length, entry: e.entry });
      }
      pos += frame.length;
    }
  }
  return out;
}

function indexOfBytes(hay: Uint8Array, needle: Uint8Array): number {
  const first = needle[0]!;
  for (let i = hay.indexOf(first); i >= 0 && i <= hay.length - needle.length; i = hay.indexOf(first, i + 1)) {
    let k = 1;
    while (k < needle.length && hay[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  throw new Error('bytes not found in the capture');
}

const setU32 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(at, v >>> 0);

/**
 * Flip one byte of the IP packet logged in entry `index` (at `packetOffset` in the packet),
 * in every copy. With `reCrc`, fix the entry's and the channel frame's CRC-32 (and, when
 * `fixTcpChecksum`, the TCP checksum) so that only the meaning changes.
 */
export function tamperLoggedPacket(capture: Uint8Array, index: number, packetOffset: number, opts: { reCrc: boolean; fixTcpChecksum?: boolean }): Uint8Array {
  const out = capture.slice();
  const copies = findEntryCopies(out, index);
  if (copies.length === 0) throw new Error(`entry ${index} not in the capture`);
  for (const c of copies) {
    if (c.entry.kind !== 'packet') throw new Error(`entry ${index} is not a packet entry`);
    const packetAt = c.entryAt + 28 + 4;
    out[packetAt + packetOffset] = out[packetAt + packetOffset]! ^ 0x20;
    if (!opts.reCrc) continue;
    if (opts.fixTcpChecksum === true) {
      const p = out.subarray(packetAt, packetAt + c.entry.packet.length);
      const ihl = (p[0]! & 0x0f) * 4;
      // RFC 9293 §3.1: the checksum covers a pseudo-header, the TCP header and the data.
      p[ihl + 16] = 0;
      p[ihl + 17] = 0;
      const u32 = (o: number) => ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0;
      const checksum = foldChecksum(sum16(p, ihl, p.length, pseudoHeaderSum(u32(12), u32(16), 6, p.length - ihl)));
      p[ihl + 16] = checksum >> 8;
      p[ihl + 17] = checksum & 0xff;
    }
    const entry = out.subarray(c.entryAt, c.entryAt + c.entryLength);
    setU32(entry, c.entryLength - 4, crc32(entry, 0, c.entryLength - 4));
    const channel = out.subarray(c.channelAt, c.channelAt + c.channelLength);
    setU32(channel, c.channelLength - 4, crc32(channel, 0, c.channelLength - 4));
  }
  return out;
}
