/**
 * Socket calls as a script sees them (file descriptors, blocking and non-blocking
 * semantics, errno values), mapped onto the Stack's sans-I/O API. Linux is the model:
 * descriptors start at 3 and the lowest free one is reused; a call that would block on a
 * non-blocking socket fails with EAGAIN (EINPROGRESS for connect); an error the connection
 * ended with (a reset, a timeout) is reported once, by the next call or SO_ERROR.
 */
import type { ResolvedConfig } from '../tcp/config.js';
import { StackError, type ConnectionErrorCode, type SocketId, type StackEvent } from '../tcp/types.js';
import type { Ipv4Addr } from '../wire/addr.js';
import { evaluate, intArg, iovLengths, O_NONBLOCK, O_RDWR, sockaddr, wordArg } from './exprs.js';
import { recvFlags, sendFlags, type SendFlags } from './call-flags.js';
import { checkRecvmsg, recvmsgCount } from './msghdr.js';
import { connectionMask, EpollSets, NOTSENT_LOWAT_DEFAULT, poll, writeable, type MaskOf, type ReadyOutcome, type ReadyState } from './readiness.js';
import { closeEnd, openFile, openPipe, sendfile, splice, type EmulatedFile, type FileHost, type PipeEnd } from './files.js';
import type { Expr, SyscallEvent } from './script.js';
import { noteWrite, readReport, stamp } from './timestamping.js';
import type { RunSettings } from './settings.js';
import { getsockopt, ioctl, setsockopt, type OptionContext, type OptionFd, type OptionOutcome } from './sockopts.js';
import type { ConformanceStack } from './target.js';

/** What the connection behind a SocketId has told us through events. */
interface SocketStatus {
  connected: boolean;
  eof: boolean;
  closed: boolean;
  /** An abnormal end not yet reported to the application. */
  error: ConnectionErrorCode | undefined;
}

interface Fd extends OptionFd {
  fd: number;
  nonBlocking: boolean;
  boundPort: number | undefined;
  boundAddress: Ipv4Addr | undefined;
  shutRd: boolean;
  shutWr: boolean;
  /** connect() was called on this descriptor. */
  connectCalled: boolean;
  /** A write or a poll found no room (Linux SOCK_NOSPACE): room coming back is a wakeup. */
  noSpace: boolean;
  /** Connections a poll of this listener took from the stack, for accept() to return. */
  preAccepted: SocketId[];
  /** An emulated file or pipe end (files.ts). */
  file?: EmulatedFile;
  pipe?: PipeEnd;
}

export type CallOutcome = { done: true; value: number; errno?: string } | { done: false };

/** Progress of one call across attempts (a blocking call is attempted again as things change). */
export interface CallState {
  started: boolean;
  /** Bytes written so far by a blocking write. */
  progress: number;
  /** A blocking write found no room: it goes on only once woken (Linux sk_stream_write_space). */
  waiting?: boolean;
  /** When a call with a timeout of its own (poll, epoll_wait) gives up, µs. */
  wakeUs?: number;
}

export interface CallContext {
  readonly stack: ConformanceStack;
  readonly now: number;
  readonly settings: RunSettings;
  readonly config: ResolvedConfig;
  warn(message: string): void;
  /** connect() from `localPort`: inbound packets without written ports come from `remotePort` to it. */
  connected(localPort: number, remotePort: number): void;
  /** listen() on `port`: the next SYN without written ports opens a new passive connection. */
  listened(port: number): void;
  /** A result the script did not expect (throws). */
  mismatch(expected: string, actual: string): never;
  /** The script asks for something the runner cannot do (throws). */
  unsupported(message: string): never;
}

const ok = (value: number): CallOutcome => ({ done: true, value });
const err = (errno: string): CallOutcome => ({ done: true, value: -1, errno });
const BLOCK: CallOutcome = { done: false };

export class SocketTable implements FileHost {
  private readonly fds = new Map<number, Fd>();
  private readonly status = new Map<SocketId, SocketStatus>();
  private readonly epolls = new EpollSets();

  onEvent(e: StackEvent): void {
    const st = this.statusOf(e.socket);
    // Data, a state change or room to write: a wakeup for epoll (Linux's sk_data_ready, sk_state_change).
    if (e.type !== 'writable') for (const fd of this.fds.values()) if (fd.socket === e.socket) this.epolls.wake(fd.fd);
    switch (e.type) {
      case 'connected':
        st.connected = true;
        break;
      case 'eof':
        st.eof = true;
        break;
      case 'closed':
        st.closed = true;
        if (e.error !== undefined) st.error = e.error;
        break;
      default:
        break;
    }
  }

  private statusOf(socket: SocketId): SocketStatus {
    let st = this.status.get(socket);
    if (st === undefined) {
      st = { connected: false, eof: false, closed: false, error: undefined };
      this.status.set(socket, st);
    }
    return st;
  }

  /**
   * A new descriptor: the number the script expects the call to return when it names a free
   * one (scripts choose their fds, as packetdrill maps them), else the lowest free from 3.
   */
  private allocate(kind: Fd['kind'], socket: SocketId | undefined, from?: Fd, wanted?: Expr): Fd {
    let fd = 3;
    if (wanted?.kind === 'int' && wanted.value >= 3 && wanted.value <= 65535 && !this.fds.has(wanted.value)) fd = wanted.value;
    while (this.fds.has(fd)) fd++;
    const entry: Fd = {
      fd,
      kind,
      socket,
      nonBlocking: false,
      noDelay: from?.noDelay ?? false,
      keepAlive: from?.keepAlive ?? false,
      reuseAddr: false,
      lingerZero: false,
      // An accepted socket starts with its listener's options (the stack applied them already).
      options: { ...from?.options },
      rcvBufReported: from?.rcvBufReported,
      sndBufReported: from?.sndBufReported,
      notSentLowat: from?.notSentLowat ?? 0,
      inq: from?.inq ?? false,
      zeroCopy: from?.zeroCopy ?? false,
      ...(from?.pmtuDisc === undefined ? {} : { pmtuDisc: from.pmtuDisc }),
      written: 0,
      boundPort: undefined,
      boundAddress: undefined,
      shutRd: false,
      shutWr: false,
      connectCalled: false,
      noSpace: false,
      preAccepted: [],
    };
    this.fds.set(fd, entry);
    return entry;
  }

  /** Run (or retry) one call. Never blocks: returns { done: false } when the call would wait. */
  attempt(ctx: CallContext, e: SyscallEvent, state: CallState): CallOutcome {
    try {
      return this.dispatch(ctx, e, state);
    } catch (error) {
      // API misuse the stack refuses has an errno-style code: the call fails with it.
      if (error instanceof StackError) return err(error.code);
      throw error;
    }
  }

  private dispatch(ctx: CallContext, e: SyscallEvent, state: CallState): CallOutcome {
    if (e.name === 'socket') return this.socket(ctx, e);
    if (e.name === 'poll') return this.poll(ctx, e, state);
    if (e.name === 'epoll_create') {
      if (!(intArg(e, 0) > 0)) return err('EINVAL');
      const ep = this.allocate('epoll', undefined, undefined, e.result);
      this.epolls.create(ep.fd);
      return ok(ep.fd);
    }
    if (e.name === 'open') return openFile(this, ctx, e);
    if (e.name === 'pipe') return openPipe(this, ctx, e);
    if (e.name === 'sendfile') return sendfile(this, ctx, e, state);
    if (e.name === 'splice') return splice(this, ctx, e, state);
    const fd = this.fds.get(intArg(e, 0));
    if (fd === undefined) return err('EBADF');
    if ((fd.kind === 'file' || fd.kind === 'pipe') && e.name !== 'close') {
      return ctx.unsupported(`${e.name} on fd ${fd.fd}, an emulated ${fd.kind}: only sendfile, splice and close are emulated on it`);
    }
    // A NULL buffer with a byte count: the kernel's copy faults (EFAULT), and nothing moves.
    if (['write', 'send', 'sendto', 'read', 'recv', 'recvfrom'].includes(e.name) && wordArg(e, 1) === 'NULL' && intArg(e, 2) > 0) return err('EFAULT');
    switch (e.name) {
      case 'bind':
        return this.bind(ctx, fd, e.args[1]!);
      case 'listen':
        return this.listen(ctx, fd, intArg(e, 1));
      case 'accept':
        return this.accept(ctx, fd, e.result);
      case 'connect':
        return this.connect(ctx, fd, e.args[1]!, state);
      case 'write':
        return this.write(ctx, fd, intArg(e, 2), state);
      case 'send':
      case 'sendto': // the address is ignored on a connected socket, as on Linux
        return this.send(ctx, fd, intArg(e, 2), sendFlags(ctx, e.name, e.args[3]), state);
      case 'recvfrom':
        return this.recv(ctx, fd, intArg(e, 2), recvFlags(ctx, e.args[3]));
      case 'recvmsg':
        return this.recvmsg(ctx, fd, e);
      case 'epoll_ctl':
        if (fd.kind !== 'epoll') return err('EINVAL');
        return done(this.epolls.ctl(ctx, fd.fd, evaluate(ctx, e.args[1]!), evaluate(ctx, e.args[2]!), e.args[3]!, this.maskOf(ctx)));
      case 'epoll_wait': {
        if (fd.kind !== 'epoll') return err('EINVAL');
        const r = this.epolls.wait(ctx, fd.fd, e.args[1]!, evaluate(ctx, e.args[2]!), this.maskOf(ctx), timedOut(ctx, state, evaluate(ctx, e.args[3]!)));
        return r === undefined ? BLOCK : done(r);
      }
      case 'read':
        return this.read(ctx, fd, intArg(e, 2));
      case 'recv':
        return this.recv(ctx, fd, intArg(e, 2), recvFlags(ctx, e.args[3]));
      case 'shutdown':
        return this.shutdown(ctx, fd, wordArg(e, 1));
      case 'close':
        return this.close(ctx, fd);
      case 'fcntl':
        return this.fcntl(ctx, fd, e);
      case 'sendmsg':
        return this.sendmsg(ctx, fd, e, state);
      case 'setsockopt':
        return done(setsockopt(this.optionContext(ctx), fd, wordArg(e, 2), e.args[3]!));
      case 'getsockopt':
        return done(getsockopt(this.optionContext(ctx), fd, wordArg(e, 2), e.args[3]!));
      case 'ioctl': {
        const gone = fd.socket !== undefined && fd.kind === 'connection' && this.statusOf(fd.socket).closed;
        return done(ioctl(this.optionContext(ctx), fd, wordArg(e, 1), e.args[2]!, gone));
      }
    }
  }

  // ---- FileHost (files.ts) ----

  allocateFd(kind: 'file' | 'pipe', wanted: Expr | undefined): Fd {
    return this.allocate(kind, undefined, undefined, wanted);
  }

  fdOf(n: number): Fd | undefined {
    return this.fds.get(n);
  }

  writeConn(ctx: CallContext, n: number, count: number, state: CallState, more: boolean, dontWait: boolean): CallOutcome {
    return this.send(ctx, this.fds.get(n)!, count, { more, dontWait, eor: false }, state);
  }

  readConn(ctx: CallContext, n: number, count: number, dontWait: boolean): CallOutcome {
    return this.recv(ctx, this.fds.get(n)!, count, { peek: false, dontWait });
  }

  /** Linux tcp_poll()'s mask of each open descriptor (readiness.ts). */
  private maskOf(ctx: CallContext): MaskOf {
    return (n) => {
      const fd = this.fds.get(n);
      if (fd === undefined) return undefined;
      if (fd.kind === 'connection') return connectionMask(this.readyState(ctx.stack, fd));
      if (fd.kind === 'listener') {
        // Readable when a connection waits to be accepted: take it now, accept() returns it.
        const s = fd.preAccepted.length > 0 ? undefined : ctx.stack.accept(fd.socket!);
        if (s !== undefined) fd.preAccepted.push(s);
        return fd.preAccepted.length > 0 ? 0x41 : 0; // POLLIN | POLLRDNORM
      }
      return fd.kind === 'socket' ? 0x114 : 0; // POLLOUT | POLLWRNORM | POLLHUP: a TCP socket in CLOSE
    };
  }

  private readyState(stack: ConformanceStack, fd: Fd): ReadyState {
    const st = this.statusOf(fd.socket!);
    const info = st.closed ? undefined : stack.info(fd.socket!);
    const inFlight = info === undefined ? 0 : (info.sndNxt - info.sndUna) >>> 0;
    const s: ReadyState = {
      connected: st.connected,
      eof: st.eof,
      closed: st.closed,
      error: st.error !== undefined,
      shutRd: fd.shutRd,
      shutWr: fd.shutWr,
      readable: info?.readable ?? 0,
      queued: info?.sendQueueMemory ?? info?.unacked ?? 0,
      free: info?.writable ?? 0,
      notSent: Math.max(0, (info?.unacked ?? 0) - inFlight),
      notSentLowat: fd.notSentLowat === 0 ? NOTSENT_LOWAT_DEFAULT : fd.notSentLowat,
    };
    // tcp_poll marks a socket it finds without room (SOCK_NOSPACE), so room coming back wakes epoll.
    if (st.connected && !st.closed && !fd.shutWr && !writeable(s)) fd.noSpace = true;
    return s;
  }

  /** After each input: room came back to a socket that had none (Linux's sk_stream_write_space wakeup). */
  afterInput(stack: ConformanceStack, nowUs: number): void {
    for (const fd of this.fds.values()) {
      const ts = fd.timestamping;
      if (ts !== undefined && (ts.pending.length > 0) && fd.kind === 'connection' && !this.statusOf(fd.socket!).closed) {
        const info = stack.info(fd.socket!);
        stamp(ts, nowUs, (info.sndNxt - info.iss - 1) >>> 0, (info.sndUna - info.iss - 1) >>> 0);
      }
      if (!fd.noSpace || fd.kind !== 'connection' || this.statusOf(fd.socket!).closed) continue;
      fd.noSpace = false;
      if (writeable(this.readyState(stack, fd))) this.epolls.wake(fd.fd);
    }
  }

  /** poll(fds, nfds, timeout): readiness.ts poll, blocking up to the timeout (ms; negative: none). */
  private poll(ctx: CallContext, e: SyscallEvent, state: CallState): CallOutcome {
    const r = poll(ctx, e.args[0]!, this.maskOf(ctx), timedOut(ctx, state, evaluate(ctx, e.args[2]!)));
    return r === undefined ? BLOCK : done(r);
  }

  /**
   * recvmsg(2): a recv of the iov's total, then the control messages and msg_flags the script
   * expects are checked (msghdr.ts). The error queue (MSG_ERRQUEUE) holds nothing here.
   */
  private recvmsg(ctx: CallContext, fd: Fd, e: SyscallEvent): CallOutcome {
    const flags = e.args[2];
    if (flags !== undefined && (flags.kind === 'or' ? flags.items : [flags]).some((f) => f.kind === 'word' && f.name === 'MSG_ERRQUEUE')) {
      // The error queue holds SO_TIMESTAMPING's reports only (no zero-copy completions, no ICMP errors).
      return done(readReport(ctx, fd.timestamping, e.args[1]!, ctx.settings.toleranceUs));
    }
    const outcome = this.recv(ctx, fd, recvmsgCount(ctx, e.args[1]!), recvFlags(ctx, flags));
    if (outcome.done && outcome.value >= 0 && fd.kind === 'connection') {
      const st = this.statusOf(fd.socket!);
      const left = st.closed ? 0 : ctx.stack.info(fd.socket!).readable;
      checkRecvmsg(ctx, e.args[1]!, fd.inq ? left + (st.eof ? 1 : 0) : undefined);
    }
    return outcome;
  }

  private socket(ctx: CallContext, e: SyscallEvent): CallOutcome {
    const type = e.args[1]!;
    if (type.kind === 'word' && type.name !== 'SOCK_STREAM') ctx.unsupported(`only SOCK_STREAM sockets are supported, got ${type.name}`);
    return ok(this.allocate('socket', undefined, undefined, e.result).fd);
  }

  private bind(ctx: CallContext, fd: Fd, addr: Expr): CallOutcome {
    if (fd.kind !== 'socket' || fd.boundPort !== undefined) return err('EINVAL');
    const sa = sockaddr(ctx, addr);
    if (sa.address !== undefined && sa.address !== 0 && sa.address !== ctx.settings.localAddress) return err('EADDRNOTAVAIL');
    fd.boundPort = sa.port ?? ctx.settings.bindPort;
    fd.boundAddress = sa.address === 0 ? undefined : sa.address;
    return ok(0);
  }

  private listen(ctx: CallContext, fd: Fd, backlog: number): CallOutcome {
    if (fd.kind === 'listener') return ok(0);
    if (fd.kind !== 'socket') return err('EINVAL');
    const port = fd.boundPort ?? ctx.settings.bindPort;
    const options = { port, backlog: Math.max(1, backlog), options: fd.options, ...(fd.boundAddress === undefined ? {} : { address: fd.boundAddress }) };
    fd.socket = ctx.stack.listen(ctx.now, options);
    fd.kind = 'listener';
    ctx.listened(port);
    return ok(0);
  }

  private accept(ctx: CallContext, fd: Fd, wanted: Expr): CallOutcome {
    if (fd.kind !== 'listener') return err('EINVAL');
    const socket = fd.preAccepted.shift() ?? ctx.stack.accept(fd.socket!);
    if (socket === undefined) return fd.nonBlocking ? err('EAGAIN') : BLOCK;
    const conn = this.allocate('connection', socket, fd, wanted);
    this.statusOf(socket).connected = true;
    this.applyOptions(ctx, conn);
    return ok(conn.fd);
  }

  private applyOptions(ctx: CallContext, fd: Fd): void {
    if (fd.socket === undefined) return;
    if (fd.noDelay) ctx.stack.setNoDelay(fd.socket, true);
    if (fd.keepAlive) ctx.stack.setKeepAlive(fd.socket, true);
  }

  private connect(ctx: CallContext, fd: Fd, addr: Expr, state: CallState): CallOutcome {
    if (!state.started) {
      state.started = true;
      if (fd.kind === 'listener') return err('EINVAL');
      if (fd.kind === 'connection') {
        const st = this.statusOf(fd.socket!);
        if (st.error !== undefined) return this.takeError(st);
        if (st.connected) return err('EISCONN');
        if (st.closed) return err('ECONNABORTED');
        return err('EALREADY');
      }
      const sa = sockaddr(ctx, addr);
      const remotePort = sa.port ?? ctx.settings.connectPort;
      const options = {
        remoteAddress: sa.address ?? ctx.settings.remoteAddress,
        remotePort,
        options: fd.options,
        ...(fd.boundPort === undefined ? {} : { localPort: fd.boundPort }),
        ...(fd.boundAddress === undefined ? {} : { localAddress: fd.boundAddress }),
      };
      const socket = ctx.stack.connect(ctx.now, options);
      fd.kind = 'connection';
      fd.socket = socket;
      fd.connectCalled = true;
      this.applyOptions(ctx, fd);
      ctx.connected(ctx.stack.info(socket).localPort, remotePort);
      if (fd.nonBlocking) return err('EINPROGRESS');
    }
    const st = this.statusOf(fd.socket!);
    if (st.connected) return ok(0);
    if (st.error !== undefined) return this.takeError(st);
    if (st.closed) return err('ECONNREFUSED');
    return BLOCK;
  }

  private optionContext(ctx: CallContext): OptionContext {
    return {
      stack: ctx.stack,
      now: ctx.now,
      config: ctx.config,
      warn: (m) => ctx.warn(m),
      mismatch: (expected, actual) => ctx.mismatch(expected, actual),
      unsupported: (m) => ctx.unsupported(m),
      takeSoError: (fd) => {
        const st = fd.socket === undefined ? undefined : this.statusOf(fd.socket);
        const e = st?.error;
        if (st !== undefined) st.error = undefined;
        return e;
      },
    };
  }

  /**
   * sendmsg(2) on a TCP socket: the bytes of every iov entry, in order, as one write (the
   * address is ignored on a connected socket, as on Linux), with send(2)'s flags.
   */
  private sendmsg(ctx: CallContext, fd: Fd, e: SyscallEvent, state: CallState): CallOutcome {
    const count = iovLengths(e.args[1]!).reduce((a, b) => a + b, 0);
    return this.send(ctx, fd, count, sendFlags(ctx, 'sendmsg', e.args[2]), state);
  }

  /**
   * send(2): a write with MSG_DONTWAIT (this call does not block), MSG_MORE (this write's
   * push holds a small tail) and MSG_EOR (these bytes end a record).
   */
  private send(ctx: CallContext, fd: Fd, count: number, flags: SendFlags, state: CallState): CallOutcome {
    const outcome = this.write(ctx, fd, count, state, flags);
    if (outcome !== BLOCK || !flags.dontWait) return outcome;
    return state.progress > 0 ? ok(state.progress) : err('EAGAIN');
  }

  private takeError(st: SocketStatus): CallOutcome {
    const e = st.error!;
    st.error = undefined;
    return err(e);
  }

  private write(ctx: CallContext, fd: Fd, count: number, state: CallState, flags?: SendFlags): CallOutcome {
    if (fd.kind !== 'connection') return err('EPIPE');
    const st = this.statusOf(fd.socket!);
    if (st.error !== undefined) return state.progress > 0 ? ok(state.progress) : this.takeError(st);
    if (st.closed) return state.progress > 0 ? ok(state.progress) : err('EPIPE');
    if (!st.connected) return fd.nonBlocking ? err('EAGAIN') : BLOCK;
    if (count === 0) return ok(0);
    // Profile 'linux': a writer that blocked sleeps until room comes back as Linux wakes it (a
    // third of SO_SNDBUF free, readiness.ts writeable); then it takes what sndbuf.ts admits.
    if (state.waiting === true && ctx.config.profile === 'linux' && !writeable(this.readyState(ctx.stack, fd))) return BLOCK;
    const taken = this.queue(ctx, fd, count - state.progress, flags);
    state.progress += taken;
    fd.written += taken;
    if (state.progress < count) fd.noSpace = true;
    if (state.progress === count || (fd.nonBlocking && state.progress > 0)) noteWrite(fd.timestamping, fd.written);
    if (state.progress === count) return ok(count);
    if (fd.nonBlocking) return state.progress > 0 ? ok(state.progress) : err('EAGAIN');
    state.waiting = true;
    return BLOCK;
  }

  /**
   * Give the stack up to `n` bytes of a write. Under TCP_NOTSENT_LOWAT the write stops taking
   * bytes once that many are written and not yet sent (Linux's tcp_sendmsg waits on
   * sk_stream_memory_free); without it, one write as before. Only the write's last bytes end
   * a record (MSG_EOR).
   */
  private queue(ctx: CallContext, fd: Fd, n: number, flags: SendFlags | undefined): number {
    const write = (len: number, last: boolean): number => ctx.stack.write(ctx.now, fd.socket!, new Uint8Array(len), flags?.more ?? false, last && (flags?.eor ?? false));
    // Profile 'linux': the stack applies TCP_NOTSENT_LOWAT per send buffer, as Linux does (sndbuf.ts).
    if (fd.notSentLowat === 0 || ctx.config.profile === 'linux') return write(n, true);
    let taken = 0;
    while (taken < n) {
      const room = Math.min(n - taken, fd.notSentLowat - this.readyState(ctx.stack, fd).notSent);
      if (room <= 0) break;
      const k = write(room, taken + room === n);
      taken += k;
      if (k < room) break;
    }
    return taken;
  }

  private read(ctx: CallContext, fd: Fd, count: number): CallOutcome {
    if (fd.kind !== 'connection') return err('ENOTCONN');
    const st = this.statusOf(fd.socket!);
    // After SHUT_RD, data that still arrives is read as Linux's tcp_recvmsg reads it; only an
    // empty buffer then reads as end of file.
    if (count > 0) {
      let data: Uint8Array | undefined;
      try {
        data = ctx.stack.read(ctx.now, fd.socket!, count);
      } catch (error) {
        // A connection that is gone may refuse reads; what the application sees is decided below.
        if (!(error instanceof StackError)) throw error;
        if (!(st.closed || st.eof)) throw error;
      }
      if (data !== undefined && data.length > 0) return ok(data.length);
    }
    if (st.error !== undefined) return this.takeError(st);
    if (count === 0 || st.eof || st.closed || fd.shutRd) return ok(0);
    return fd.nonBlocking ? err('EAGAIN') : BLOCK;
  }

  /**
   * recv(2) with its flags: MSG_PEEK reports what is buffered without taking it (the window
   * does not move, as on Linux); MSG_DONTWAIT makes this one call non-blocking.
   */
  private recv(ctx: CallContext, fd: Fd, count: number, flags: { peek: boolean; dontWait: boolean }): CallOutcome {
    if (!flags.peek) {
      const outcome = this.read(ctx, fd, count);
      return outcome === BLOCK && flags.dontWait ? err('EAGAIN') : outcome;
    }
    if (fd.kind !== 'connection') return err('ENOTCONN');
    const st = this.statusOf(fd.socket!);
    const buffered = st.closed ? 0 : ctx.stack.info(fd.socket!).readable;
    if (count > 0 && buffered > 0) return ok(Math.min(count, buffered));
    if (st.error !== undefined) return this.takeError(st);
    if (count === 0 || st.eof || st.closed || fd.shutRd) return ok(0);
    return fd.nonBlocking || flags.dontWait ? err('EAGAIN') : BLOCK;
  }

  private shutdown(ctx: CallContext, fd: Fd, how: string): CallOutcome {
    if (fd.kind !== 'connection') return err('ENOTCONN');
    if (how === 'SHUT_RD' || how === 'SHUT_RDWR') fd.shutRd = true;
    if (how === 'SHUT_WR' || how === 'SHUT_RDWR') {
      fd.shutWr = true;
      ctx.stack.shutdown(ctx.now, fd.socket!);
    }
    return ok(0);
  }

  private close(ctx: CallContext, fd: Fd): CallOutcome {
    this.fds.delete(fd.fd);
    closeEnd(fd);
    this.epolls.closed(fd.fd);
    if (fd.socket !== undefined) {
      try {
        if (fd.lingerZero && fd.kind === 'connection') ctx.stack.abort(ctx.now, fd.socket);
        else ctx.stack.close(ctx.now, fd.socket);
      } catch (error) {
        // close() of a descriptor always succeeds; the stack may have released a dead connection already.
        if (!(error instanceof StackError)) throw error;
      }
    }
    return ok(0);
  }

  private fcntl(ctx: CallContext, fd: Fd, e: SyscallEvent): CallOutcome {
    const cmd = wordArg(e, 1);
    if (cmd === 'F_GETFL') return ok(O_RDWR | (fd.nonBlocking ? O_NONBLOCK : 0));
    if (cmd !== 'F_SETFL') ctx.unsupported(`fcntl supports F_GETFL and F_SETFL, got ${cmd}`);
    const arg = e.args[2];
    if (arg === undefined) ctx.unsupported('fcntl F_SETFL needs the flags argument');
    fd.nonBlocking = (evaluate(ctx, arg) & O_NONBLOCK) !== 0;
    return ok(0);
  }
}

/** A call with a timeout (ms, negative: none) has waited it out; the first attempt starts the clock. */
function timedOut(ctx: CallContext, state: CallState, timeoutMs: number): boolean {
  if (!state.started) {
    state.started = true;
    if (timeoutMs > 0) state.wakeUs = ctx.now + timeoutMs * 1000;
  }
  return timeoutMs === 0 || (state.wakeUs !== undefined && ctx.now >= state.wakeUs);
}

function done(o: OptionOutcome | NonNullable<ReadyOutcome>): CallOutcome {
  return o.errno === undefined ? ok(o.value) : err(o.errno);
}
