/** Packets, options and times printed the way packetdrill scripts write them. */
import type { TcpOption } from '../wire/tcp.js';
import { formatFlags } from '../wire/tcp.js';
import { formatIcmp, type IcmpSpec } from './icmp-line.js';
import type { PacketEvent } from './script.js';

/** `mss 1460`, `sackOK`, `TS val 1 ecr 0`, `sack 1:2 3:4`, ... */
export function formatOption(o: TcpOption): string {
  switch (o.kind) {
    case 'eol':
      return 'eol';
    case 'nop':
      return 'nop';
    case 'mss':
      return `mss ${o.mss}`;
    case 'wscale':
      return `wscale ${o.shift}`;
    case 'sackOk':
      return 'sackOK';
    case 'sack':
      return `sack ${o.blocks.map((b) => `${b.left}:${b.right}`).join(' ')}`;
    case 'ts':
      return `TS val ${o.val} ecr ${o.ecr}`;
    case 'unknown':
      return `option ${o.type} length ${o.data.length + 2}`;
  }
}

export function formatOptions(options: readonly TcpOption[]): string {
  return `<${options.map(formatOption).join(',')}>`;
}

/** The fields of a segment in script terms (sequence numbers already made relative). */
export interface RelativeSegment {
  flags: number;
  seq: number;
  payloadLength: number;
  ack: number | undefined;
  window: number | undefined;
  urgentPointer: number | undefined;
  options: readonly TcpOption[] | 'any';
  ports?: { src: number; dst: number } | undefined;
  icmp?: IcmpSpec | undefined;
}

/** `S. 0:0(0) ack 1 win 65535 <mss 1460>` */
export function formatSegment(s: RelativeSegment): string {
  const parts: string[] = [];
  if (s.ports !== undefined) parts.push(`${s.ports.src}>${s.ports.dst}`);
  if (s.icmp !== undefined) return [...parts, formatIcmp(s.icmp)].join(' ');
  parts.push(s.flags === 0 ? '-' : formatFlags(s.flags));
  parts.push(`${s.seq}:${(s.seq + s.payloadLength) % 2 ** 32}(${s.payloadLength})`);
  if (s.ack !== undefined) parts.push(`ack ${s.ack}`);
  if (s.window !== undefined) parts.push(`win ${s.window}`);
  if (s.urgentPointer !== undefined) parts.push(`urg ${s.urgentPointer}`);
  if (s.options === 'any') parts.push('<...>');
  else if (s.options.length > 0) parts.push(formatOptions(s.options));
  return parts.join(' ');
}

/** An expected packet as the script wrote it (normalised spacing, flags in canonical order kept as written). */
export function formatExpected(e: PacketEvent): string {
  return `${e.direction === 'inbound' ? '<' : '>'} ${formatSegment({ ...e, ports: e.ports })}`;
}

/** Seconds with up to 6 decimals, at least 3: 0.300, 1.000250. */
export function formatSeconds(us: number): string {
  const sign = us < 0 ? '-' : '';
  const abs = Math.abs(us);
  const whole = Math.floor(abs / 1_000_000);
  let frac = String(abs % 1_000_000).padStart(6, '0');
  while (frac.length > 3 && frac.endsWith('0')) frac = frac.slice(0, -1);
  return `${sign}${whole}.${frac}`;
}
