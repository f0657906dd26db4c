// Remote ports of passive connections (each its own, as packetdrill's), and the trace the
// runner gives of what the target did at each line (what `--target both` compares).
import { describe, expect, it } from 'vitest';
import { runScriptText } from '../../src/conformance/runner.js';

const FIRST = `
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
  +.1 < S 0:0(0) win 65535 <mss 1000>
   +0 > 8080>44444 S. 0:0(0) ack 1 win 65535 <mss 1460>
  +.1 < S 0:0(0) win 65535 <mss 1000>
   +0 > 8080>44444 S. 0:0(0) ack 1 win 65535 <mss 1460>
  +.1 < . 1:1(0) ack 1 win 65535
   +0 accept(3, ..., ...) = 4
   +0 close(3) = 0
`;

describe('remote ports of passive connections', () => {
  it('a retransmitted SYN stays on its connection; the first SYN after the next listen() comes from a new port', () => {
    const r = runScriptText(
      FIRST +
        `
   +0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 5
   +0 setsockopt(5, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(5, ..., ...) = 0
   +0 listen(5, 1) = 0
  +.1 < S 0:0(0) win 65535 <mss 1000>
   +0 > 8080>44445 S. 0:0(0) ack 1 win 65535 <mss 1460>
  +.1 < . 1:1(0) ack 1 win 65535
   +0 accept(5, ..., ...) = 3
   +0 write(4, ..., 10) = 10
   +0 > 8080>44444 P. 1:11(10) ack 1
`,
    );
    expect(r.failure?.message).toBeUndefined();
    expect(r.ok).toBe(true);
  });

  it('ports written on a line are used as written', () => {
    const r = runScriptText(`${FIRST}  +.1 < 40001>8080 S 0:0(0) win 65535 <mss 1000>\n   +0 > 8080>40001 R. 0:0(0) ack 1 win 0\n`);
    expect(r.failure?.message).toBeUndefined();
  });
});

describe('trace', () => {
  it('gives each reached line what the target did, the failing one included', () => {
    const lines = new Map<number, string>();
    const r = runScriptText(`${FIRST}   +0 write(4, ..., 10) = 10\n   +0 > P. 1:11(10) ack 1 win 1\n`, { trace: (line, actual) => lines.set(line, actual) });
    expect(r.ok).toBe(false);
    expect(lines.get(2)).toBe('returned = 3');
    expect(lines.get(6)).toBe('sent S. 0:0(0) ack 1 win 65535 <mss 1460>');
    expect(lines.get(r.failure!.line)).toBe('sent P. 1:11(10) ack 1 win 65535');
  });
});
