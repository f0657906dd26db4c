/**
 * The parsed form of a conformance script in the packetdrill dialect (parser.ts builds it,
 * runner.ts runs it). Sequence and acknowledgment numbers stay as written: relative to the
 * ISN of the side that sent them, as packetdrill's are.
 */
import type { TcpOption } from '../wire/tcp.js';
import type { IcmpSpec } from './icmp-line.js';

/** A place in the script text, 1-based. */
export interface SourcePos {
  line: number;
  column: number;
}

/**
 * When an event happens. Times are integer microseconds from the start of the script
 * (absolute) or from the previous event (relative).
 */
export type TimeSpec =
  | { kind: 'absolute'; us: number }
  | { kind: 'relative'; us: number }
  /** `*`: any time (outbound packets only). */
  | { kind: 'any' }
  /** `0.1~0.2`: any time in the range (outbound packets only). */
  | { kind: 'absolute-range'; us: number; endUs: number }
  /** `+0.1~+0.2` (outbound packets only). */
  | { kind: 'relative-range'; us: number; endUs: number };

/** `--name=value` lines before the first event. */
export interface ScriptOption extends SourcePos {
  name: string;
  /** Undefined for a bare `--name`. */
  value: string | undefined;
}

export interface PacketEvent extends SourcePos {
  type: 'packet';
  time: TimeSpec;
  direction: 'inbound' | 'outbound';
  /** `< 44444>8080 S ...`: source and destination ports as written (optional). */
  ports: { src: number; dst: number } | undefined;
  /** TCP flag bits (wire/tcp.ts TCP_* constants). */
  flags: number;
  /** The flags as written (`S.`, `FP.`, `-`). */
  flagsText: string;
  /** `start:end(len)`: relative sequence number of the first byte, and the payload length. */
  seq: number;
  payloadLength: number;
  /** `ack N` (relative to the other side's ISN), if written. */
  ack: number | undefined;
  /** `win N`, if written. */
  window: number | undefined;
  /** `urg N`, if written. */
  urgentPointer: number | undefined;
  /** Options as written, or 'any' for `<...>` (outbound only: do not check them). */
  options: TcpOption[] | 'any';
  /** The event's text after the time, for messages. */
  text: string;
  /** An inbound ICMP error (`< icmp unreachable ...`, icmp-line.ts) instead of a TCP segment. */
  icmp?: IcmpSpec;
}

/** An argument or return value of a socket call. */
export type Expr = SourcePos &
  (
    | { kind: 'ellipsis' }
    | { kind: 'int'; value: number }
    | { kind: 'word'; name: string }
    | { kind: 'string'; value: string }
    /** `O_RDWR|O_NONBLOCK` */
    | { kind: 'or'; items: Expr[] }
    /** `sin_port=htons(8080)` inside braces, or `name=value` as an argument; `msg_iov(1)=[...]` has a size */
    | { kind: 'assign'; name: string; value: Expr; size?: Expr[] }
    /** `[1]` */
    | { kind: 'array'; items: Expr[] }
    /** `{onoff=1, linger=0}` */
    | { kind: 'struct'; items: Expr[] }
    /** `htons(8080)`, `inet_addr("192.0.2.1")` */
    | { kind: 'call'; name: string; args: Expr[] }
  );

export type SyscallName =
  | 'socket'
  | 'setsockopt'
  | 'getsockopt'
  | 'fcntl'
  | 'bind'
  | 'listen'
  | 'accept'
  | 'connect'
  | 'write'
  | 'read'
  | 'send'
  | 'recv'
  | 'shutdown'
  | 'close'
  | 'sendmsg'
  | 'ioctl'
  | 'sendto'
  | 'recvfrom'
  | 'recvmsg'
  | 'poll'
  | 'epoll_create'
  | 'epoll_ctl'
  | 'epoll_wait'
  | 'open'
  | 'sendfile'
  | 'pipe'
  | 'splice';

export interface SyscallEvent extends SourcePos {
  type: 'syscall';
  time: TimeSpec;
  /**
   * `+.1...0.2 connect(...)`: the call blocks and must return at this time. The number is
   * absolute when the start time is absolute, and relative to the previous event when the
   * start time is relative (packetdrill's rule). Undefined: the call must return at once.
   */
  end: { kind: 'absolute' | 'relative'; us: number } | undefined;
  name: SyscallName;
  args: Expr[];
  /** The expected return value (`= 3`, `= -1`, `= O_RDWR|O_NONBLOCK`, `= ...`). */
  result: Expr;
  /** `EINPROGRESS` in `= -1 EINPROGRESS (Operation now in progress)`. */
  errno: string | undefined;
  text: string;
}

/**
 * `+0 %{ assert tcpi_... }%` or `+0 \`sysctl ...\``: a code block or shell command with a
 * time. The runner cannot run it (no interpreter, no shell) and says so in a warning, but
 * the time it carries still counts: the run advances to it, and later relative times
 * start from it, as packetdrill's do.
 */
export interface SkippedEvent extends SourcePos {
  type: 'skipped';
  time: TimeSpec;
  /** 'code block' or 'shell command'. */
  what: string;
  text: string;
}

export type ScriptEvent = PacketEvent | SyscallEvent | SkippedEvent;

/** A backquoted shell line before the events: its text without the backquotes (shell.ts reads it). */
export interface ShellCommand {
  line: number;
  text: string;
}

export interface Script {
  options: ScriptOption[];
  events: ScriptEvent[];
  /** Untimed shell lines, in order. */
  shell: ShellCommand[];
  /** Things parsed but not run (shell commands, code blocks), with their line. */
  warnings: string[];
}
