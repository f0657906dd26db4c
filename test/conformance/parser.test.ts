// The packetdrill-dialect parser: what it accepts (times, packets, options, socket calls),
// and the errors it gives (line, column, what was expected, what was found).
import { describe, expect, it } from 'vitest';
import { parseScript, ParseError } from '../../src/conformance/parser.js';
import type { PacketEvent, SyscallEvent } from '../../src/conformance/script.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/wire/tcp.js';

function packet(text: string): PacketEvent {
  const s = parseScript(text);
  expect(s.events).toHaveLength(1);
  expect(s.events[0]!.type).toBe('packet');
  return s.events[0] as PacketEvent;
}

function syscall(text: string): SyscallEvent {
  const s = parseScript(text);
  expect(s.events).toHaveLength(1);
  expect(s.events[0]!.type).toBe('syscall');
  return s.events[0] as SyscallEvent;
}

/** The ParseError a script produces (fails the test if it parses). */
function parseError(text: string): ParseError {
  try {
    parseScript(text);
  } catch (error) {
    if (error instanceof ParseError) return error;
    throw error;
  }
  throw new Error(`expected a parse error for:\n${text}`);
}

describe('times', () => {
  it('reads absolute, relative, any and ranges, in microseconds', () => {
    const s = parseScript(
      ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3', '+.1 close(3) = 0', '1.5 close(3) = 0', '* > . 1:1(0) ack 1', '0.1~0.25 > . 1:1(0)', '+0.1~+0.2 > . 1:1(0)', '+0.000001 close(3) = 0'].join('\n'),
    );
    expect(s.events.map((e) => e.time)).toEqual([
      { kind: 'absolute', us: 0 },
      { kind: 'relative', us: 100_000 },
      { kind: 'absolute', us: 1_500_000 },
      { kind: 'any' },
      { kind: 'absolute-range', us: 100_000, endUs: 250_000 },
      { kind: 'relative-range', us: 100_000, endUs: 200_000 },
      { kind: 'relative', us: 1 },
    ]);
  });

  it('reads the end time of a blocking call after ...', () => {
    const rel = syscall('+.1...0.200 connect(3, ..., ...) = 0');
    expect(rel.time).toEqual({ kind: 'relative', us: 100_000 });
    expect(rel.end).toEqual({ kind: 'relative', us: 200_000 });
    const abs = syscall('0.1...0.3 read(4, ..., 10) = 10');
    expect(abs.end).toEqual({ kind: 'absolute', us: 300_000 });
    expect(syscall('0 close(3) = 0').end).toBeUndefined();
  });

  it('rejects a backwards range, a sub-microsecond time, and * on anything but an outbound packet', () => {
    expect(parseError('0.2~0.1 > . 1:1(0)').detail).toMatch(/backwards/);
    expect(parseError('0.0000001 close(3) = 0').detail).toMatch(/finer than 1 microsecond/);
    const star = parseError('\n* < . 1:1(0) ack 1');
    expect(star.line).toBe(2);
    expect(star.detail).toMatch(/outbound packets only/);
    expect(parseError('* close(3) = 0').detail).toMatch(/socket calls need a definite time/);
    expect(parseError('0 > . 1:1(0)...0.1').detail).toMatch(/expected/);
    expect(parseError('+.1...0.2 > . 1:1(0)').detail).toMatch(/only blocking socket calls/);
  });
});

describe('packets', () => {
  it('reads flags, sequence numbers, ack, window and options', () => {
    const p = packet('+0 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK,nop,wscale 8>');
    expect(p.direction).toBe('outbound');
    expect(p.flags).toBe(TCP_SYN | TCP_ACK);
    expect(p.flagsText).toBe('S.');
    expect([p.seq, p.payloadLength, p.ack, p.window]).toEqual([0, 0, 1, 65535]);
    expect(p.options).toEqual([{ kind: 'mss', mss: 1460 }, { kind: 'nop' }, { kind: 'nop' }, { kind: 'sackOk' }, { kind: 'nop' }, { kind: 'wscale', shift: 8 }]);
    expect(p.text).toBe('> S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK,nop,wscale 8>');
  });

  it('reads every flag letter, and - for none', () => {
    expect(packet('0 < FP. 1:101(100) ack 1').flags).toBe(TCP_FIN | TCP_PSH | TCP_ACK);
    expect(packet('0 < R 1:1(0)').flags).toBe(TCP_RST);
    expect(packet('0 < - 1:1(0)').flags).toBe(0);
    expect(packet('0 < SEW 0:0(0)').flags).toBe(TCP_SYN | 0x40 | 0x80);
  });

  it('reads TS, SACK and eol options, <...>, urg and explicit ports', () => {
    const p = packet('0 < 40001>8080 . 1:1(0) ack 1 win 257 urg 3 <nop,nop,TS val 100 ecr 7,sack 1:101 201:301,eol>');
    expect(p.ports).toEqual({ src: 40001, dst: 8080 });
    expect(p.urgentPointer).toBe(3);
    expect(p.options).toEqual([
      { kind: 'nop' },
      { kind: 'nop' },
      { kind: 'ts', val: 100, ecr: 7 },
      { kind: 'sack', blocks: [{ left: 1, right: 101 }, { left: 201, right: 301 }] },
      { kind: 'eol' },
    ]);
    expect(packet('0 > . 1:1(0) ack 1 <...>').options).toBe('any');
    expect(packet('0 > . 1:1(0) ack 1').options).toEqual([]);
  });

  it('ignores comments after the packet and keeps them out of its text', () => {
    const p = packet('0 > . 1:1(0) ack 1   // the ACK\n');
    expect(p.text).toBe('> . 1:1(0) ack 1');
    expect(packet('0 > . 1:1(0) /* inline */ ack 1').ack).toBe(1);
  });

  it('accepts sequence numbers that wrap past 2^32', () => {
    const p = packet('0 < . 4294967295:99(100) ack 1');
    expect([p.seq, p.payloadLength]).toEqual([4294967295, 100]);
  });

  it('names the line and column and says what was expected', () => {
    const bad = parseError('0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n  +0 < S 0:0(0) wim 100');
    expect(bad.line).toBe(2);
    expect(bad.column).toBe(17);
    expect(bad.message).toBe("line 2, column 17: expected ack N, win N, urg N, <options> or end of line, found 'wim'");
    const flags = parseError('0 > SX 0:0(0)');
    expect([flags.line, flags.column]).toEqual([1, 5]);
    expect(flags.detail).toBe("unknown TCP flag 'X' in 'SX' (flags are F S R P U E W, and '.' for ACK)");
    expect(parseError('0 > S. 0:5(0)').detail).toBe('inconsistent sequence numbers: 0:5 does not span 0 bytes');
    expect(parseError('0 > S. 0:0').detail).toBe("expected '(' in start:end(length), found end of file");
    expect(parseError('0 > S. 0:0(0) <mss 1460,bogus 3>').detail).toMatch(/^unknown TCP option 'bogus' \(expected mss N/);
    expect(parseError('0 > S. 0:0(0) <mss 1460 nop>').detail).toBe("expected ',' or '>' in the option list, found 'nop'");
    expect(parseError('0 > S. 0:0(0) win 70000').detail).toBe('window must be from 0 to 65535, got 70000');
    expect(parseError('0 < S 0:0(0) <...>').detail).toMatch(/outbound packets only/);
    expect(parseError('0 > . 1:1(0) ack 1 <mss 1> win 5').detail).toBe("expected end of line after the options, found 'win'");
    expect(parseError('0 > (tos 0x1) . 1:1(0)').detail).toMatch(/not supported/);
  });
});

describe('socket calls', () => {
  it('reads arguments, return values and errno', () => {
    const c = syscall('+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)');
    expect(c.name).toBe('connect');
    expect(c.args.map((a) => a.kind)).toEqual(['int', 'ellipsis', 'ellipsis']);
    expect(c.result).toMatchObject({ kind: 'int', value: -1 });
    expect(c.errno).toBe('EINPROGRESS');
    expect(c.text).toBe('connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)');
  });

  it('reads arrays, flag expressions, structs and calls', () => {
    const so = syscall('0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0');
    expect(so.args[3]).toMatchObject({ kind: 'array', items: [{ kind: 'int', value: 1 }] });
    const f = syscall('0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0');
    expect(f.args[2]).toMatchObject({ kind: 'or', items: [{ kind: 'word', name: 'O_RDWR' }, { kind: 'word', name: 'O_NONBLOCK' }] });
    const g = syscall('0 fcntl(3, F_GETFL) = O_RDWR|O_NONBLOCK');
    expect(g.result.kind).toBe('or');
    const b = syscall('0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.10")}, 16) = 0');
    expect(b.args[1]).toMatchObject({
      kind: 'struct',
      items: [
        { kind: 'assign', name: 'sa_family', value: { kind: 'word', name: 'AF_INET' } },
        { kind: 'assign', name: 'sin_port', value: { kind: 'call', name: 'htons', args: [{ kind: 'int', value: 8080 }] } },
        { kind: 'assign', name: 'sin_addr', value: { kind: 'call', name: 'inet_addr', args: [{ kind: 'string', value: '192.0.2.10' }] } },
      ],
    });
    const l = syscall('0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0');
    expect(l.args[3]!.kind).toBe('struct');
    expect(syscall('0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0').args[3]).toMatchObject({ kind: 'array' });
    expect(syscall('0 write(4, ..., 0x10) = 16').args[2]).toMatchObject({ kind: 'int', value: 16 });
  });

  it('lets arguments span lines', () => {
    const c = syscall('0 setsockopt(3, SOL_SOCKET,\n    SO_REUSEADDR, [1], 4) = 0');
    expect(c.args).toHaveLength(5);
  });

  it('checks names, argument counts and option levels', () => {
    expect(parseError('0 vmsplice(3, 4) = 0').detail).toMatch(/^unknown socket call 'vmsplice' \(supported: socket, setsockopt/);
    expect(parseError('0 listen(3) = 0').detail).toBe('listen takes 2 arguments, got 1');
    expect(parseError('0 close(fd) = 0').detail).toBe('the first argument of close must be a file descriptor number');
    expect(parseError('0 setsockopt(3, SOL_SOCKET, TCP_NODELAY, [1], 4) = 0').detail).toBe('TCP_NODELAY is an option of level IPPROTO_TCP');
    expect(parseError('0 setsockopt(3, SOL_SOCKET, SO_BOGUS, [1], 4) = 0').detail).toMatch(/^unsupported socket option SO_BOGUS \(supported: /);
    expect(parseError('0 write(4, ..., ...) = 10').detail).toMatch(/byte count of write/);
    expect(parseError('0 shutdown(4, SHUT_BOTH) = 0').detail).toMatch(/SHUT_RD, SHUT_WR or SHUT_RDWR/);
    expect(parseError('0 close(3) = 0 EBADF').detail).toMatch(/goes with a return value of -1/);
    expect(parseError('0 close(3) = -1 EWHAT').detail).toBe("unknown errno 'EWHAT'");
    expect(parseError('0 close(3) 0').detail).toBe("expected '=' and the expected return value, found '0'");
    const e = parseError('0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0 close(3) = 0 junk');
    expect([e.line, e.detail]).toEqual([2, "expected an errno name (EAGAIN), a note in parentheses, or end of line, found 'junk'"]);
  });
});

describe('sendmsg, ioctl and the socket-level options', () => {
  it('reads a struct msghdr with sized fields, over several lines', () => {
    const c = syscall('0 sendmsg(4, {msg_name(...)=...,\n      msg_iov(2)=[{..., 300}, {..., 400}], msg_flags=0}, MSG_DONTWAIT) = 700');
    expect(c.name).toBe('sendmsg');
    const msg = c.args[1]!;
    expect(msg.kind).toBe('struct');
    const items = msg.kind === 'struct' ? msg.items : [];
    expect(items.map((i) => (i.kind === 'assign' ? i.name : i.kind))).toEqual(['msg_name', 'msg_iov', 'msg_flags']);
    const iov = items[1]!;
    expect(iov.kind === 'assign' && iov.size).toMatchObject([{ kind: 'int', value: 2, line: 2 }]);
    expect(iov.kind === 'assign' && iov.value.kind === 'array' ? iov.value.items.length : 0).toBe(2);
    expect(c.args[2]).toMatchObject({ kind: 'word', name: 'MSG_DONTWAIT' });
  });

  it('rejects a msghdr it cannot send: a wrong count, a bad entry, a control message, no iov', () => {
    expect(parseError('0 sendmsg(4, {msg_name(...)=..., msg_iov(2)=[{..., 1}], msg_flags=0}, 0) = 1').detail).toBe('msg_iov(2) does not match the 1 entries given');
    expect(parseError('0 sendmsg(4, {msg_iov(1)=[{..., -1}], msg_flags=0}, 0) = 1').detail).toBe('an iov entry is {..., LEN} with a non-negative LEN');
    expect(parseError('0 sendmsg(4, {msg_iov(1)=[{..., 1}], msg_controllen=28, msg_flags=0}, 0) = 1').detail).toMatch(/control message/);
    expect(parseError('0 sendmsg(4, {msg_flags=0}, 0) = 1').detail).toMatch(/needs msg_iov/);
    expect(parseError('0 sendmsg(4, ..., 0) = 1').detail).toMatch(/^the second argument of sendmsg/);
    expect(parseError('0 sendmsg(4, {msg_iov(1)=[{..., 1}], msg_bogus=1}, 0) = 1').detail).toBe('unknown struct msghdr field msg_bogus');
  });

  it('reads ioctl SIOCINQ, FIONREAD and SIOCOUTQ with [N] or ..., and nothing else', () => {
    for (const req of ['SIOCINQ', 'FIONREAD', 'SIOCOUTQ']) expect(syscall(`0 ioctl(4, ${req}, [1000]) = 0`).args[1]).toMatchObject({ kind: 'word', name: req });
    expect(syscall('0 ioctl(4, SIOCOUTQ, ...) = 0').args[2]!.kind).toBe('ellipsis');
    expect(parseError('0 ioctl(4, SIOCGSTAMP, [0]) = 0').detail).toBe('unsupported ioctl request (supported: SIOCINQ, FIONREAD, SIOCOUTQ)');
    expect(parseError('0 ioctl(4, SIOCINQ, 5) = 0').detail).toBe('the third argument of ioctl is [N] or ...');
  });

  it('knows TCP_CORK and TCP_USER_TIMEOUT at the TCP level', () => {
    expect(syscall('0 setsockopt(4, SOL_TCP, TCP_USER_TIMEOUT, [3000], 4) = 0').args[2]).toMatchObject({ name: 'TCP_USER_TIMEOUT' });
    expect(syscall('0 setsockopt(4, IPPROTO_TCP, TCP_CORK, [1], 4) = 0').args[2]).toMatchObject({ name: 'TCP_CORK' });
    expect(parseError('0 setsockopt(4, SOL_SOCKET, TCP_CORK, [1], 4) = 0').detail).toBe('TCP_CORK is an option of level IPPROTO_TCP');
  });
});

describe('script structure', () => {
  it('reads leading options, comments of both kinds, and keeps untimed shell lines for shell.ts', () => {
    const s = parseScript(
      ['// a comment', '--tolerance_usecs=10000', '--mtu=1000', '/* a block', '   comment */', '`../common/defaults.sh`', '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3'].join('\n'),
    );
    expect(s.options).toEqual([
      { line: 2, column: 1, name: 'tolerance_usecs', value: '10000' },
      { line: 3, column: 1, name: 'mtu', value: '1000' },
    ]);
    expect(s.events).toHaveLength(1);
    expect(s.events[0]!.line).toBe(7);
    expect(s.shell).toEqual([{ line: 6, text: '../common/defaults.sh' }]);
    expect(s.warnings).toEqual([]);
  });

  it('reads a code block or shell command with a time as an event that is skipped, with a warning', () => {
    const s = parseScript(['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3', '+.25 %{', 'assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd', '}%', '+0 `true`', '+.1 close(3) = 0'].join('\n'));
    expect(s.events.map((e) => [e.type, e.line])).toEqual([['syscall', 1], ['skipped', 2], ['skipped', 5], ['syscall', 6]]);
    expect(s.events[1]).toMatchObject({ type: 'skipped', what: 'code block', time: { kind: 'relative', us: 250_000 } });
    expect(s.events[2]).toMatchObject({ type: 'skipped', what: 'shell command', text: '`true`' });
    expect(s.warnings).toEqual([
      'line 2: code block skipped (the runner has no interpreter: its assertions are NOT checked)',
      'line 5: shell command skipped (the runner has no shell: the command is NOT run)',
    ]);
    expect(parseError('+0~+1 %{ x }%').detail).toBe('a shell command or code block takes a plain time (no range, no end time)');
    expect(parseError('+0 %{ x }% close(3) = 0').detail).toBe("expected end of line after the code block, found 'close'");
    expect(parseError('+0 %{ never closed').detail).toBe("unterminated code block: '%{' has no matching '}%'");
  });

  it('rejects options after the first event and unterminated comments', () => {
    expect(parseError('0 close(3) = 0\n--mtu=1000').detail).toMatch(/must come before the first event/);
    const c = parseError('0 close(3) = 0\n/* never closed');
    expect([c.line, c.column]).toEqual([2, 1]);
    expect(c.detail).toMatch(/unterminated comment/);
  });

  it('wants each event on its own line and something after the time', () => {
    expect(parseError('0 close(3) = 0 0 close(4) = 0').detail).toBe("expected an errno name (EAGAIN), a note in parentheses, or end of line, found '0'");
    expect(parseError('0 close(3) = -1 EBADF (Bad file descriptor) x').detail).toBe("expected end of line, found 'x'");
    expect(parseError('0\nclose(3) = 0').detail).toBe('expected a packet or a socket call after the time, found end of line');
    expect(parseError('hello').detail).toMatch(/^expected an event time/);
  });

  it('parses the example scripts of the dialect in full', () => {
    const s = parseScript(`
// Establish a connection.
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0

  +.1 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
  +.1 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
   +0 write(4, ..., 5840) = 5840
   +0 > P. 1:5841(5840) ack 1
  +.1 < . 1:1(0) ack 1 win 257 <sack 1461:2921>
  +.1 close(4) = 0
   +0 > F. 5841:5841(0) ack 1
+.001 > . 5842:5842(0) ack 2
`);
    expect(s.events.map((e) => e.line)).toEqual([3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    expect(s.warnings).toEqual([]);
  });
});
