// Inbound ICMP lines (`< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]`): what the
// parser accepts, the errors it gives, and the packet the runner builds from a line.
import { describe, expect, it } from 'vitest';
import { buildIcmpInbound } from '../../src/conformance/icmp-line.js';
import { parseScript, ParseError } from '../../src/conformance/parser.js';
import { runScriptText } from '../../src/conformance/runner.js';
import type { PacketEvent } from '../../src/conformance/script.js';
import { acceptedPrelude } from './prelude.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { parseIcmpTcpError } from '../../src/wire/icmp.js';
import { parseIpv4 } from '../../src/wire/ipv4.js';

function line(text: string): PacketEvent {
  const e = parseScript(`0 ${text}\n`).events[0]!;
  expect(e.type).toBe('packet');
  return e as PacketEvent;
}

function error(text: string): string {
  try {
    parseScript(`0 ${text}\n`);
  } catch (e) {
    if (e instanceof ParseError) return e.message;
    throw e;
  }
  throw new Error(`parsed: ${text}`);
}

describe('ICMP lines', () => {
  it('reads type, code, MTU and the quoted segment', () => {
    expect(line('< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]').icmp).toEqual({ type: 3, code: 4, name: 'unreachable frag_needed', mtu: 1200, quoted: { seq: 1, payloadLength: 1460 } });
    expect(line('< icmp unreachable [5000:6000(1000)]').icmp).toEqual({ type: 3, code: 0, name: 'unreachable', mtu: undefined, quoted: { seq: 5000, payloadLength: 1000 } });
    expect(line('< icmp unreachable precedence_cutoff').icmp?.code).toBe(15);
    expect(line('< icmp time_exceeded code_1 [0:10(10)]').icmp).toMatchObject({ type: 11, code: 1 });
    expect(line('< icmp type_3 code_13').icmp).toMatchObject({ type: 3, code: 13 });
  });

  it('rejects what cannot be built, naming it', () => {
    expect(error('> icmp unreachable port_unreachable')).toMatch(/outbound icmp line/);
    expect(error('< icmp echo_request')).toMatch(/no error about a TCP segment/);
    expect(error('< icmp unreachable port_unreachable mtu 1200')).toMatch(/only with unreachable frag_needed/);
    expect(error('< icmp unreachable no_such_code')).toMatch(/unknown code 'no_such_code'/);
    expect(error('< icmp nonsense')).toMatch(/unknown ICMP type 'nonsense'/);
    expect(error('< icmp unreachable [udp(10)]')).toMatch(/quoted UDP or raw/);
    expect(error('< icmp unreachable frag_needed mtu 1200 [1:100(1460)]')).toMatch(/inconsistent sequence numbers/);
    expect(error('< icmp unreachable frag_needed mtu 70000')).toMatch(/ICMP MTU must be from 0 to 65535/);
  });

  it('the packet quotes the target-side 4-tuple and numbers the quoted sequence from the target ISN', () => {
    const local = parseIpv4Addr('192.168.0.1');
    const remote = parseIpv4Addr('192.0.2.1');
    const bytes = buildIcmpInbound(line('< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]').icmp!, { local, remote }, { src: 44444, dst: 8080 }, 1000, 5);
    const ip = parseIpv4(bytes);
    expect(ip.ok && [ip.header.src, ip.header.dst, ip.header.protocol]).toEqual([remote, local, 1]);
    const m = ip.ok ? parseIcmpTcpError(ip.payload) : undefined;
    expect(m).toEqual({ ok: true, message: { type: 3, code: 4, nextHopMtu: 1200, quotedTotalLength: 1500, src: local, dst: remote, srcPort: 8080, dstPort: 44444, seq: 1001 } });
  });

  it('a run names an unmet expectation after the ICMP: the line and what the stack did', () => {
    // --strict_segments: otherwise the two smaller segments would pass as one TSO aggregate.
    const r = runScriptText(`--strict_segments
${acceptedPrelude(1460)}+0 write(4, ..., 1460) = 1460
+0 > P. 1:1461(1460) ack 1
+.01 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]
+0 > P. 1:1461(1460) ack 1
`);
    expect(r.failure?.line).toBe(13);
    expect(r.failure?.message).toContain('1:1161(1160)');
  });
});
