// The runner against the real stack: it passes what the stack does, and it fails, at the
// right line and with the right message, whatever the stack does not do as written.
import { describe, expect, it } from 'vitest';
import { defaultStackFactory, runScriptText, type RunResult } from '../../src/conformance/runner.js';
import type { ConformanceStack } from '../../src/conformance/target.js';

const PASSIVE = `
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
  +.1 < S 0:0(0) win 65535 <mss 1000>
   +0 > S. 0:0(0) ack 1 win 65535 <mss 1460>
  +.1 < . 1:1(0) ack 1 win 65535
   +0 accept(3, ..., ...) = 4
`;
/** Lines of PASSIVE (it starts with a newline): the next line written after it is this + 1. */
const PASSIVE_LINES = PASSIVE.split('\n').length - 1;

function run(text: string): RunResult {
  return runScriptText(text);
}

function failed(text: string): NonNullable<RunResult['failure']> {
  const r = run(text);
  expect(r.ok, 'the script should fail').toBe(false);
  return r.failure!;
}

describe('passing scripts', () => {
  it('passes a handshake, data both ways and a close', () => {
    const r = run(
      PASSIVE +
        `
   +0 write(4, ..., 100) = 100
   +0 > P. 1:101(100) ack 1
  +.1 < P. 1:51(50) ack 101 win 65535
   +0 > . 101:101(0) ack 51
   +0 read(4, ..., 1000) = 50
   +0 close(4) = 0
   +0 > F. 101:101(0) ack 51
  +.1 < F. 51:51(0) ack 102 win 65535
   +0 > . 102:102(0) ack 52
`,
    );
    expect(r).toEqual({ ok: true, warnings: [] });
  });

  it('matches * and time ranges, and continues relative times from when the packet came', () => {
    const r = run(
      PASSIVE +
        `
   +0 write(4, ..., 100) = 100
   +0 > P. 1:101(100) ack 1
    * > P. 1:101(100) ack 1
   +0 < . 1:1(0) ack 101 win 65535
   +0 write(4, ..., 100) = 100
   +0 > P. 101:201(100) ack 1
+.2~+.4 > P. 101:201(100) ack 1
`,
    );
    expect(r.failure?.message).toBeUndefined();
    expect(r.ok).toBe(true);
  });

  it('numbers the peer from --remote_isn, across the 2^32 wrap', () => {
    const r = run(
      '--remote_isn=4294967200\n' +
        PASSIVE +
        `
  +.1 < P. 1:201(200) ack 1 win 65535
   +0 > . 1:1(0) ack 201
   +0 read(4, ..., 1000) = 200
`,
    );
    expect(r.failure?.message).toBeUndefined();
  });

  it('reports shell commands as warnings and still runs; an unknown option is the script\'s error at its line', () => {
    const r = run('--ip_version=ipv4\n`true`\n' + PASSIVE);
    expect(r.ok).toBe(true);
    expect(r.warnings).toEqual(['line 2: shell command not run: true (the runner has no shell and no setting of the same meaning)']);
    const bad = run('--no_such_option=1\n' + PASSIVE);
    expect(bad.ok).toBe(false);
    expect(bad.failure).toMatchObject({ line: 1, kind: 'script' });
    expect(bad.failure?.message).toMatch(/unknown option --no_such_option/);
  });

  it("an inbound ACK without 'ack N' carries the script's 0, our ISN, as packetdrill's do (an old ACK: the data is taken)", () => {
    const r = run(PASSIVE + '   +0 < . 1:101(100) win 65535\n   +0 > . 1:1(0) ack 101\n');
    expect(r.failure?.message).toBeUndefined();
  });

  it('takes one large scripted segment for the MSS-sized ones the stack sends (TSO/GSO, as the public suites assume)', () => {
    const ok = run(PASSIVE + '   +0 write(4, ..., 3000) = 3000\n   +0 > P. 1:3001(3000) ack 1\n');
    expect(ok.failure?.message).toBeUndefined();
    // Split differently than sent: two scripted segments of 1500 cannot be cut from 1000s.
    const split = run(PASSIVE + '   +0 write(4, ..., 3000) = 3000\n   +0 > . 1:1501(1500) ack 1\n');
    expect(split.failure).toMatchObject({ kind: 'mismatch', line: PASSIVE_LINES + 2 });
    // More than was sent at once is not made up from later segments of another kind.
    const tooLong = run(PASSIVE + '   +0 write(4, ..., 3000) = 3000\n   +0 > P. 1:4001(4000) ack 1\n');
    expect(tooLong.failure).toMatchObject({ kind: 'mismatch', line: PASSIVE_LINES + 2 });
    expect(tooLong.failure?.message).toMatch(/payload length differs/);
  });

  it('speaks the public suites\' dialect: script-chosen fds, a space before (len), ack without the ACK flag', () => {
    const fds = run(PASSIVE.replace(/\b3\b/g, '5').replace('accept(5, ..., ...) = 4', 'accept(5, ..., ...) = 7') + '  +.1 < P. 1:11 (10) ack 1 win 65535\n   +0 > . 1:1(0) ack 11\n   +0 read(7, ..., 10) = 10\n');
    expect(fds.failure?.message).toBeUndefined();
    // An ack number without the flag is written but ignored by the stack (RFC 9293 §3.1): the data is dropped, nothing is sent.
    const noAckFlag = run(PASSIVE + '  +.1 < P 1:11(10) ack 1 win 65535\n  +.1 read(4, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)\n'.replace('read(4', 'recv(4').replace('10) =', '10, MSG_DONTWAIT) ='));
    expect(noAckFlag.failure?.message).toBeUndefined();
  });

  it('recv flags: MSG_PEEK leaves the bytes for the next read; MSG_DONTWAIT does not block; others are an ERROR', () => {
    const peek = run(PASSIVE + '  +.1 < P. 1:11(10) ack 1 win 65535\n   +0 > . 1:1(0) ack 11\n   +0 recv(4, ..., 100, MSG_PEEK) = 10\n   +0 recv(4, ..., 100, MSG_PEEK) = 10\n   +0 read(4, ..., 100) = 10\n   +0 recv(4, ..., 100, MSG_DONTWAIT) = -1 EAGAIN (Resource temporarily unavailable)\n');
    expect(peek.failure?.message).toBeUndefined();
    const other = run(PASSIVE + '   +0 recv(4, ..., 100, MSG_WAITALL) = 0\n');
    expect(other.failure).toMatchObject({ kind: 'script', line: PASSIVE_LINES + 1 });
    expect(other.failure?.message).toMatch(/only MSG_PEEK and MSG_DONTWAIT are supported, got MSG_WAITALL/);
  });

  it('is deterministic: the same script gives the same packets every run', () => {
    const script = PASSIVE + '   +0 write(4, ..., 3000) = 3000\n   +0 > . 1:1001(1000) ack 1\n   +0 > . 1001:2001(1000) ack 1\n   +0 > P. 2001:3001(1000) ack 1\n';
    const capture = (): string[] => {
      const sent: string[] = [];
      const r = runScriptText(script, {
        createStack: (config) => {
          const stack = defaultStackFactory(config);
          return new Proxy(stack, {
            get(target, prop, receiver) {
              if (prop === 'pollTransmit') {
                return () => {
                  const p = target.pollTransmit();
                  if (p !== undefined) sent.push(Buffer.from(p).toString('hex'));
                  return p;
                };
              }
              const v = Reflect.get(target, prop, receiver) as unknown;
              return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
            },
          });
        },
      });
      expect(r.ok).toBe(true);
      return sent;
    };
    const a = capture();
    expect(a.length).toBe(4);
    expect(capture()).toEqual(a);
  });
});

describe('failing scripts', () => {
  it('reports different options with the line, what was expected and what came', () => {
    const f = failed(PASSIVE.replace('<mss 1460>', '<mss 1460,nop,nop,sackOK>'));
    expect(f.line).toBe(6);
    expect(f.kind).toBe('mismatch');
    expect(f.expected).toBe('> S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>');
    expect(f.actual).toBe('> S. 0:0(0) ack 1 win 65535 <mss 1460> (ports 8080>44444, at 0.100 s) [options differ]');
    expect(f.message).toBe(`script line 6: expected: ${f.expected}  actual: ${f.actual}`);
  });

  it('fails on a wrong flag, sequence number, ack number or window, naming the field', () => {
    const at = (replacement: string): string => failed(PASSIVE.replace('> S. 0:0(0) ack 1 win 65535', replacement)).actual;
    expect(at('> S 0:0(0) win 65535')).toMatch(/\[flags differ\]$/);
    expect(at('> S. 1:1(0) ack 1 win 65535')).toMatch(/\[sequence number differs\]$/);
    expect(at('> S. 0:0(0) ack 2 win 65535')).toMatch(/\[ack number differs\]$/);
    expect(at('> S. 0:0(0) ack 1 win 1000')).toMatch(/\[window differs\]$/);
    expect(at('> 8080>44445 S. 0:0(0) ack 1 win 65535')).toMatch(/\[ports differ\]$/);
  });

  it('fails when an expected packet never comes', () => {
    const f = failed(PASSIVE + '   +0 > . 1:1(0) ack 1\n');
    expect(f.line).toBe(PASSIVE_LINES + 1);
    expect(f.expected).toBe('> . 1:1(0) ack 1 at 0.200 s');
    expect(f.actual).toBe('nothing sent by 0.204 s');
  });

  it('fails on a packet the script does not expect, before the next event or at the end', () => {
    const before = failed(PASSIVE + '   +0 write(4, ..., 100) = 100\n   +1 close(4) = 0\n');
    expect(before.line).toBe(PASSIVE_LINES + 2);
    expect(before.expected).toBe('no packet from the stack before this event');
    expect(before.actual).toMatch(/^> P\. 1:101\(100\) ack 1 win 65535 \(ports 8080>44444, at 0\.200 s\)$/);
    const atEnd = failed(PASSIVE + '   +0 write(4, ..., 100) = 100\n');
    expect(atEnd.line).toBe(PASSIVE_LINES + 1);
    expect(atEnd.expected).toBe('no more packets after the last event');
  });

  it("with tail 'ignore' (packetdrill's rule) leaves packets after the last > line unchecked, with a warning, and still checks those before it", () => {
    const tail = (text: string) => runScriptText(text, { tail: 'ignore' });
    const after = tail(PASSIVE + '   +0 write(4, ..., 100) = 100\n   +1 close(4) = 0\n');
    expect(after.ok).toBe(true);
    expect(after.warnings.at(-1)).toMatch(/^\d+ packets sent after the last outbound line \(\d+\) not checked \(packetdrill's rule, --tail ignore\); the first: > P\. 1:101\(100\) ack 1 /);
    const none = tail('0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n+.1 < S 0:0(0) win 65535 <mss 1000>\n');
    expect(none.ok).toBe(true);
    expect(none.warnings.at(-1)).toMatch(/^\d+ packets? sent when the script has no outbound line not checked .*> S\. 0:0\(0\) ack 1/);
    const before = runScriptText(PASSIVE + '   +0 write(4, ..., 100) = 100\n   +1 close(4) = 0\n   +0 > F. 101:101(0) ack 1\n', { tail: 'ignore' });
    expect(before.ok).toBe(false);
    expect(before.failure!.expected).toBe('no packet from the stack before this event');
  });

  it('fails a packet outside the tolerance, and --tolerance_usecs widens it', () => {
    const late = PASSIVE + '   +0 write(4, ..., 100) = 100\n +.01 > P. 1:101(100) ack 1\n';
    const f = failed(late);
    expect(f.line).toBe(PASSIVE_LINES + 2);
    expect(f.expected).toBe('> P. 1:101(100) ack 1 at 0.210 s (tolerance 0.004 s)');
    expect(f.actual).toBe('sent at 0.200 s');
    expect(run('--tolerance_usecs=10000\n' + late).ok).toBe(true);
  });

  it('fails a packet outside its time range, and an any-time packet that never comes', () => {
    const f = failed(PASSIVE + '   +0 write(4, ..., 100) = 100\n+.1~+.2 > P. 1:101(100) ack 1\n');
    expect(f.expected).toBe('> P. 1:101(100) ack 1 between 0.300 and 0.400 s (tolerance 0.004 s)');
    expect(f.actual).toBe('sent at 0.200 s');
    const g = failed(PASSIVE + '    * > . 1:1(0) ack 1\n');
    expect(g.expected).toBe('> . 1:1(0) ack 1 at any time');
    expect(g.actual).toBe('nothing sent by 0.200 s');
  });

  it('fails a socket call that returns something else', () => {
    // The script chooses the descriptor number; a taken one cannot be returned twice.
    const f = failed(PASSIVE.replace('accept(3, ..., ...) = 4', 'accept(3, ..., ...) = 3'));
    expect(f.line).toBe(PASSIVE_LINES);
    expect(f.expected).toBe('accept(3, ..., ...) = 3');
    expect(f.actual).toBe('accept returned 4');
    const g = failed(PASSIVE + '   +0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n   +0 read(4, ..., 10) = 10\n');
    expect(g.line).toBe(PASSIVE_LINES + 2);
    expect(g.actual).toBe('read returned -1 EAGAIN (Resource temporarily unavailable)');
    const h = failed(PASSIVE + '   +0 getsockopt(4, IPPROTO_TCP, TCP_MAXSEG, [1460], [4]) = 0\n');
    expect(h.expected).toBe('getsockopt(4, IPPROTO_TCP, TCP_MAXSEG, [1460], [4]) = 0 with TCP_MAXSEG = 1460');
    expect(h.actual).toBe('TCP_MAXSEG = 1000');
  });

  it('fails a blocking call that returns too early, too late, or never', () => {
    const never = failed(PASSIVE + '   +0...0.5 read(4, ..., 10) = 10\n');
    expect(never.line).toBe(PASSIVE_LINES + 1);
    expect(never.expected).toBe('read(4, ..., 10) = 10 returning at 0.700 s');
    expect(never.actual).toBe('still blocked at 0.704001 s');
    const early = failed(PASSIVE + '   +0...0.5 read(4, ..., 10) = 10\n  +.1 < P. 1:11(10) ack 1 win 65535\n');
    expect(early.line).toBe(PASSIVE_LINES + 1);
    expect(early.actual).toBe('returned at 0.300 s');
    const blocks = failed(PASSIVE + '   +0 read(4, ..., 10) = 10\n  +.1 < P. 1:11(10) ack 1 win 65535\n');
    expect(blocks.expected).toBe('read(4, ..., 10) = 10 returning at 0.200 s');
    const notBlocking = failed(PASSIVE + '  +.1 < P. 1:11(10) ack 1 win 65535\n   +0...0.1 read(4, ..., 10) = 10\n');
    expect(notBlocking.actual).toBe('returned at once, at 0.300 s');
  });

  it('reports parse errors with line and column', () => {
    const f = failed(PASSIVE + '   +0 > S. 0:0(0) ack 1 wim 5\n');
    expect(f.kind).toBe('parse');
    expect(f.line).toBe(PASSIVE_LINES + 1);
    expect(f.message).toBe(`script line ${PASSIVE_LINES + 1}, column 25: expected win N, urg N, <options> or end of line, found 'wim'`);
  });

  it('reports bad option values and configurations the stack refuses at their line', () => {
    const f = failed('// x\n--mtu=lots\n' + PASSIVE);
    expect([f.kind, f.line, f.expected]).toEqual(['script', 2, '--mtu must be an integer from 0 to 2147483647, got lots']);
    const g = failed('--mtu=20\n' + PASSIVE);
    expect(g.kind).toBe('script');
    expect(g.expected).toMatch(/^the stack refused its configuration: EINVAL: config\.mtu/);
  });

  it('reports what the runner cannot do as a script error', () => {
    const f = failed('0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n');
    expect([f.kind, f.line, f.expected]).toEqual(['script', 1, 'only SOCK_STREAM sockets are supported, got SOCK_DGRAM']);
  });
});

describe('timed code blocks', () => {
  it('a skipped block still moves the clock: later relative times start from its time', () => {
    const injected: number[] = [];
    const r = runScriptText(PASSIVE + '  +.3 %{ assert tcpi_rto >= 200000 }%\n  +.1 < P. 1:11(10) ack 1 win 65535\n   +0 > . 1:1(0) ack 11\n', {
      onPacket: (dir, t) => {
        if (dir === '<') injected.push(t);
      },
    });
    expect(r.ok).toBe(true);
    expect(r.warnings).toEqual([`line ${PASSIVE_LINES + 1}: code block skipped (the runner has no interpreter: its assertions are NOT checked)`]);
    // SYN at 0.1, ACK at 0.2, the block at 0.5, the data 0.1 after it.
    expect(injected).toEqual([100_000, 200_000, 600_000]);
  });

  it('a packet the stack sent before a skipped block that no line expects is still a failure', () => {
    const f = failed(PASSIVE + '   +0 write(4, ..., 10) = 10\n  +.1 %{ pass }%\n');
    expect([f.line, f.expected]).toEqual([PASSIVE_LINES + 2, 'no packet from the stack before this event']);
  });
});

describe('packetdrill options on segments and timestamps', () => {
  const TS_HANDSHAKE = `
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
  +.1 < S 0:0(0) win 65535 <mss 1000,TS val 10 ecr 0>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,TS val 500 ecr 10>
  +.1 < . 1:1(0) ack 1 win 65535 <nop,nop,TS val 110 ecr 500>
   +0 accept(3, ..., ...) = 4
  +.2 write(4, ..., 10) = 10
`;
  it('--tcp_ts_tick_usecs checks outbound TS val from the first one, within the tolerance', () => {
    // 0.3 s after the SYN-ACK at 1 ms a tick: 300 ticks on; 4 ticks off is within 4 ms, 5 is not.
    expect(run('--tcp_ts_tick_usecs=1000' + TS_HANDSHAKE + '   +0 > P. 1:11(10) ack 1 <nop,nop,TS val 804 ecr 110>\n').ok).toBe(true);
    const f = failed('--tcp_ts_tick_usecs=1000' + TS_HANDSHAKE + '   +0 > P. 1:11(10) ack 1 <nop,nop,TS val 805 ecr 110>\n');
    expect([f.line, f.actual.replace(/^.*\[/, '[')]).toEqual([10, '[TS val 800 in script terms, 5 ticks of 1000 us from 805]']);
    // Without the option TS val is not checked.
    expect(run(TS_HANDSHAKE + '   +0 > P. 1:11(10) ack 1 <nop,nop,TS val 9999 ecr 110>\n').ok).toBe(true);
  });

  it('--strict_segments matches each scripted segment to one sent segment (no TSO aggregation)', () => {
    const body = '   +0 write(4, ..., 2000) = 2000\n   +0 > P. 1:2001(2000) ack 1\n';
    expect(run(PASSIVE + body).ok).toBe(true);
    const f = failed('--strict_segments' + PASSIVE + body);
    expect([f.line, f.actual]).toEqual([PASSIVE_LINES + 2, expect.stringMatching(/^> \. 1:1001\(1000\) .*\[flags differ\]$/)]);
    expect(failed('--strict_segments=1' + PASSIVE).expected).toBe('--strict_segments takes no value, got 1');
  });
});

describe('sendmsg, ioctl and the socket-level options', () => {
  it('fails an ioctl or getsockopt whose value differs, naming both', () => {
    const f = failed(PASSIVE + '   +0 ioctl(4, SIOCINQ, [10]) = 0\n');
    expect([f.line, f.expected, f.actual]).toEqual([PASSIVE_LINES + 1, 'ioctl(4, SIOCINQ, [10]) = 0 with SIOCINQ = 10', 'SIOCINQ = 0']);
    const g = failed(PASSIVE + '   +0 setsockopt(4, SOL_TCP, TCP_USER_TIMEOUT, [100], 4) = 0\n   +0 getsockopt(4, SOL_TCP, TCP_USER_TIMEOUT, [200], [4]) = 0\n');
    expect([g.line, g.actual]).toEqual([PASSIVE_LINES + 2, 'TCP_USER_TIMEOUT = 100']);
  });

  it('a sendmsg flag it cannot honour is a script error at its line, never ignored', () => {
    const f = failed(PASSIVE + '   +0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 10}], msg_flags=0}, MSG_OOB) = 10\n');
    expect([f.kind, f.line, f.expected]).toEqual(['script', PASSIVE_LINES + 1, 'sendmsg flags: only MSG_DONTWAIT, MSG_MORE, MSG_EOR and MSG_NOSIGNAL are supported, got MSG_OOB']);
  });

  it('a held corked write does not go out before the persist timer', () => {
    const f = failed(PASSIVE + '   +0 setsockopt(4, IPPROTO_TCP, TCP_CORK, [1], 4) = 0\n   +0 write(4, ..., 10) = 10\n   +0 > P. 1:11(10) ack 1\n');
    expect(f.actual).toMatch(/^nothing sent by/);
  });
});

describe('a stack that misbehaves', () => {
  function wrapped(override: Partial<ConformanceStack>): (text: string) => RunResult {
    return (text) =>
      runScriptText(text, {
        createStack: (config) => {
          const stack = defaultStackFactory(config);
          return new Proxy(stack, {
            get(target, prop, receiver) {
              if (Object.hasOwn(override, prop)) return override[prop as keyof ConformanceStack];
              const v = Reflect.get(target, prop, receiver) as unknown;
              return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
            },
          });
        },
      });
  }

  it('turns an exception into a crash failure at the current line', () => {
    const r = wrapped({
      handlePacket: () => {
        throw new TypeError('boom');
      },
    })(PASSIVE);
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ kind: 'crash', line: 5, expected: 'the stack to handle an inbound packet', actual: 'it threw TypeError: boom' });
  });

  it('stops a timer that never advances', () => {
    const r = wrapped({ pollTimeout: () => 50_000, handleTimeout: () => undefined })(PASSIVE);
    expect(r.failure).toMatchObject({ kind: 'crash', line: 5, actual: 'pollTimeout() stays at 0.050 s after handleTimeout()' });
  });

  it('fails on a malformed packet from the stack', () => {
    const r = wrapped({ pollTransmit: (() => {
      let sent = false;
      return () => {
        if (sent) return undefined;
        sent = true;
        return new Uint8Array([0x45, 0, 0, 10]);
      };
    })() })(PASSIVE);
    expect(r.failure).toMatchObject({ kind: 'mismatch', line: 2, expected: 'a well-formed IPv4/TCP packet' });
  });
});

describe('what the runner cannot produce is an ERROR at its line', () => {
  it('refuses control messages other than TCP_CM_INQ, and error-queue reads asking for packet bytes', () => {
    const empty = run(PASSIVE + '   +0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 0}], msg_flags=0}, MSG_ERRQUEUE) = -1 EAGAIN\n');
    expect(empty.failure?.message).toBeUndefined();
    const errq = run(PASSIVE + '   +0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 100}], msg_flags=0}, MSG_ERRQUEUE) = 0\n');
    expect([errq.failure?.kind, errq.failure?.line]).toEqual(['script', PASSIVE_LINES + 1]);
    expect(errq.failure?.expected).toMatch(/carries no packet bytes/);
    const cmsg = run(PASSIVE + '   +0 recvmsg(4, {msg_iov(1)=[{..., 10}], msg_control=[{cmsg_level=SOL_SOCKET, cmsg_type=SCM_TIMESTAMPING, cmsg_data=0}]}, MSG_DONTWAIT) = -1 EAGAIN\n');
    expect([cmsg.failure?.kind, cmsg.failure?.line]).toEqual(['script', PASSIVE_LINES + 1]);
  });

  it('a TCP_CM_INQ the socket did not ask for (TCP_INQ off) fails', () => {
    const r = run(PASSIVE + '  +.1 < P. 1:11(10) ack 1 win 65535\n   +0 > . 1:1(0) ack 11\n   +0 recvmsg(4, {msg_iov(1)=[{..., 10}], msg_flags=0, msg_control=[{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ, cmsg_data=0}]}, 0) = 10\n');
    expect([r.failure?.kind, r.failure?.actual]).toEqual(['mismatch', 'none (TCP_INQ is off)']);
  });

  it('NULL buffers fault (EFAULT) and sendto/recvfrom act as send/recv on a connected socket', () => {
    const r = run(
      PASSIVE +
        `   +0 write(4, NULL, 100) = -1 EFAULT (Bad address)
   +0 sendto(4, ..., 100, 0, ..., ...) = 100
   +0 > P. 1:101(100) ack 1
  +.1 < P. 1:11(10) ack 101 win 65535
   +0 > . 101:101(0) ack 11
   +0 recvfrom(4, NULL, 10, 0, ..., ...) = -1 EFAULT (Bad address)
   +0 recvfrom(4, ..., 10, 0, ..., ...) = 10
`,
    );
    expect(r.failure?.message).toBeUndefined();
    expect(r.ok).toBe(true);
  });
});
