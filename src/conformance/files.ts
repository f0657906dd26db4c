/**
 * The non-socket side of sendfile(2) and splice(2), emulated inside the runner so that what
 * a script tests is the TCP behaviour: open(2) of a file the script's shell lines wrote
 * (`dd if=/dev/zero of=PATH bs=N count=M`, shell.ts: N * M zero bytes, which is also what
 * packetdrill's payloads are), pipe(2) with Linux's default capacity, and the moves between
 * them and a connection. Nothing touches the real file system. A call the emulation cannot
 * honour (a file nobody wrote, a flag, a direction) is `unsupported`: the script's ERROR at
 * that line, never a guess.
 */
import { exprText, intArg, unwrapArray, wordArg } from './exprs.js';
import type { Expr, SyscallEvent } from './script.js';
import type { CallContext, CallOutcome, CallState } from './sockets.js';
import type { OptionFd } from './sockopts.js';

/** pipe(7): a pipe holds 16 pages by default. */
export const PIPE_CAPACITY = 65_536;

/** An open emulated file: its size and the file position. */
export interface EmulatedFile {
  path: string;
  size: number;
  offset: number;
}

/** One end of an emulated pipe; both ends share `shared`. */
export interface PipeEnd {
  end: 'read' | 'write';
  shared: { bytes: number; readers: number; writers: number };
}

/** What these calls need of the socket table (sockets.ts). */
export interface FileHost {
  allocateFd(kind: 'file' | 'pipe', wanted: Expr | undefined): OptionFd & { fd: number; file?: EmulatedFile; pipe?: PipeEnd; nonBlocking: boolean };
  fdOf(n: number): (OptionFd & { fd: number; file?: EmulatedFile; pipe?: PipeEnd; nonBlocking: boolean }) | undefined;
  /** write(2) of `n` bytes on a connection descriptor, blocking as a write does. */
  writeConn(ctx: CallContext, fd: number, n: number, state: CallState, more: boolean, dontWait: boolean): CallOutcome;
  /** read(2) of up to `n` bytes from a connection descriptor. */
  readConn(ctx: CallContext, fd: number, n: number, dontWait: boolean): CallOutcome;
}

const ok = (value: number): CallOutcome => ({ done: true, value });
const err = (errno: string): CallOutcome => ({ done: true, value: -1, errno });
const BLOCK: CallOutcome = { done: false };

/** open(path, O_RDONLY): a file one of the script's `dd` lines wrote. */
export function openFile(host: FileHost, ctx: CallContext, e: SyscallEvent): CallOutcome {
  const pathArg = e.args[0]!;
  if (pathArg.kind !== 'string') return ctx.unsupported(`open: the path must be a string, got ${exprText(pathArg)}`);
  const flags = e.args[1]!;
  if (!(flags.kind === 'word' && flags.name === 'O_RDONLY') && !(flags.kind === 'int' && flags.value === 0)) {
    return ctx.unsupported(`open: only O_RDONLY is emulated (the file side of sendfile), got ${exprText(flags)}`);
  }
  const size = ctx.settings.files?.get(pathArg.value);
  if (size === undefined) {
    return ctx.unsupported(`open: ${pathArg.value} has no contents the runner knows; it emulates files a shell line writes with dd if=/dev/zero of=PATH bs=N count=M`);
  }
  const fd = host.allocateFd('file', e.result);
  fd.file = { path: pathArg.value, size, offset: 0 };
  return ok(fd.fd);
}

/** pipe([r, w]): the two descriptors, numbered as the script names them. */
export function openPipe(host: FileHost, ctx: CallContext, e: SyscallEvent): CallOutcome {
  const arr = e.args[0]!;
  if (arr.kind !== 'array' || arr.items.length !== 2) return ctx.unsupported(`pipe: the argument is [read_fd, write_fd], got ${exprText(arr)}`);
  const shared = { bytes: 0, readers: 1, writers: 1 };
  const r = host.allocateFd('pipe', arr.items[0]);
  r.pipe = { end: 'read', shared };
  const w = host.allocateFd('pipe', arr.items[1]);
  w.pipe = { end: 'write', shared };
  const got = [r.fd, w.fd];
  const wanted = arr.items.map((x) => (x.kind === 'int' ? x.value : undefined));
  if (wanted.some((x, i) => x !== undefined && x !== got[i])) ctx.mismatch(`pipe([${wanted.join(', ')}])`, `pipe([${got.join(', ')}])`);
  return ok(0);
}

/** close() of a pipe end: the other end then sees end of file (read) or EPIPE (write). */
export function closeEnd(fd: { pipe?: PipeEnd }): void {
  if (fd.pipe === undefined) return;
  if (fd.pipe.end === 'read') fd.pipe.shared.readers--;
  else fd.pipe.shared.writers--;
}

/** The offset argument: NULL (use and move the file position) or `[N]` (start at N, leave the position). */
function offsetArg(ctx: CallContext, e: Expr): number | undefined {
  if (e.kind === 'word' && e.name === 'NULL') return undefined;
  const inner = unwrapArray(e);
  if (inner.kind === 'int' && inner.value >= 0) return inner.value;
  return ctx.unsupported(`an offset is NULL or [N], got ${exprText(e)}`);
}

/**
 * sendfile(out_fd, in_fd, offset, count): up to count bytes of the file from the offset to
 * the connection, blocking as a write does (a non-blocking socket takes what fits).
 */
export function sendfile(host: FileHost, ctx: CallContext, e: SyscallEvent, state: CallState): CallOutcome {
  const out = host.fdOf(intArg(e, 0));
  const inp = host.fdOf(intArg(e, 1));
  if (out === undefined || inp === undefined) return err('EBADF');
  if (inp.file === undefined) return ctx.unsupported('sendfile: the input descriptor must be a file open() returned (the emulation has no other)');
  if (out.kind !== 'connection') return out.kind === 'file' || out.kind === 'pipe' ? ctx.unsupported('sendfile: only to a connected socket') : err('EPIPE');
  const given = offsetArg(ctx, e.args[2]!);
  const from = given ?? inp.file.offset;
  const count = intArg(e, 3);
  if (count < 0) return err('EINVAL');
  const n = Math.max(0, Math.min(count, inp.file.size - from));
  if (n === 0) return ok(0);
  const outcome = host.writeConn(ctx, out.fd, n, state, false, false);
  if (outcome.done && outcome.value > 0 && given === undefined) inp.file.offset += outcome.value;
  return outcome;
}

/** splice(2)'s flags: SPLICE_F_MOVE (a hint), SPLICE_F_NONBLOCK, SPLICE_F_MORE. */
function spliceFlags(ctx: CallContext, arg: Expr): { nonBlock: boolean; more: boolean } {
  const out = { nonBlock: false, more: false };
  for (const item of arg.kind === 'or' ? arg.items : [arg]) {
    if (item.kind === 'int' && item.value === 0) continue;
    if (item.kind === 'word' && item.name === 'SPLICE_F_MOVE') continue;
    if (item.kind === 'word' && item.name === 'SPLICE_F_NONBLOCK') out.nonBlock = true;
    else if (item.kind === 'word' && item.name === 'SPLICE_F_MORE') out.more = true;
    else ctx.unsupported(`splice flags: SPLICE_F_MOVE, SPLICE_F_NONBLOCK and SPLICE_F_MORE are emulated, got ${exprText(item)}`);
  }
  return out;
}

/**
 * splice(fd_in, off_in, fd_out, off_out, len, flags) between a connection and a pipe, either
 * way: from the connection as a read of at most what the pipe has room for, to it as a
 * write of at most what the pipe holds. Offsets on a pipe or a socket are ESPIPE.
 */
export function splice(host: FileHost, ctx: CallContext, e: SyscallEvent, state: CallState): CallOutcome {
  const inp = host.fdOf(intArg(e, 0));
  const out = host.fdOf(intArg(e, 2));
  if (inp === undefined || out === undefined) return err('EBADF');
  if (wordArg(e, 1) !== 'NULL' || wordArg(e, 3) !== 'NULL') return err('ESPIPE');
  const len = intArg(e, 4);
  const flags = spliceFlags(ctx, e.args[5]!);
  if (len < 0) return err('EINVAL');
  if (inp.kind === 'connection' && out.pipe?.end === 'write') {
    const p = out.pipe.shared;
    if (p.readers === 0) return err('EPIPE');
    const room = Math.min(len, PIPE_CAPACITY - p.bytes);
    if (len === 0) return ok(0);
    if (room === 0) return flags.nonBlock || out.nonBlocking ? err('EAGAIN') : BLOCK;
    const outcome = host.readConn(ctx, inp.fd, room, flags.nonBlock);
    if (outcome.done && outcome.value > 0) p.bytes += outcome.value;
    return outcome;
  }
  if (inp.pipe?.end === 'read' && out.kind === 'connection') {
    const p = inp.pipe.shared;
    const n = Math.min(len, p.bytes + state.progress);
    if (n === 0) {
      if (len === 0 || p.writers === 0) return ok(0);
      return flags.nonBlock || inp.nonBlocking ? err('EAGAIN') : BLOCK;
    }
    const before = state.progress;
    const outcome = host.writeConn(ctx, out.fd, n, state, flags.more, flags.nonBlock);
    p.bytes -= state.progress - before;
    return outcome;
  }
  return ctx.unsupported(`splice: the emulation moves between a connection and a pipe, either way; fd ${inp.fd} is a ${inp.kind}, fd ${out.fd} a ${out.kind}`);
}
