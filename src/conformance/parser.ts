/**
 * Parser for conformance scripts in the packetdrill dialect (DESIGN.md, "Conformance
 * scripts"). A script is:
 *
 *   --tolerance_usecs=10000                      option lines, before any event
 *   0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
 *   +0  bind(3, ..., ...) = 0
 *   +.1 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
 *   +0  > S. 0:0(0) ack 1 <mss 1460>
 *   +.1...0.3 read(4, ..., 1000) = 1000         a blocking call that returns at 0.3
 *   *   > . 1:1(0) ack 1001                      any time; 0.1~0.2 and +0.1~+0.2 are ranges
 *
 * Comments are `//` and `/* *\/`. Backquoted shell lines before the events are kept for
 * shell.ts, which sets what it can of them; `%{ }%` code blocks are skipped with a warning;
 * with a time before them (`+0 %{ ... }%`, `+0 \`...\``) both are events whose time still
 * counts, skipped with a warning. Each event ends at the end of its line (arguments in
 * parentheses may span lines). Errors are ParseError with the line and column.
 */
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type TcpOption } from '../wire/tcp.js';
import { isErrnoName } from './errno.js';
import { atIcmp, parseIcmpSpec } from './icmp-line.js';
import { Scanner } from './scanner.js';
import type { Expr, PacketEvent, Script, ScriptEvent, ScriptOption, ShellCommand, SourcePos, SyscallEvent, SyscallName, TimeSpec } from './script.js';

export { ParseError } from './scanner.js';

const U32_MAX = 0xffff_ffff;

const FLAG_LETTERS: Readonly<Record<string, number>> = {
  F: TCP_FIN,
  S: TCP_SYN,
  R: TCP_RST,
  P: TCP_PSH,
  '.': TCP_ACK,
  U: TCP_URG,
  E: TCP_ECE,
  W: TCP_CWR,
};

/** Socket calls the runner offers, with the argument counts they take. */
const SYSCALL_ARITY: Readonly<Record<SyscallName, readonly number[]>> = {
  socket: [3],
  setsockopt: [5],
  getsockopt: [5],
  fcntl: [2, 3],
  bind: [3],
  listen: [2],
  accept: [3],
  connect: [3],
  write: [3],
  read: [3],
  send: [4],
  recv: [4],
  shutdown: [2],
  close: [1],
  sendmsg: [3],
  ioctl: [3],
  sendto: [6],
  recvfrom: [6],
  recvmsg: [3],
  poll: [3],
  epoll_create: [1],
  epoll_ctl: [4],
  epoll_wait: [4],
  open: [2, 3],
  sendfile: [4],
  pipe: [1],
  splice: [6],
};

/** ioctl requests the runner answers: the bytes queued to read (SIOCINQ = FIONREAD) or not yet acknowledged (SIOCOUTQ). */
export const IOCTL_REQUESTS: readonly string[] = ['SIOCINQ', 'FIONREAD', 'SIOCOUTQ'];

/** Socket options the runner understands, with the level they belong to. */
export const SOCKET_OPTIONS: Readonly<Record<string, 'SOL_SOCKET' | 'IPPROTO_TCP' | 'IPPROTO_IP'>> = {
  SO_REUSEADDR: 'SOL_SOCKET',
  SO_ERROR: 'SOL_SOCKET',
  SO_KEEPALIVE: 'SOL_SOCKET',
  SO_RCVBUF: 'SOL_SOCKET',
  SO_SNDBUF: 'SOL_SOCKET',
  SO_LINGER: 'SOL_SOCKET',
  TCP_NODELAY: 'IPPROTO_TCP',
  TCP_MAXSEG: 'IPPROTO_TCP',
  TCP_CORK: 'IPPROTO_TCP',
  TCP_USER_TIMEOUT: 'IPPROTO_TCP',
  TCP_NOTSENT_LOWAT: 'IPPROTO_TCP',
  TCP_INQ: 'IPPROTO_TCP',
  SO_ZEROCOPY: 'SOL_SOCKET',
  SO_TIMESTAMPING: 'SOL_SOCKET',
  IP_TOS: 'IPPROTO_IP',
  IP_MTU_DISCOVER: 'IPPROTO_IP',
  IP_FREEBIND: 'IPPROTO_IP',
};

const OPTION_HELP = 'mss N, wscale N, sackOK, sack a:b ..., TS val X ecr Y, nop, eol';

export function parseScript(text: string): Script {
  return new ScriptParser(text).parse();
}

class ScriptParser {
  private readonly s: Scanner;
  private readonly options: ScriptOption[] = [];
  private readonly events: ScriptEvent[] = [];
  private readonly warnings: string[] = [];
  private readonly shell: ShellCommand[] = [];

  constructor(text: string) {
    this.s = new Scanner(text);
  }

  parse(): Script {
    const s = this.s;
    for (;;) {
      s.skipSpace(true);
      if (s.atEnd()) break;
      const pos = s.here();
      if (s.startsWith('--')) {
        if (this.events.length > 0) s.fail('option lines (--name=value) must come before the first event');
        this.options.push(this.parseOption(pos));
      } else if (s.peek() === '`') {
        this.shell.push({ line: pos.line, text: this.delimited('`', '`', pos, 'shell command') });
      } else if (s.startsWith('%{')) {
        this.skipDelimited('%{', '}%', pos, 'code block');
      } else {
        this.events.push(this.parseEvent(pos));
      }
    }
    return { options: this.options, events: this.events, shell: this.shell, warnings: this.warnings };
  }

  private parseOption(pos: SourcePos): ScriptOption {
    const s = this.s;
    s.expect('--');
    const name = s.readWord('an option name after --');
    let value: string | undefined;
    if (s.accept('=')) {
      value = '';
      while (!s.atEnd() && !/\s/.test(s.peek())) value += s.next();
      if (value === '') s.expectedFail(`a value after --${name}=`);
    }
    this.endOfLine('end of line after the option');
    return { ...pos, name, value };
  }

  /** Skip a shell command or code block, with a warning that says what is not checked; returns its text. */
  private skipDelimited(open: string, close: string, pos: SourcePos, what: string): string {
    const text = this.delimited(open, close, pos, what);
    const why = what === 'code block' ? 'the runner has no interpreter: its assertions are NOT checked' : 'the runner has no shell: the command is NOT run';
    this.warnings.push(`line ${pos.line}: ${what} skipped (${why})`);
    return `${open}${text}${close}`;
  }

  /** The text between `open` and `close` (which are consumed too). */
  private delimited(open: string, close: string, pos: SourcePos, what: string): string {
    const s = this.s;
    const start = s.offset;
    s.expect(open);
    while (!s.startsWith(close)) {
      if (s.atEnd()) s.fail(`unterminated ${what}: '${open}' has no matching '${close}'`, pos);
      s.next();
    }
    const text = s.text.slice(start + open.length, s.offset);
    s.expect(close);
    return text;
  }

  /** After an event: only spaces and comments until the end of the line. */
  private endOfLine(what: string): void {
    const crossed = this.s.skipSpace(false);
    if (crossed || this.s.atEnd() || this.s.peek() === '\n') return;
    this.s.expectedFail(what);
  }

  private parseEvent(pos: SourcePos): ScriptEvent {
    const s = this.s;
    const { time, end } = this.parseTime();
    if (s.skipSpace(false) || s.atEnd() || s.peek() === '\n') s.expectedFail('a packet or a socket call after the time');
    const actionPos = s.here();
    const c = s.peek();
    if (c === '`' || s.startsWith('%{')) {
      // A timed shell command or code block: not run, but its time counts (script.ts SkippedEvent).
      if (end !== undefined || !(time.kind === 'absolute' || time.kind === 'relative')) {
        s.fail('a shell command or code block takes a plain time (no range, no end time)', pos);
      }
      const what = c === '`' ? 'shell command' : 'code block';
      const text = c === '`' ? this.skipDelimited('`', '`', actionPos, what) : this.skipDelimited('%{', '}%', actionPos, what);
      this.endOfLine('end of line after the ' + what);
      return { type: 'skipped', ...pos, time, what, text };
    }
    if (c === '<' || c === '>') {
      if (end !== undefined) s.fail("a packet cannot have an end time ('...'); only blocking socket calls do", pos);
      const event = this.parsePacket(pos, time);
      if (event.direction === 'inbound' && !(time.kind === 'absolute' || time.kind === 'relative')) {
        s.fail("inbound packets need a definite time: '*' and ranges are for outbound packets only", pos);
      }
      return event;
    }
    if (s.isWordStart()) {
      if (!(time.kind === 'absolute' || time.kind === 'relative')) {
        s.fail("socket calls need a definite time: '*' and ranges are for outbound packets only", pos);
      }
      return this.parseSyscall(pos, actionPos, time, end);
    }
    return s.expectedFail("a packet ('<' inbound or '>' outbound) or a socket call after the time");
  }

  private parseTime(): { time: TimeSpec; end: SyscallEvent['end'] } {
    const s = this.s;
    const pos = s.here();
    let time: TimeSpec;
    if (s.accept('*')) {
      time = { kind: 'any' };
    } else if (s.accept('+')) {
      const us = s.readSeconds('a time in seconds after +');
      if (s.accept('~')) {
        s.expect('+', "'+' (a relative range is written +a~+b)");
        time = { kind: 'relative-range', us, endUs: s.readSeconds('the end of the time range') };
      } else {
        time = { kind: 'relative', us };
      }
    } else if (s.isNumberStart()) {
      const us = s.readSeconds();
      time = s.accept('~') ? { kind: 'absolute-range', us, endUs: s.readSeconds('the end of the time range') } : { kind: 'absolute', us };
    } else {
      return s.expectedFail("an event time (0.1 absolute, +0.1 relative, '*' any, or a range 0.1~0.2)");
    }
    if ((time.kind === 'absolute-range' || time.kind === 'relative-range') && time.endUs < time.us) {
      s.fail('time range is backwards: its end comes before its start', pos);
    }
    let end: SyscallEvent['end'];
    if (s.accept('...')) {
      if (!(time.kind === 'absolute' || time.kind === 'relative')) return s.fail("an end time ('...') needs a plain start time", pos);
      const endUs = s.readSeconds("the time the call returns, after '...'");
      if (time.kind === 'absolute' && endUs < time.us) s.fail('the end time comes before the start time', pos);
      end = { kind: time.kind, us: endUs };
    }
    return { time, end };
  }

  private parsePacket(pos: SourcePos, time: TimeSpec): PacketEvent {
    const s = this.s;
    const textStart = s.offset;
    const direction = s.next() === '<' ? 'inbound' : 'outbound';
    s.skipSpace(false);
    if (s.peek() === '(' || s.peek() === '[') s.fail('IP header fields (tos, ecn, ttl, flowlabel) are not supported');
    let ports: PacketEvent['ports'];
    if (s.isDigit()) {
      const src = s.readBounded('source port', 1, 65535);
      s.skipSpace(false);
      s.expect('>', "'>' between the source and destination ports (44444>8080)");
      s.skipSpace(false);
      ports = { src, dst: s.readBounded('destination port', 1, 65535) };
      s.skipSpace(false);
    }
    if (atIcmp(s)) {
      const icmp = parseIcmpSpec(s, direction);
      const text = s.text.slice(textStart, s.offset).trim();
      return { type: 'packet', ...pos, time, direction, ports, flags: 0, flagsText: '', seq: 0, payloadLength: 0, ack: undefined, window: undefined, urgentPointer: undefined, options: [], text, icmp };
    }
    const { flags, flagsText } = this.parseFlags();
    s.skipSpace(false);
    const seqPos = s.here();
    const seq = s.readBounded('start sequence number', 0, U32_MAX);
    s.expect(':', "':' in start:end(length)");
    const seqEnd = s.readBounded('end sequence number', 0, U32_MAX);
    s.skipSpace(false); // `1:11 (10)`, as some public scripts write it
    s.expect('(', "'(' in start:end(length)");
    const payloadLength = s.readBounded('payload length', 0, 65535);
    s.expect(')', "')' in start:end(length)");
    if ((seq + payloadLength) % 2 ** 32 !== seqEnd) {
      s.fail(`inconsistent sequence numbers: ${seq}:${seqEnd} does not span ${payloadLength} bytes`, seqPos);
    }
    let ack: number | undefined;
    let window: number | undefined;
    let urgentPointer: number | undefined;
    let options: TcpOption[] | 'any' = [];
    const rest = ['ack N', 'win N', 'urg N', '<options>'];
    let stage = 0;
    for (;;) {
      const crossed = s.skipSpace(false);
      if (crossed || s.atEnd() || s.peek() === '\n') break;
      if (stage <= 0 && s.startsWith('ack') && !/\w/.test(s.peek(3))) {
        s.accept('ack');
        s.skipSpace(false);
        ack = s.readBounded('ack number', 0, U32_MAX);
        stage = 1;
      } else if (stage <= 1 && s.startsWith('win') && !/\w/.test(s.peek(3))) {
        s.accept('win');
        s.skipSpace(false);
        window = s.readBounded('window', 0, 65535);
        stage = 2;
      } else if (stage <= 2 && s.startsWith('urg') && !/\w/.test(s.peek(3))) {
        s.accept('urg');
        s.skipSpace(false);
        urgentPointer = s.readBounded('urgent pointer', 0, 65535);
        stage = 3;
      } else if (stage <= 3 && s.peek() === '<') {
        options = this.parseOptions(direction);
        stage = 4;
      } else {
        const allowed = rest.slice(stage);
        s.expectedFail(allowed.length === 0 ? 'end of line after the options' : `${allowed.join(', ')} or end of line`);
      }
    }
    // `ack N` without the ACK flag, as packetdrill takes it: the acknowledgment field is
    // written (inbound) but the flag stays clear, so the receiver must ignore it
    // (RFC 9293 §3.1: the field is significant only when ACK is set).
    const text = s.text.slice(textStart, s.offset).replace(/\s*(\/\/.*|\/\*[\s\S]*)?$/, '');
    return { type: 'packet', ...pos, time, direction, ports, flags, flagsText, seq, payloadLength, ack, window, urgentPointer, options, text };
  }

  private parseFlags(): { flags: number; flagsText: string } {
    const s = this.s;
    const pos = s.here();
    let flagsText = '';
    while (/[A-Za-z.-]/.test(s.peek())) flagsText += s.next();
    if (flagsText === '') s.expectedFail('TCP flags (S, S., ., P., F., FP., R, R. or - for none)');
    if (flagsText === '-') return { flags: 0, flagsText };
    let flags = 0;
    for (const letter of flagsText) {
      const bit = FLAG_LETTERS[letter];
      if (bit === undefined) {
        s.fail(`unknown TCP flag '${letter}' in '${flagsText}' (flags are F S R P U E W, and '.' for ACK)`, pos);
      }
      if (flags & bit) s.fail(`TCP flag '${letter}' repeated in '${flagsText}'`, pos);
      flags |= bit;
    }
    return { flags, flagsText };
  }

  private parseOptions(direction: 'inbound' | 'outbound'): TcpOption[] | 'any' {
    const s = this.s;
    const pos = s.here();
    s.expect('<');
    s.skipSpace(false);
    if (s.accept('...')) {
      s.skipSpace(false);
      s.expect('>', "'>' after '<...'");
      if (direction === 'inbound') s.fail("'<...>' (do not check the options) is for outbound packets only", pos);
      return 'any';
    }
    const options: TcpOption[] = [];
    for (;;) {
      s.skipSpace(false);
      options.push(this.parseOption1());
      s.skipSpace(false);
      if (s.accept('>')) return options;
      s.expect(',', "',' or '>' in the option list");
    }
  }

  private parseOption1(): TcpOption {
    const s = this.s;
    const pos = s.here();
    if (!s.isWordStart()) s.expectedFail(`a TCP option (${OPTION_HELP})`);
    const name = s.readWord();
    switch (name) {
      case 'nop':
        return { kind: 'nop' };
      case 'eol':
        return { kind: 'eol' };
      case 'sackOK':
        return { kind: 'sackOk' };
      case 'mss':
        s.skipSpace(false);
        return { kind: 'mss', mss: s.readBounded('mss value', 0, 65535) };
      case 'wscale':
        s.skipSpace(false);
        return { kind: 'wscale', shift: s.readBounded('window scale shift count', 0, 255) };
      case 'sack': {
        const blocks: { left: number; right: number }[] = [];
        for (;;) {
          s.skipSpace(false);
          if (!s.isDigit()) break;
          const left = s.readBounded('SACK block left edge', 0, U32_MAX);
          s.expect(':', "':' in a SACK block left:right");
          blocks.push({ left, right: s.readBounded('SACK block right edge', 0, U32_MAX) });
        }
        if (blocks.length === 0) s.expectedFail('at least one SACK block (left:right)');
        if (blocks.length > 4) s.fail('a SACK option holds at most 4 blocks', pos);
        return { kind: 'sack', blocks };
      }
      case 'TS': {
        s.skipSpace(false);
        if (s.readWord("'val' in TS val X ecr Y") !== 'val') s.fail("expected 'val' in TS val X ecr Y", pos);
        s.skipSpace(false);
        const val = s.readBounded('TS val', 0, U32_MAX);
        s.skipSpace(false);
        if (s.readWord("'ecr' in TS val X ecr Y") !== 'ecr') s.fail("expected 'ecr' in TS val X ecr Y", pos);
        s.skipSpace(false);
        return { kind: 'ts', val, ecr: s.readBounded('TS ecr', 0, U32_MAX) };
      }
      default:
        return s.fail(`unknown TCP option '${name}' (expected ${OPTION_HELP})`, pos);
    }
  }

  private parseSyscall(pos: SourcePos, actionPos: SourcePos, time: TimeSpec, end: SyscallEvent['end']): SyscallEvent {
    const s = this.s;
    const textStart = s.offset;
    const name = s.readWord('a socket call name');
    if (!Object.hasOwn(SYSCALL_ARITY, name)) {
      s.fail(`unknown socket call '${name}' (supported: ${Object.keys(SYSCALL_ARITY).join(', ')})`, actionPos);
    }
    s.skipSpace(false);
    s.expect('(', `'(' after ${name}`);
    const args = this.parseExprList(')');
    s.skipSpace(false);
    s.expect('=', "'=' and the expected return value");
    s.skipSpace(false);
    const result = this.parseExpr(false);
    s.skipSpace(false);
    let errno: string | undefined;
    if (/^E[A-Z0-9]+\b/.test(s.text.slice(s.offset, s.offset + 32))) {
      const errnoPos = s.here();
      errno = s.readWord();
      if (!isErrnoName(errno)) s.fail(`unknown errno '${errno}'`, errnoPos);
      s.skipSpace(false);
    }
    if (s.peek() === '(') {
      // The note, e.g. (Operation now in progress): free text, not checked.
      const notePos = s.here();
      while (s.peek() !== ')') {
        if (s.atEnd() || s.peek() === '\n') s.fail("unterminated note: '(' has no matching ')' on this line", notePos);
        s.next();
      }
      s.next();
    }
    const text = s.text.slice(textStart, s.offset).trim();
    this.endOfLine(errno === undefined ? 'an errno name (EAGAIN), a note in parentheses, or end of line' : 'end of line');
    const event: SyscallEvent = { type: 'syscall', ...pos, time, end, name: name as SyscallName, args, result, errno, text };
    this.validateSyscall(event, actionPos);
    return event;
  }

  private parseExprList(close: string): Expr[] {
    const s = this.s;
    const items: Expr[] = [];
    s.skipSpace(true);
    if (s.accept(close)) return items;
    for (;;) {
      items.push(this.parseExpr(true));
      s.skipSpace(true);
      if (s.accept(close)) return items;
      s.expect(',', `',' or '${close}'`);
    }
  }

  private parseExpr(newlines: boolean): Expr {
    const s = this.s;
    const first = this.parsePrimary(newlines);
    s.skipSpace(newlines);
    if (s.peek() !== '|') return first;
    const items = [first];
    while (s.accept('|')) {
      items.push(this.parsePrimary(newlines));
      s.skipSpace(newlines);
    }
    return { kind: 'or', items, line: first.line, column: first.column };
  }

  private parsePrimary(newlines: boolean): Expr {
    const s = this.s;
    s.skipSpace(newlines);
    const pos = s.here();
    if (s.accept('...')) return { kind: 'ellipsis', ...pos };
    if (s.isDigit() || (s.peek() === '-' && s.isDigit(1))) return { kind: 'int', value: s.readInteger(), ...pos };
    if (s.peek() === '"') {
      s.next();
      let value = '';
      while (s.peek() !== '"') {
        if (s.atEnd() || s.peek() === '\n') s.fail('unterminated string: \'"\' has no matching \'"\' on this line', pos);
        if (s.peek() === '\\') s.next();
        value += s.next();
      }
      s.next();
      s.accept('...');
      return { kind: 'string', value, ...pos };
    }
    if (s.accept('[')) return { kind: 'array', items: this.parseExprList(']'), ...pos };
    if (s.accept('{')) return { kind: 'struct', items: this.parseExprList('}'), ...pos };
    if (s.isWordStart()) {
      const name = s.readWord();
      s.skipSpace(newlines);
      if (s.accept('(')) {
        const args = this.parseExprList(')');
        // `msg_iov(1)=[...]` inside a struct (strace's and packetdrill's struct msghdr): a sized field.
        if (s.peek() === '=' && s.peek(1) !== '=' && newlines) {
          s.next();
          return { kind: 'assign', name, size: args, value: this.parseExpr(newlines), ...pos };
        }
        return { kind: 'call', name, args, ...pos };
      }
      if (s.peek() === '=' && s.peek(1) !== '=' && newlines) {
        s.next();
        return { kind: 'assign', name, value: this.parseExpr(newlines), ...pos };
      }
      return { kind: 'word', name, ...pos };
    }
    return s.expectedFail('an argument (a number, a NAME, ..., "string", [..] or {..})');
  }

  /** Argument counts and the shape of the arguments the runner reads. */
  private validateSyscall(e: SyscallEvent, pos: SourcePos): void {
    const s = this.s;
    const arity = SYSCALL_ARITY[e.name];
    if (!arity.includes(e.args.length)) {
      s.fail(`${e.name} takes ${arity.join(' or ')} arguments, got ${e.args.length}`, pos);
    }
    if (e.name !== 'socket' && e.name !== 'poll' && e.name !== 'open' && e.name !== 'pipe') {
      const fd = e.args[0]!;
      if (fd.kind !== 'int') s.fail(`the first argument of ${e.name} must be a file descriptor number`, fd);
    }
    if (e.name === 'setsockopt' || e.name === 'getsockopt') {
      const level = e.args[1]!;
      const opt = e.args[2]!;
      if (opt.kind !== 'word' || !Object.hasOwn(SOCKET_OPTIONS, opt.name)) {
        const named = opt.kind === 'word' ? ` ${opt.name}` : '';
        return s.fail(`unsupported socket option${named} (supported: ${Object.keys(SOCKET_OPTIONS).join(', ')})`, opt);
      }
      const wanted = SOCKET_OPTIONS[opt.name]!;
      const alias = wanted === 'IPPROTO_TCP' ? 'SOL_TCP' : wanted === 'IPPROTO_IP' ? 'SOL_IP' : wanted;
      const levelOk = level.kind === 'word' && (level.name === wanted || level.name === alias);
      if (!levelOk) s.fail(`${opt.name} is an option of level ${wanted}`, level);
    }
    if (['write', 'read', 'send', 'recv', 'sendto', 'recvfrom'].includes(e.name)) {
      const count = e.args[2]!;
      if (count.kind !== 'int' || count.value < 0) s.fail(`the byte count of ${e.name} must be a non-negative integer`, count);
    }
    if (e.name === 'sendmsg') this.validateMsghdr(e.args[1]!);
    if (e.name === 'ioctl') {
      const req = e.args[1]!;
      if (!(req.kind === 'word' && IOCTL_REQUESTS.includes(req.name))) s.fail(`unsupported ioctl request (supported: ${IOCTL_REQUESTS.join(', ')})`, req);
      const arg = e.args[2]!;
      if (arg.kind !== 'ellipsis' && !(arg.kind === 'array' && arg.items.length === 1)) s.fail(`the third argument of ioctl is [N] or ...`, arg);
    }
    if (e.name === 'listen') {
      const backlog = e.args[1]!;
      if (backlog.kind !== 'int') s.fail('the backlog of listen must be an integer', backlog);
    }
    if (e.name === 'shutdown') {
      const how = e.args[1]!;
      if (!(how.kind === 'word' && ['SHUT_RD', 'SHUT_WR', 'SHUT_RDWR'].includes(how.name))) {
        s.fail('shutdown takes SHUT_RD, SHUT_WR or SHUT_RDWR', how);
      }
    }
    if (e.result.kind !== 'int' && e.result.kind !== 'ellipsis' && e.result.kind !== 'word' && e.result.kind !== 'or') {
      s.fail('the return value must be a number, a flag expression or ...', e.result);
    }
    if (e.errno !== undefined && !(e.result.kind === 'int' && e.result.value === -1)) {
      s.fail(`an errno (${e.errno}) goes with a return value of -1`, e.result);
    }
  }
  /**
   * sendmsg's `{msg_name(...)=..., msg_iov(N)=[{..., LEN}, ...], msg_flags=0}`: the iov lengths
   * are what is sent; a control message (msg_control) is not something the runner can pass.
   */
  private validateMsghdr(msg: Expr): void {
    const s = this.s;
    if (msg.kind !== 'struct') return s.fail('the second argument of sendmsg is {msg_name(...)=..., msg_iov(N)=[{..., LEN}], msg_flags=0}', msg);
    let iov: Expr | undefined;
    for (const item of msg.items) {
      if (item.kind !== 'assign') return s.fail('expected name=value in the struct msghdr', item);
      if (item.name === 'msg_iov') iov = item;
      else if (item.name === 'msg_control' || (item.name === 'msg_controllen' && !(item.value.kind === 'int' && item.value.value === 0))) {
        return s.fail('sendmsg with a control message (msg_control) is not supported', item);
      } else if (!['msg_name', 'msg_flags', 'msg_controllen', 'msg_namelen'].includes(item.name)) {
        return s.fail(`unknown struct msghdr field ${item.name}`, item);
      }
    }
    if (iov?.kind !== 'assign' || iov.value.kind !== 'array') return s.fail('sendmsg needs msg_iov(N)=[{..., LEN}, ...]', iov ?? msg);
    const items = iov.value.items;
    const size = iov.size?.[0];
    if (size !== undefined && !(size.kind === 'int' && size.value === items.length)) s.fail(`msg_iov(${size.kind === 'int' ? size.value : '?'}) does not match the ${items.length} entries given`, size);
    for (const entry of items) {
      const len = entry.kind === 'struct' && entry.items.length === 2 ? entry.items[1]! : undefined;
      if (len?.kind !== 'int' || len.value < 0) s.fail('an iov entry is {..., LEN} with a non-negative LEN', entry);
    }
  }
}
