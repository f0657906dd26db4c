/**
 * Matching a target's packets against a script's, shared by both targets (runner.ts for
 * ftcp in virtual time, linux/runner.ts for the kernel in real time): the segments a target
 * sent, compared in script terms, TSO aggregation, and inbound packets built from script
 * lines.
 */
import { buildTcpPacket } from '../wire/packet.js';
import { TCP_ACK, TCP_PSH, type TcpOption, type TcpSegment } from '../wire/tcp.js';
import { formatIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { formatSeconds, formatSegment } from './format.js';
import type { PacketEvent, ScriptEvent } from './script.js';
import type { RunSettings } from './settings.js';

export interface Sent {
  timeUs: number;
  src: Ipv4Addr;
  dst: Ipv4Addr;
  seg: TcpSegment;
  /** The target's ISN for this packet's connection when it was sent (0 when it belongs to none). */
  ourIsn: number;
}

/** An inbound packet without `win` offers 65535, as packetdrill's do. */
const DEFAULT_WINDOW = 65_535;

/** A packet the target sent, in script terms, without ports and time; `TS val *` (each target has its own TS clock). */
export function sentText(s: Sent, remoteIsn: number): string {
  return segmentText(s, remoteIsn).replace(/TS val \d+/, 'TS val *');
}

function segmentText(s: Sent, remoteIsn: number): string {
  const seg = s.seg;
  return formatSegment({
    flags: seg.flags,
    seq: (seg.seq - s.ourIsn) >>> 0,
    payloadLength: seg.payload.length,
    ack: seg.flags & TCP_ACK ? (seg.ack - remoteIsn) >>> 0 : undefined,
    window: seg.window,
    urgentPointer: seg.urgentPointer === 0 ? undefined : seg.urgentPointer,
    options: relativeOptions(seg.options, remoteIsn),
  });
}

/** A packet the target sent, in script terms, with its ports and time. */
export function describeSent(s: Sent, remoteIsn: number): string {
  return `${segmentText(s, remoteIsn)} (ports ${s.seg.srcPort}>${s.seg.dstPort}, at ${formatSeconds(s.timeUs)} s)`;
}

/** SACK blocks in the other side's sequence space, made relative; trailing EOL padding dropped. */
export function relativeOptions(options: readonly TcpOption[], base: number): TcpOption[] {
  const out = options.map((o): TcpOption => (o.kind === 'sack' ? { kind: 'sack', blocks: o.blocks.map((b) => ({ left: (b.left - base) >>> 0, right: (b.right - base) >>> 0 })) } : o));
  while (out.length > 0 && out[out.length - 1]!.kind === 'eol') out.pop();
  return out;
}

/**
 * TSO/GSO as the public suites assume it: a script written against Linux expects one large
 * segment (`> P. 1:3001(3000)`) where the NIC would cut MSS-sized ones, and a target sends
 * the MSS-sized ones. When the scripted payload is longer than the first segment sent, the
 * segments queued right behind it that continue it (same flow, next sequence number, same
 * ACK, same flags but PSH, no more than the scripted length in all) are taken from `queue`
 * as one; PSH is the last one's, as on the aggregate Linux would have sent. Not with
 * `--strict_segments` (packetdrill's option for scripts that count segments).
 */
export function aggregate(e: PacketEvent, first: Sent, queue: Sent[], strictSegments = false): Sent {
  const want = e.payloadLength;
  if (strictSegments || first.seg.payload.length === 0 || want <= first.seg.payload.length) return first;
  const parts = [first];
  let total = first.seg.payload.length;
  for (;;) {
    const next = queue[0];
    const last = parts[parts.length - 1]!.seg;
    if (next === undefined || total >= want) break;
    const n = next.seg;
    if (n.srcPort !== last.srcPort || n.dstPort !== last.dstPort || n.seq !== ((last.seq + last.payload.length) >>> 0)) break;
    if (n.ack !== first.seg.ack || (n.flags | TCP_PSH) !== (first.seg.flags | TCP_PSH) || n.payload.length === 0 || total + n.payload.length > want) break;
    parts.push(queue.shift()!);
    total += n.payload.length;
  }
  if (parts.length === 1) return first;
  const payload = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    payload.set(p.seg.payload, at);
    at += p.seg.payload.length;
  }
  const lastSeg = parts[parts.length - 1]!.seg;
  return { ...first, seg: { ...first.seg, flags: (first.seg.flags & ~TCP_PSH) | (lastSeg.flags & TCP_PSH), window: lastSeg.window, payload } };
}

/** Why `sent` is not the packet `e` describes, or undefined if it is. */
export function compareSent(e: PacketEvent, sent: Sent, settings: RunSettings): string | undefined {
  const seg = sent.seg;
  if (sent.src !== settings.localAddress || sent.dst !== settings.remoteAddress) {
    return `addresses ${formatIpv4Addr(sent.src)} > ${formatIpv4Addr(sent.dst)}`;
  }
  if (e.ports !== undefined && (seg.srcPort !== e.ports.src || seg.dstPort !== e.ports.dst)) return 'ports differ';
  // RFC 9293 §3.9.1: PSH is the sender's to set; a script may leave it out of the comparison.
  const flagMask = settings.ignorePsh ? ~TCP_PSH : ~0;
  if ((seg.flags & flagMask) !== (e.flags & flagMask)) return 'flags differ';
  if ((seg.seq - sent.ourIsn) >>> 0 !== e.seq) return 'sequence number differs';
  if (seg.payload.length !== e.payloadLength) return 'payload length differs';
  if (e.ack !== undefined && (e.flags & TCP_ACK) !== 0 && (seg.ack - settings.remoteIsn) >>> 0 !== e.ack) return 'ack number differs';
  if (e.window !== undefined && seg.window !== e.window) return 'window differs';
  if (e.urgentPointer !== undefined && seg.urgentPointer !== e.urgentPointer) return 'urgent pointer differs';
  if (e.options !== 'any' && !optionsEqual(e.options, relativeOptions(seg.options, settings.remoteIsn))) return 'options differ';
  return undefined;
}

/**
 * packetdrill's ts_val_mapping: the target's TS clock minus the script's, from the first
 * outbound packet whose TS val the script writes (undefined when this one does not tell).
 */
export function tsShiftOf(e: PacketEvent, seg: TcpSegment): number | undefined {
  if (e.options === 'any') return undefined;
  const want = e.options.find((o) => o.kind === 'ts');
  const got = seg.options.find((o) => o.kind === 'ts');
  return want?.kind === 'ts' && got?.kind === 'ts' ? (got.val - want.val) >>> 0 : undefined;
}

/** The bytes of an inbound script packet on flow `ports`, numbered against the target's ISN `ourIsn`. */
export function buildInbound(e: PacketEvent, settings: RunSettings, ports: { src: number; dst: number }, ourIsn: number, tsShift: number | undefined, ipId: number): Uint8Array {
  const options = (e.options as TcpOption[]).map((o): TcpOption => {
    if (o.kind === 'sack') return { kind: 'sack', blocks: o.blocks.map((b) => ({ left: (b.left + ourIsn) >>> 0, right: (b.right + ourIsn) >>> 0 })) };
    if (o.kind === 'ts' && o.ecr !== 0 && tsShift !== undefined) return { kind: 'ts', val: o.val, ecr: (o.ecr + tsShift) >>> 0 };
    return o;
  });
  return buildTcpPacket(
    { src: settings.remoteAddress, dst: settings.localAddress, id: ipId & 0xffff, ttl: 64 },
    {
      srcPort: ports.src,
      dstPort: ports.dst,
      seq: (settings.remoteIsn + e.seq) >>> 0,
      // With the ACK flag and no `ack N`, packetdrill sends the script's 0: our ISN.
      ack: e.ack === undefined ? (e.flags & TCP_ACK ? ourIsn : 0) : (ourIsn + e.ack) >>> 0,
      flags: e.flags,
      window: e.window ?? DEFAULT_WINDOW,
      urgentPointer: e.urgentPointer ?? 0,
      options,
      payload: new Uint8Array(e.payloadLength),
    },
  );
}

export function optionsEqual(expected: readonly TcpOption[], actual: readonly TcpOption[]): boolean {
  const want = [...expected];
  while (want.length > 0 && want[want.length - 1]!.kind === 'eol') want.pop();
  if (want.length !== actual.length) return false;
  return want.every((w, i) => {
    const a = actual[i]!;
    if (w.kind !== a.kind) return false;
    switch (w.kind) {
      case 'mss':
        return a.kind === 'mss' && a.mss === w.mss;
      case 'wscale':
        return a.kind === 'wscale' && a.shift === w.shift;
      case 'sack':
        return a.kind === 'sack' && a.blocks.length === w.blocks.length && a.blocks.every((b, j) => b.left === w.blocks[j]!.left && b.right === w.blocks[j]!.right);
      case 'ts':
        // A target's TS clock offset is its own: only the echoed value is checked.
        return a.kind === 'ts' && a.ecr === w.ecr;
      default:
        return true;
    }
  });
}

/** When an expected outbound packet may come, and the words for it in a mismatch. */
export interface ExpectWindow {
  lo: number;
  hi: number;
  /** The scripted time, for a line with one (not a range, not `*`). */
  nominal: number | undefined;
  when: string;
}

/**
 * The window of an outbound line: its time ± the tolerance, a scripted range widened by it,
 * or `*` (any time, up to `anyLimitUs` from now). `nominalUs` is the line's own time.
 */
export function expectWindow(e: PacketEvent, toleranceUs: number, at: { nowUs: number; lastEventUs: number; anyLimitUs: number }, nominalUs: () => number): ExpectWindow {
  const t = e.time;
  let lo: number;
  let hi: number;
  let nominal: number | undefined;
  if (t.kind === 'any') {
    lo = -Infinity;
    hi = at.nowUs + at.anyLimitUs;
  } else if (t.kind === 'absolute-range' || t.kind === 'relative-range') {
    const base = t.kind === 'relative-range' ? at.lastEventUs : 0;
    lo = base + t.us - toleranceUs;
    hi = base + t.endUs + toleranceUs;
  } else {
    nominal = nominalUs();
    lo = nominal - toleranceUs;
    hi = nominal + toleranceUs;
  }
  const when = nominal !== undefined ? `at ${formatSeconds(nominal)} s` : t.kind === 'any' ? 'at any time' : `between ${formatSeconds(lo + toleranceUs)} and ${formatSeconds(hi - toleranceUs)} s`;
  return { lo, hi, nominal, when };
}

/**
 * What happens to packets a target sends after the script's last outbound (`>`) line:
 * 'fail' (ours: no packet goes unlisted, so a script can say "nothing more is sent") or
 * 'ignore' (packetdrill's: only a `>` line reads a sniffed packet, so the ones after the
 * last such line are never compared; each run names them in a warning).
 */
export type TailRule = 'fail' | 'ignore';

/** The index of the script's last outbound packet line, -1 when it has none. */
export function lastOutboundIndex(events: readonly ScriptEvent[]): number {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.type === 'packet' && e.direction === 'outbound') return i;
  }
  return -1;
}

/** The warning for packets left unchecked under the 'ignore' tail rule. */
export function tailWarning(unchecked: readonly Sent[], remoteIsn: number, lastOutboundLine: number | undefined): string {
  const after = lastOutboundLine === undefined ? 'when the script has no outbound line' : `after the last outbound line (${lastOutboundLine})`;
  const first = describeSent(unchecked[0]!, remoteIsn);
  return `${unchecked.length} packet${unchecked.length === 1 ? '' : 's'} sent ${after} not checked (packetdrill's rule, --tail ignore); the first: > ${first}`;
}
