/** One-line summaries of control-plane packets (log channel, arbiter), for capture comments. */
import { decodeArbiter } from './arbiter.js';
import { decodeAppendEntries, decodeChannel } from './channel.js';
import { parseUdp } from '../wire/udp.js';
import { ARBITER_PORT } from './replay-input.js';

export function describeControlPacket(bytes: Uint8Array): { arbiter: boolean; summary?: string } {
  const d = parseUdp(bytes);
  if (d === undefined) return { arbiter: false };
  if (d.dstPort === ARBITER_PORT || d.srcPort === ARBITER_PORT) {
    const m = decodeArbiter(d.payload);
    if (m === undefined) return { arbiter: true, summary: 'arbiter: corrupt message' };
    return {
      arbiter: true,
      summary: m.type === 'request' ? `arbiter: ${m.replica} asks for the test-and-set of epoch ${m.epoch}` : `arbiter: epoch ${m.epoch} belongs to ${m.winner} (${m.winner === m.replica ? 'won' : 'lost'})`,
    };
  }
  const c = decodeChannel(d.payload);
  if (!c.ok) return { arbiter: false, summary: `log: corrupt frame (${c.reason})` };
  const m = c.message;
  switch (m.type) {
    case 'append': {
      const { entries } = decodeAppendEntries(m.entries);
      const first = entries[0];
      const last = entries[entries.length - 1];
      const kinds = [...new Set(entries.map((e) => e.kind))].join('/');
      return { arbiter: false, summary: `log: append ${entries.length} ${kinds} entr${entries.length === 1 ? 'y' : 'ies'}${first ? ` [${first.index}..${last!.index}]` : ''}, r = ${m.r}, epoch ${m.epoch}` };
    }
    case 'heartbeat':
      return { arbiter: false, summary: `log: heartbeat r = ${m.r}, last index ${m.lastIndex}, epoch ${m.epoch}` };
    case 'ack':
      return { arbiter: false, summary: `log: ack ${m.index}, epoch ${m.epoch}` };
    case 'resend':
      return { arbiter: false, summary: `log: resend from ${m.from}, epoch ${m.epoch}` };
    case 'join':
      return { arbiter: false, summary: `log: ${m.name} asks to join` };
    case 'snapshot':
      return { arbiter: false, summary: `log: snapshot at index ${m.index}, bytes ${m.offset}..${m.offset + m.chunk.length} of ${m.total}, epoch ${m.epoch}` };
    case 'hello':
      return { arbiter: false, summary: `log: hello, ${m.text.split('\n').join(', ')}` };
    case 'handover':
      return { arbiter: false, summary: `log: handover r = ${m.r}, last index ${m.lastIndex}, epoch ${m.epoch}` };
    case 'forward':
      return { arbiter: false, summary: `log: forwarded client packet of ${m.packet.length} bytes, epoch ${m.epoch}` };
  }
}
