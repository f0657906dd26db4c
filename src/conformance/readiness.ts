/**
 * poll(2) and epoll(7) on the ftcp target: which descriptors are ready, as Linux's
 * tcp_poll() reports them, and epoll's ready list, which (as Linux's ep_poll_callback)
 * an item joins on a wakeup of its socket (data arrived, the connection changed state,
 * send space came back) and, edge-triggered (EPOLLET), leaves when epoll_wait reports it.
 * Readiness is socket-layer state: the stack's queues (info()) decide it, the runner's
 * descriptors hold it. TCP_NOTSENT_LOWAT (tcp(7)) is here too: Linux's writability test
 * (sk_stream_is_writeable) counts the bytes written and not yet sent against it.
 */
import { EPOLLET, EPOLLONESHOT, evaluate, exprText, POLL, type EvalContext } from './exprs.js';
import type { Expr } from './script.js';

/** Linux's default tcp_notsent_lowat sysctl (UINT_MAX): no limit. */
export const NOTSENT_LOWAT_DEFAULT = 0xffff_ffff;
/** Bits every poll and epoll reports whether asked for or not. */
const ALWAYS = POLL.ERR | POLL.HUP;

/** What a connection's readiness depends on. */
export interface ReadyState {
  connected: boolean;
  /** The peer's FIN was received (RCV_SHUTDOWN). */
  eof: boolean;
  /** The connection is gone (reset, timed out, or closed both ways). */
  closed: boolean;
  error: boolean;
  shutRd: boolean;
  shutWr: boolean;
  /** Bytes buffered to read, queued to send (unacknowledged), free in the send buffer, written and not yet sent. */
  readable: number;
  queued: number;
  free: number;
  notSent: number;
  notSentLowat: number;
}

/**
 * Linux sk_stream_is_writeable with wake = 1 (what poll and the write-space wakeup test):
 * free space at least half of what is queued, and the unsent bytes, doubled, under the
 * TCP_NOTSENT_LOWAT limit (tcp_stream_memory_free).
 */
export function writeable(s: ReadyState): boolean {
  return s.free >= s.queued / 2 && s.notSent * 2 < s.notSentLowat;
}

/** Linux tcp_poll() for a connection. */
export function connectionMask(s: ReadyState): number {
  let mask = 0;
  if (s.closed || (s.shutRd && s.shutWr)) mask |= POLL.HUP;
  if (s.closed || s.eof || s.shutRd) mask |= POLL.IN | POLL.RDNORM | POLL.RDHUP;
  if (s.connected || s.closed) {
    if (s.readable > 0) mask |= POLL.IN | POLL.RDNORM;
    if (s.closed || s.shutWr || writeable(s)) mask |= POLL.OUT | POLL.WRNORM;
  }
  if (s.error) mask |= POLL.ERR;
  return mask;
}

/** The runner's view of its descriptors: a descriptor's mask, or undefined when it is not open. */
export type MaskOf = (fd: number) => number | undefined;

interface Item {
  events: number;
  /** On the ready list (a wakeup since it was last reported). */
  ready: boolean;
}

export type ReadyOutcome = { value: number; errno?: string } | undefined;

function field(ctx: EvalContext, e: Expr, name: string): number | undefined {
  if (e.kind !== 'struct') return undefined;
  const item = e.items.find((i) => i.kind === 'assign' && i.name === name);
  return item?.kind === 'assign' ? evaluate(ctx, item.value) : undefined;
}

/** What a check of a reported value needs. */
export interface CheckContext extends EvalContext {
  mismatch(expected: string, actual: string): never;
}

/** Bits by name, for messages. */
export function maskText(mask: number, prefix: 'POLL' | 'EPOLL'): string {
  if (mask === 0) return '0';
  const names = Object.entries(POLL).filter(([, v]) => (mask & v) !== 0).map(([k]) => `${prefix}${k}`);
  return names.join('|');
}

/**
 * poll(fds, nfds, timeout): each entry's revents is its mask within what it asked for (and
 * POLLERR, POLLHUP; POLLNVAL for a descriptor not open). Returns the count of entries with
 * any, or undefined while none has and the timeout has not run out (`expired`). The
 * script's `revents=` are checked once the call returns.
 */
export function poll(ctx: CheckContext, fds: Expr, maskOf: MaskOf, expired: boolean): ReadyOutcome {
  const got = pollEntries(ctx, fds).map(({ fd, events }) => {
    const mask = maskOf(fd);
    return mask === undefined ? POLL.NVAL : mask & (events | ALWAYS);
  });
  const count = got.filter((m) => m !== 0).length;
  if (count === 0 && !expired) return undefined;
  checkRevents(ctx, fds, got);
  return { value: count };
}

/** The script's pollfd entries ({fd, events}) as numbers, for the linux target. */
export function pollEntries(ctx: EvalContext, fds: Expr): { fd: number; events: number }[] {
  if (fds.kind !== 'array') return ctx.unsupported(`poll's first argument is [{fd=N, events=MASK, revents=MASK}, ...], got ${exprText(fds)}`);
  return fds.items.map((entry) => {
    const fd = field(ctx, entry, 'fd');
    const events = field(ctx, entry, 'events');
    if (fd === undefined || events === undefined) return ctx.unsupported(`a pollfd is {fd=N, events=MASK, revents=MASK}, got ${exprText(entry)}`);
    return { fd, events };
  });
}

/** Each entry's `revents=` (when the script gives one) against what the call reported. */
export function checkRevents(ctx: CheckContext, fds: Expr, got: readonly number[]): void {
  if (fds.kind !== 'array') return;
  fds.items.forEach((entry, i) => {
    const want = field(ctx, entry, 'revents');
    if (want !== undefined && want !== got[i]) ctx.mismatch(`revents=${maskText(want, 'POLL')} for fd ${field(ctx, entry, 'fd')}`, `revents=${maskText(got[i] ?? 0, 'POLL')}`);
  });
}

/** epoll_wait's `{events=MASK, fd=N}` (when given) against the first event reported. */
export function checkFirstEvent(ctx: CheckContext, out: Expr, first: { fd: number; events: number } | undefined): void {
  const wantEvents = field(ctx, out, 'events');
  const wantFd = field(ctx, out, 'fd');
  if (wantEvents !== undefined && wantEvents !== (first?.events ?? 0)) {
    ctx.mismatch(`events=${maskText(wantEvents, 'EPOLL')}`, `events=${maskText(first?.events ?? 0, 'EPOLL')}${first === undefined ? '' : ` (fd ${first.fd})`}`);
  }
  if (wantFd !== undefined && first !== undefined && wantFd !== first.fd) ctx.mismatch(`an event for fd ${wantFd}`, `an event for fd ${first.fd}`);
}

/** The epoll instances of one run, by descriptor: the items each watches, by descriptor. */
export class EpollSets {
  private readonly sets = new Map<number, Map<number, Item>>();

  create(epfd: number): void {
    this.sets.set(epfd, new Map());
  }

  has(epfd: number): boolean {
    return this.sets.has(epfd);
  }

  /** Descriptor `fd` was closed: an epoll instance ends, a socket leaves every set (its last close). */
  closed(fd: number): void {
    this.sets.delete(fd);
    for (const items of this.sets.values()) items.delete(fd);
  }

  /** A wakeup on `fd` (Linux's sk_data_ready, sk_state_change, sk_write_space): it joins the ready lists. */
  wake(fd: number): void {
    for (const items of this.sets.values()) {
      const item = items.get(fd);
      if (item !== undefined) item.ready = true;
    }
  }

  /** epoll_ctl(epfd, op, fd, {events=MASK, ...}). */
  ctl(ctx: EvalContext, epfd: number, op: number, fd: number, ev: Expr, maskOf: MaskOf): { value: number; errno?: string } {
    const items = this.sets.get(epfd);
    if (items === undefined) return { value: -1, errno: 'EINVAL' };
    if (fd === epfd) return { value: -1, errno: 'EINVAL' };
    const mask = maskOf(fd);
    if (mask === undefined) return { value: -1, errno: 'EBADF' };
    const events = op === 2 ? 0 : field(ctx, ev, 'events');
    if (events === undefined) return ctx.unsupported(`epoll_ctl's event is {events=MASK, fd=N}, got ${exprText(ev)}`);
    switch (op) {
      case 1: // EPOLL_CTL_ADD: polled at once, as Linux's ep_insert
        if (items.has(fd)) return { value: -1, errno: 'EEXIST' };
        items.set(fd, { events: events >>> 0, ready: (mask & (events | ALWAYS)) !== 0 });
        return { value: 0 };
      case 2: // EPOLL_CTL_DEL
        return items.delete(fd) ? { value: 0 } : { value: -1, errno: 'ENOENT' };
      case 3: {
        // EPOLL_CTL_MOD: polled again, as Linux's ep_modify
        const item = items.get(fd);
        if (item === undefined) return { value: -1, errno: 'ENOENT' };
        item.events = events >>> 0;
        item.ready = (mask & (events | ALWAYS)) !== 0;
        return { value: 0 };
      }
      default:
        return ctx.unsupported(`epoll_ctl's operation is EPOLL_CTL_ADD, EPOLL_CTL_DEL or EPOLL_CTL_MOD, got ${op}`);
    }
  }

  /**
   * epoll_wait(epfd, events, maxevents, timeout): the ready items whose mask meets what they
   * watch, in the order they were added, at most maxevents. Edge-triggered items leave the
   * ready list when reported; level-triggered ones stay while their mask holds; EPOLLONESHOT
   * ones report once. Returns undefined while nothing is ready and the timeout has not run
   * out. The script's `{events=MASK, fd=N}` is checked against the first event reported.
   */
  wait(ctx: CheckContext, epfd: number, out: Expr, max: number, maskOf: MaskOf, expired: boolean): ReadyOutcome {
    const items = this.sets.get(epfd);
    if (items === undefined) return { value: -1, errno: 'EINVAL' };
    if (!(max > 0)) return { value: -1, errno: 'EINVAL' };
    const found: { fd: number; events: number }[] = [];
    for (const [fd, item] of items) {
      if (found.length >= max) break;
      if (!item.ready) continue;
      const got = (maskOf(fd) ?? 0) & (item.events | ALWAYS);
      if (got === 0) {
        item.ready = false;
        continue;
      }
      found.push({ fd, events: got });
      if ((item.events & EPOLLET) !== 0) item.ready = false;
      if ((item.events & EPOLLONESHOT) !== 0) item.events = 0;
    }
    if (found.length === 0 && !expired) return undefined;
    checkFirstEvent(ctx, out, found[0]);
    return { value: found.length };
  }
}
