/**
 * Inbound ICMP lines of the packetdrill dialect, for both targets:
 *
 *   +0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]
 *   +0 < icmp unreachable port_unreachable
 *   +0 < icmp time_exceeded [0:10(10)]
 *
 * `icmp TYPE [CODE] [mtu N] ['[' start:end(len) ']']`: the type and code by name (RFC 792's
 * destination unreachable codes as packetdrill names them, or `type_N` / `code_N`), a
 * missing code being 0; `mtu` only with `unreachable frag_needed` (RFC 1191 §4). The
 * bracket is the segment the error quotes, its sequence number in the target's sequence
 * space (relative to the target's ISN, as the target's own segments are written) and its
 * payload length, which gives the quoted datagram's total length; without it the quoted
 * segment is numbered 0 with no payload. The quoted addresses and ports are the line's
 * connection as the target sent on it. What the runners cannot build (outbound ICMP,
 * echo messages, quoted UDP or raw payloads) is a parse error naming the line.
 */
import type { Ipv4Addr } from '../wire/addr.js';
import { buildIcmpTcpError, ICMP_CODE_FRAG_NEEDED, ICMP_DEST_UNREACHABLE } from '../wire/icmp.js';
import type { Scanner } from './scanner.js';

/** An inbound ICMP error as a script wrote it. */
export interface IcmpSpec {
  type: number;
  code: number;
  /** `unreachable frag_needed`, as written. */
  name: string;
  mtu: number | undefined;
  /** The quoted segment (`[1:1461(1460)]`), relative to the target's ISN. */
  quoted: { seq: number; payloadLength: number } | undefined;
}

/** The error types a TCP acts on (RFC 792; RFC 1122 4.2.3.9), by packetdrill's names. */
const TYPES: Readonly<Record<string, number>> = {
  unreachable: ICMP_DEST_UNREACHABLE,
  source_quench: 4,
  time_exceeded: 11,
  parameter_problem: 12,
};

/** Destination-unreachable codes (RFC 792, RFC 1122 3.2.2.1, RFC 1812 5.2.7.1) by packetdrill's names. */
const UNREACHABLE_CODES: readonly string[] = [
  'net_unreachable',
  'host_unreachable',
  'protocol_unreachable',
  'port_unreachable',
  'frag_needed',
  'source_route_failed',
  'net_unknown',
  'host_unknown',
  'source_host_isolated',
  'net_prohibited',
  'host_prohibited',
  'net_unreachable_for_tos',
  'host_unreachable_for_tos',
  'packet_filtered',
  'precedence_violation',
  'precedence_cutoff',
];

const NOT_ERRORS = ['echo_reply', 'echo_request', 'redirect', 'timestamp_request', 'timestamp_reply', 'information_request', 'information_reply', 'address_mask_request', 'address_mask_reply'];

/** Whether the scanner stands at the word `icmp` (after the direction and ports). */
export function atIcmp(s: Scanner): boolean {
  return s.startsWith('icmp') && !/\w/.test(s.peek(4));
}

/** Parse `icmp TYPE [CODE] [mtu N] [[seq]]` up to the end of the line. */
export function parseIcmpSpec(s: Scanner, direction: 'inbound' | 'outbound'): IcmpSpec {
  const start = s.here();
  s.expect('icmp');
  if (direction === 'outbound') s.fail('an outbound icmp line: ftcp never sends ICMP, and the runners match only TCP from the target', start);
  s.skipSpace(false);
  const typePos = s.here();
  const typeName = s.readWord('an ICMP type (unreachable, time_exceeded, parameter_problem, source_quench)');
  const numbered = /^type_(\d+)$/.exec(typeName);
  const type = numbered !== null ? Number(numbered[1]) : TYPES[typeName];
  if (NOT_ERRORS.includes(typeName)) s.fail(`ICMP ${typeName} is no error about a TCP segment: the runners inject unreachable, time_exceeded, parameter_problem and source_quench`, typePos);
  if (type === undefined || type > 255) s.fail(`unknown ICMP type '${typeName}' (unreachable, time_exceeded, parameter_problem, source_quench or type_N)`, typePos);
  s.skipSpace(false);
  let code = 0;
  let name = typeName;
  if (s.isWordStart() && !(s.startsWith('mtu') && !/\w/.test(s.peek(3))) && !(s.startsWith('id') && !/\w/.test(s.peek(2)))) {
    const codePos = s.here();
    const codeName = s.readWord();
    const n = /^code_(\d+)$/.exec(codeName);
    const known = type === ICMP_DEST_UNREACHABLE ? UNREACHABLE_CODES.indexOf(codeName) : -1;
    if (n !== null && Number(n[1]) <= 255) code = Number(n[1]);
    else if (known >= 0) code = known;
    else s.fail(`unknown code '${codeName}' for ICMP ${typeName}${type === ICMP_DEST_UNREACHABLE ? ` (${UNREACHABLE_CODES.join(', ')} or code_N)` : ' (code_N)'}`, codePos);
    name = `${typeName} ${codeName}`;
    s.skipSpace(false);
  }
  let mtu: number | undefined;
  if (s.accept('mtu')) {
    const mtuPos = s.here();
    s.skipSpace(false);
    mtu = s.readBounded('ICMP MTU', 0, 65535);
    if (type !== ICMP_DEST_UNREACHABLE || code !== ICMP_CODE_FRAG_NEEDED) s.fail('an ICMP MTU goes only with unreachable frag_needed (RFC 1191 §4)', mtuPos);
    s.skipSpace(false);
  }
  if (s.startsWith('id') && !/\w/.test(s.peek(2))) s.fail('an ICMP echo id: the runners inject no echo messages');
  let quoted: IcmpSpec['quoted'];
  if (s.accept('[')) {
    s.skipSpace(false);
    if (/^(udp|raw)$/i.test(peekWord(s))) s.fail('a quoted UDP or raw datagram: only TCP segments are quoted here');
    const seqPos = s.here();
    const seq = s.readBounded('quoted start sequence number', 0, 0xffff_ffff);
    s.expect(':', "':' in start:end(length)");
    const end = s.readBounded('quoted end sequence number', 0, 0xffff_ffff);
    s.expect('(', "'(' in start:end(length)");
    const payloadLength = s.readBounded('quoted payload length', 0, 65535 - 40);
    s.expect(')', "')' in start:end(length)");
    if ((seq + payloadLength) % 2 ** 32 !== end) s.fail(`inconsistent sequence numbers: ${seq}:${end} does not span ${payloadLength} bytes`, seqPos);
    s.skipSpace(false);
    s.expect(']', "']' after the quoted segment");
    quoted = { seq, payloadLength };
  }
  return { type, code, name, mtu, quoted };
}

function peekWord(s: Scanner): string {
  let w = '';
  for (let i = 0; /\w/.test(s.peek(i)); i++) w += s.peek(i);
  return w;
}

/** `icmp unreachable frag_needed mtu 1200 [1:1461(1460)]` */
export function formatIcmp(spec: IcmpSpec): string {
  const q = spec.quoted;
  return `icmp ${spec.name}${spec.mtu !== undefined ? ` mtu ${spec.mtu}` : ''}${q !== undefined ? ` [${q.seq}:${(q.seq + q.payloadLength) % 2 ** 32}(${q.payloadLength})]` : ''}`;
}

/**
 * The packet of an inbound ICMP line: from the script's side (`remote`) to the target
 * (`local`), quoting a segment the target sent on `ports` (script's src, target's dst),
 * numbered from the target's ISN `ourIsn`.
 */
export function buildIcmpInbound(spec: IcmpSpec, addrs: { local: Ipv4Addr; remote: Ipv4Addr }, ports: { src: number; dst: number }, ourIsn: number, ipId: number): Uint8Array {
  const q = spec.quoted ?? { seq: 0, payloadLength: 0 };
  return buildIcmpTcpError(
    { src: addrs.remote, dst: addrs.local, id: ipId & 0xffff },
    {
      type: spec.type,
      code: spec.code,
      nextHopMtu: spec.mtu ?? 0,
      quoted: { src: addrs.local, dst: addrs.remote, srcPort: ports.dst, dstPort: ports.src, seq: (ourIsn + q.seq) >>> 0, totalLength: 40 + q.payloadLength },
    },
  );
}
