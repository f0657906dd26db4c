/**
 * Runs one conformance script against a fresh stack in virtual time (DESIGN.md,
 * "Conformance scripts").
 *
 * The stack is the local side (192.0.2.10 by default); the script plays the remote side
 * (192.0.2.1). Events run in script order:
 * - an inbound packet (`<`) is built and handed to the stack at its time;
 * - an outbound packet (`>`) is matched against the next packet the stack sent: flags,
 *   sequence and ack numbers relative to each side's ISN, payload length, window and
 *   urgent pointer if written, options (exactly, or not at all for `<...>`), and the time
 *   within the tolerance (default 4 ms);
 * - a socket call runs at its time. A call that would block on a blocking socket waits in
 *   virtual time while the script's later events go on, as packetdrill's syscall thread
 *   does; it must return at the end time written after `...` (or at once), within the
 *   tolerance.
 * Between events, the stack's timers fire at their deadlines. A packet the stack sends that
 * no `>` line expects is a failure, and so is an expected packet that never comes.
 *
 * Our ISN is learnt from the SYN (or SYN-ACK) we send on each port pair. The remote ISN is
 * 0 (`--remote_isn` changes it): `< S 0:0(0)` sends sequence number 0 on the wire.
 * Outbound TS val is not checked (our TS clock offset is the stack's own); TS ecr is.
 *
 * Ports, when a packet line does not write them (`< 40001>8080 S ...` does): the peer uses
 * port 44444 towards a listener (bound to 8080 unless bind() says otherwise), and towards
 * connect() the script plays port 8080 facing the stack's ephemeral port. An inbound
 * packet without `win` offers 65535, as packetdrill's do.
 */
import { resolveConfig, type ResolvedConfig } from '../tcp/config.js';
import { Stack } from '../tcp/stack.js';
import type { StackConfig } from '../tcp/types.js';
import { buildTcpPacket, parseTcpPacket } from '../wire/packet.js';
import { TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption, type TcpSegment } from '../wire/tcp.js';
import { formatIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { formatExpected, formatSeconds, formatSegment } from './format.js';
import { parseScript, ParseError } from './parser.js';
import type { PacketEvent, Script, ScriptEvent, SyscallEvent } from './script.js';
import { OptionError, resolveSettings, type RunSettings } from './settings.js';
import { formatOutcome, SocketTable, evaluate, type CallContext, type CallOutcome, type CallState } from './sockets.js';
import type { ConformanceStack, ConformanceStackFactory } from './target.js';

export interface RunFailure {
  /** Script line the failure is reported at (the event that did not happen as written). */
  line: number;
  /** 'parse': the script is malformed; 'mismatch': the stack did something else; 'script': the runner cannot do what the script asks; 'crash': the stack threw. */
  kind: 'parse' | 'mismatch' | 'script' | 'crash';
  expected: string;
  actual: string;
  /** One line: `script line 12: expected: ... actual: ...`. */
  message: string;
}

export interface RunResult {
  ok: boolean;
  warnings: string[];
  failure?: RunFailure;
}

export interface RunOptions {
  /** Default: the real stack, `new Stack(config)`. */
  createStack?: ConformanceStackFactory;
  /** Overrides the script's --tolerance_usecs (the command line's --tolerance-usecs). */
  toleranceUs?: number;
  /** Every packet of the run as it happens: '<' injected by the script, '>' sent by the stack, in script terms. */
  onPacket?: (direction: '<' | '>', timeUs: number, bytes: Uint8Array, text: string) => void;
}

export const defaultStackFactory: ConformanceStackFactory = (config) => new Stack(config);

/** How long `*` (any time) waits for a packet before giving up, in virtual time. */
const ANY_TIME_LIMIT_US = 3_600_000_000;
/** Timer firings at one instant before the runner calls the stack stuck. */
const MAX_FIRINGS_PER_INSTANT = 10_000;
const DEFAULT_WINDOW = 65_535;

class Failure extends Error {
  constructor(readonly failure: RunFailure) {
    super(failure.message);
  }
}

function failure(line: number, kind: RunFailure['kind'], expected: string, actual: string): Failure {
  const message = kind === 'parse' || kind === 'script' ? `script line ${line}: ${expected}` : `script line ${line}: expected: ${expected}  actual: ${actual}`;
  return new Failure({ line, kind, expected, actual, message });
}

/** Parse and run a script's text. Never throws for anything the script or the stack does. */
export function runScriptText(text: string, options: RunOptions = {}): RunResult {
  let script: Script;
  try {
    script = parseScript(text);
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    const f: RunFailure = { line: error.line, kind: 'parse', expected: error.detail, actual: '', message: `script line ${error.line}, column ${error.column}: ${error.detail}` };
    return { ok: false, warnings: [], failure: f };
  }
  return runScript(script, options);
}

export function runScript(script: Script, options: RunOptions = {}): RunResult {
  const warnings = [...script.warnings];
  try {
    if (script.events.length === 0) throw new OptionError(1, 'the script has no events: nothing to check');
    const resolved = resolveSettings(script.options);
    warnings.push(...resolved.warnings);
    if (options.toleranceUs !== undefined) resolved.settings.toleranceUs = options.toleranceUs;
    new Run(script, resolved.settings, options.createStack ?? defaultStackFactory, warnings, options.onPacket).run();
    return { ok: true, warnings };
  } catch (error) {
    if (error instanceof Failure) return { ok: false, warnings, failure: error.failure };
    if (error instanceof OptionError) return { ok: false, warnings, failure: failure(error.line, 'script', error.message, '').failure };
    throw error;
  }
}

interface Sent {
  timeUs: number;
  src: Ipv4Addr;
  dst: Ipv4Addr;
  seg: TcpSegment;
  /** Our ISN for this packet's connection when it was sent (0 when it belongs to none). */
  ourIsn: number;
}

interface Pending {
  event: SyscallEvent;
  state: CallState;
  /** When the call should return (absolute µs). */
  endUs: number;
}

class Run {
  private now = 0;
  private readonly stack: ConformanceStack;
  private readonly config: ResolvedConfig;
  private readonly sockets = new SocketTable();
  private readonly queue: Sent[] = [];
  /** Our ISN per `localPort:remotePort`, learnt from the SYNs we send. */
  private readonly ourIsn = new Map<string, number>();
  /**
   * Per `localPort:remotePort`, our TS clock minus the script's, learnt (as packetdrill's
   * ts_val_mapping) from the first outbound packet whose TS val the script writes: inbound
   * TS ecr values are shifted by it, so that they echo our clock.
   */
  private readonly tsMapping = new Map<string, number>();
  /**
   * Port pairs on which the script just sent a SYN without ACK: a new connection attempt.
   * Until we answer, our ISN there is unknown: a SYN-ACK teaches the new one, a RST (no
   * connection took the SYN) is numbered from 0, anything else keeps the old one.
   */
  private readonly newAttempt = new Set<string>();
  private defaultFlow: { local: number; remote: number };
  private pending: Pending | undefined;
  private lastEventUs = 0;
  private line = 0;
  private ipId = 1;
  private index = 0;

  constructor(
    private readonly script: Script,
    private readonly settings: RunSettings,
    createStack: ConformanceStackFactory,
    private readonly warnings: string[],
    private readonly onPacket?: RunOptions['onPacket'],
  ) {
    const config: StackConfig = { ...settings.config, addresses: [settings.localAddress], seed: settings.seed };
    const optionLine = script.options[0]?.line ?? 1;
    try {
      this.config = resolveConfig(config);
      this.stack = createStack(config);
    } catch (error) {
      throw failure(optionLine, 'script', `the stack refused its configuration: ${(error as Error).message}`, '');
    }
    this.defaultFlow = { local: settings.bindPort, remote: settings.remotePort };
  }

  run(): void {
    const events = this.script.events;
    for (this.index = 0; this.index < events.length; this.index++) {
      const e = events[this.index]!;
      this.line = e.line;
      if (e.type === 'packet' && e.direction === 'inbound') this.inbound(e);
      else if (e.type === 'packet') this.outbound(e);
      else this.syscall(e);
    }
    this.settlePending();
    const extra = this.queue[0];
    if (extra !== undefined) {
      throw failure(this.line, 'mismatch', 'no more packets after the last event', `> ${this.describe(extra)}`);
    }
  }

  // ---- time ----

  private eventTime(e: ScriptEvent): number {
    const t = e.time;
    switch (t.kind) {
      case 'absolute':
      case 'absolute-range':
        return t.us;
      case 'relative':
      case 'relative-range':
        return this.lastEventUs + t.us;
      case 'any':
        return this.now;
    }
  }

  /**
   * Fire the stack's timers in deadline order up to `targetUs`, stopping early once `stop()`
   * holds. A pending blocking call that misses its return time fails here. Returns stop().
   */
  private runUntil(targetUs: number, stop: () => boolean, jumpWhenIdle = true): boolean {
    let firings = 0;
    let lastNow = this.now;
    for (;;) {
      if (stop()) return true;
      const deadline = this.callStack('pollTimeout', () => this.stack.pollTimeout());
      const late = this.pending === undefined ? undefined : this.pending.endUs + this.settings.toleranceUs + 1;
      const next = minDefined(deadline, late);
      if (next === undefined || next > targetUs) {
        if (next !== undefined || jumpWhenIdle) this.now = Math.max(this.now, targetUs);
        return stop();
      }
      this.now = Math.max(this.now, next);
      if (this.now === lastNow) {
        if (++firings > MAX_FIRINGS_PER_INSTANT) {
          throw failure(this.line, 'crash', 'the stack to make progress', `pollTimeout() stays at ${formatSeconds(next)} s after handleTimeout()`);
        }
      } else {
        firings = 0;
        lastNow = this.now;
      }
      if (deadline !== undefined && deadline <= this.now) {
        this.callStack('handleTimeout', () => this.stack.handleTimeout(this.now));
        this.drain();
      }
      if (this.pending !== undefined && late !== undefined && this.now >= late) this.pendingLate();
    }
  }

  private advanceTo(us: number): void {
    this.runUntil(us, () => false);
  }

  /** Wait for a blocking call still running (before the next call, and at the end). */
  private settlePending(): void {
    if (this.pending === undefined) return;
    const p = this.pending;
    this.runUntil(p.endUs + this.settings.toleranceUs + 1, () => this.pending === undefined);
    if (this.pending !== undefined) this.pendingLate();
  }

  private pendingLate(): never {
    const p = this.pending!;
    throw failure(p.event.line, 'mismatch', `${p.event.text} returning at ${formatSeconds(p.endUs)} s`, `still blocked at ${formatSeconds(this.now)} s`);
  }

  // ---- stack plumbing ----

  private callStack<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (error) {
      if (error instanceof Failure) throw error;
      const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw failure(this.line, 'crash', `the stack to handle ${what}`, `it threw ${text}`);
    }
  }

  /** Collect what the stack produced; let a pending blocking call finish if it can. */
  private drain(): void {
    for (;;) {
      this.collect();
      if (this.pending === undefined) return;
      const p = this.pending;
      const outcome = this.attempt(p.event, p.state);
      if (!outcome.done) {
        this.collect(); // a partial write may have sent something
        return;
      }
      this.pending = undefined;
      this.checkOutcome(p.event, outcome);
      if (Math.abs(this.now - p.endUs) > this.settings.toleranceUs) {
        throw failure(p.event.line, 'mismatch', `${p.event.text} returning at ${formatSeconds(p.endUs)} s`, `returned at ${formatSeconds(this.now)} s`);
      }
    }
  }

  /** Take every packet and event the stack has ready. */
  private collect(): void {
    for (;;) {
      const bytes = this.callStack('pollTransmit', () => this.stack.pollTransmit());
      if (bytes === undefined) break;
      this.record(bytes);
    }
    for (;;) {
      const e = this.callStack('pollEvent', () => this.stack.pollEvent());
      if (e === undefined) break;
      this.sockets.onEvent(e);
    }
  }

  private record(bytes: Uint8Array): void {
    const parsed = parseTcpPacket(bytes);
    if (!parsed.ok) throw failure(this.line, 'mismatch', 'a well-formed IPv4/TCP packet', `a packet the codec rejects (${parsed.reason})`);
    const seg = parsed.segment;
    const key = `${seg.srcPort}:${seg.dstPort}`;
    if (seg.flags & TCP_SYN) this.ourIsn.set(key, seg.seq);
    let ourIsn = this.ourIsn.get(key) ?? 0;
    if (this.newAttempt.delete(key) && (seg.flags & (TCP_SYN | TCP_RST)) === TCP_RST) ourIsn = 0;
    const sent = { timeUs: this.now, src: parsed.ip.src, dst: parsed.ip.dst, seg, ourIsn };
    this.queue.push(sent);
    this.onPacket?.('>', this.now, bytes, this.describe(sent));
  }

  private isnOf(localPort: number, remotePort: number): number {
    return this.ourIsn.get(`${localPort}:${remotePort}`) ?? 0;
  }

  /** A packet the stack sent, in script terms. */
  private describe(s: Sent): string {
    const ours = s.ourIsn;
    const seg = s.seg;
    const text = formatSegment({
      flags: seg.flags,
      seq: (seg.seq - ours) >>> 0,
      payloadLength: seg.payload.length,
      ack: seg.flags & TCP_ACK ? (seg.ack - this.settings.remoteIsn) >>> 0 : undefined,
      window: seg.window,
      urgentPointer: seg.urgentPointer === 0 ? undefined : seg.urgentPointer,
      options: this.relativeOptions(seg.options, this.settings.remoteIsn),
    });
    return `${text} (ports ${seg.srcPort}>${seg.dstPort}, at ${formatSeconds(s.timeUs)} s)`;
  }

  /** SACK blocks in the other side's sequence space, made relative; trailing EOL padding dropped. */
  private relativeOptions(options: readonly TcpOption[], base: number): TcpOption[] {
    const out = options.map((o): TcpOption => (o.kind === 'sack' ? { kind: 'sack', blocks: o.blocks.map((b) => ({ left: (b.left - base) >>> 0, right: (b.right - base) >>> 0 })) } : o));
    while (out.length > 0 && out[out.length - 1]!.kind === 'eol') out.pop();
    return out;
  }

  // ---- packets ----

  private inbound(e: PacketEvent): void {
    const t = this.eventTime(e);
    this.advanceTo(t);
    this.checkStale(t);
    const remotePort = e.ports?.src ?? this.defaultFlow.remote;
    const localPort = e.ports?.dst ?? this.defaultFlow.local;
    const ours = this.isnOf(localPort, remotePort);
    const tsShift = this.tsMapping.get(`${localPort}:${remotePort}`);
    const options = (e.options as TcpOption[]).map((o): TcpOption => {
      if (o.kind === 'sack') return { kind: 'sack', blocks: o.blocks.map((b) => ({ left: (b.left + ours) >>> 0, right: (b.right + ours) >>> 0 })) };
      if (o.kind === 'ts' && o.ecr !== 0 && tsShift !== undefined) return { kind: 'ts', val: o.val, ecr: (o.ecr + tsShift) >>> 0 };
      return o;
    });
    const bytes = buildTcpPacket(
      { src: this.settings.remoteAddress, dst: this.settings.localAddress, id: this.ipId++ & 0xffff, ttl: 64 },
      {
        srcPort: remotePort,
        dstPort: localPort,
        seq: (this.settings.remoteIsn + e.seq) >>> 0,
        ack: e.ack === undefined ? 0 : (ours + e.ack) >>> 0,
        flags: e.flags,
        window: e.window ?? DEFAULT_WINDOW,
        urgentPointer: e.urgentPointer ?? 0,
        options,
        payload: new Uint8Array(e.payloadLength),
      },
    );
    if ((e.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) this.newAttempt.add(`${localPort}:${remotePort}`);
    this.onPacket?.('<', this.now, bytes, `${formatSegment({ ...e, ports: { src: remotePort, dst: localPort } })} (script line ${e.line}, at ${formatSeconds(this.now)} s)`);
    this.callStack('an inbound packet', () => this.stack.handlePacket(this.now, bytes));
    this.drain();
    this.lastEventUs = t;
  }

  /** A packet sent well before this event that no `>` line took is unexpected. */
  private checkStale(t: number): void {
    const head = this.queue[0];
    if (head === undefined || head.timeUs >= t - this.settings.toleranceUs) return;
    const nextOutbound = this.script.events.slice(this.index).find((x) => x.type === 'packet' && x.direction === 'outbound');
    if (nextOutbound !== undefined && nextOutbound.time.kind === 'any') return;
    throw failure(this.line, 'mismatch', 'no packet from the stack before this event', `> ${this.describe(head)}`);
  }

  private outbound(e: PacketEvent): void {
    const tol = this.settings.toleranceUs;
    let lo: number;
    let hi: number;
    let nominal: number | undefined;
    const t = e.time;
    if (t.kind === 'any') {
      lo = -Infinity;
      hi = this.now + ANY_TIME_LIMIT_US;
    } else if (t.kind === 'absolute-range' || t.kind === 'relative-range') {
      const base = t.kind === 'relative-range' ? this.lastEventUs : 0;
      lo = base + t.us - tol;
      hi = base + t.endUs + tol;
    } else {
      nominal = this.eventTime(e);
      lo = nominal - tol;
      hi = nominal + tol;
    }
    const when = nominal !== undefined ? `at ${formatSeconds(nominal)} s` : t.kind === 'any' ? 'at any time' : `between ${formatSeconds(lo + tol)} and ${formatSeconds(hi - tol)} s`;
    // `*` waits for the stack's timers, but not past the point where nothing is left to happen.
    this.runUntil(hi, () => this.queue.length > 0, t.kind !== 'any');
    const head = this.queue.shift();
    if (head === undefined) {
      throw failure(e.line, 'mismatch', `${formatExpected(e)} ${when}`, `nothing sent by ${formatSeconds(this.now)} s`);
    }
    const sent = this.aggregate(e, head);
    const problem = this.compare(e, sent);
    if (problem !== undefined) {
      throw failure(e.line, 'mismatch', formatExpected(e), `> ${this.describe(sent)} [${problem}]`);
    }
    if (sent.timeUs < lo || sent.timeUs > hi) {
      throw failure(e.line, 'mismatch', `${formatExpected(e)} ${when} (tolerance ${formatSeconds(tol)} s)`, `sent at ${formatSeconds(sent.timeUs)} s`);
    }
    this.learnTsMapping(e, sent.seg);
    this.lastEventUs = nominal ?? sent.timeUs;
  }

  /**
   * TSO/GSO as the public suites assume it: a script written against Linux expects one large
   * segment (`> P. 1:3001(3000)`) where the NIC would cut MSS-sized ones, and this stack sends
   * the MSS-sized ones. When the scripted payload is longer than the first segment sent, the
   * segments queued right behind it that continue it (same flow, next sequence number, same
   * ACK, same flags but PSH, no more than the scripted length in all) are taken as one; PSH
   * is the last one's, as on the aggregate Linux would have sent.
   */
  private aggregate(e: PacketEvent, first: Sent): Sent {
    const want = e.payloadLength;
    if (first.seg.payload.length === 0 || want <= first.seg.payload.length) return first;
    const parts = [first];
    let total = first.seg.payload.length;
    for (;;) {
      const next = this.queue[0];
      const last = parts[parts.length - 1]!.seg;
      if (next === undefined || total >= want) break;
      const n = next.seg;
      if (n.srcPort !== last.srcPort || n.dstPort !== last.dstPort || n.seq !== ((last.seq + last.payload.length) >>> 0)) break;
      if (n.ack !== first.seg.ack || (n.flags | TCP_PSH) !== (first.seg.flags | TCP_PSH) || n.payload.length === 0 || total + n.payload.length > want) break;
      parts.push(this.queue.shift()!);
      total += n.payload.length;
    }
    if (parts.length === 1) return first;
    const payload = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      payload.set(p.seg.payload, at);
      at += p.seg.payload.length;
    }
    const lastSeg = parts[parts.length - 1]!.seg;
    return { ...first, seg: { ...first.seg, flags: (first.seg.flags & ~TCP_PSH) | (lastSeg.flags & TCP_PSH), window: lastSeg.window, payload } };
  }

  private learnTsMapping(e: PacketEvent, seg: TcpSegment): void {
    const key = `${seg.srcPort}:${seg.dstPort}`;
    if (e.options === 'any' || this.tsMapping.has(key)) return;
    const want = e.options.find((o) => o.kind === 'ts');
    const got = seg.options.find((o) => o.kind === 'ts');
    if (want?.kind === 'ts' && got?.kind === 'ts') this.tsMapping.set(key, (got.val - want.val) >>> 0);
  }

  /** Why `sent` is not the packet `e` describes, or undefined if it is. */
  private compare(e: PacketEvent, sent: Sent): string | undefined {
    const seg = sent.seg;
    if (sent.src !== this.settings.localAddress || sent.dst !== this.settings.remoteAddress) {
      return `addresses ${formatIpv4Addr(sent.src)} > ${formatIpv4Addr(sent.dst)}`;
    }
    if (e.ports !== undefined && (seg.srcPort !== e.ports.src || seg.dstPort !== e.ports.dst)) return 'ports differ';
    if (seg.flags !== e.flags) return 'flags differ';
    if ((seg.seq - sent.ourIsn) >>> 0 !== e.seq) return 'sequence number differs';
    if (seg.payload.length !== e.payloadLength) return 'payload length differs';
    if (e.ack !== undefined && (e.flags & TCP_ACK) !== 0 && (seg.ack - this.settings.remoteIsn) >>> 0 !== e.ack) return 'ack number differs';
    if (e.window !== undefined && seg.window !== e.window) return 'window differs';
    if (e.urgentPointer !== undefined && seg.urgentPointer !== e.urgentPointer) return 'urgent pointer differs';
    if (e.options !== 'any' && !optionsEqual(e.options, this.relativeOptions(seg.options, this.settings.remoteIsn))) return 'options differ';
    return undefined;
  }

  // ---- socket calls ----

  private syscall(e: SyscallEvent): void {
    const t = this.eventTime(e);
    this.settlePending();
    this.advanceTo(t);
    this.checkStale(t);
    const endUs = e.end === undefined ? Math.max(t, this.now) : e.end.kind === 'absolute' ? e.end.us : this.lastEventUs + e.end.us;
    this.lastEventUs = t;
    const state: CallState = { started: false, progress: 0 };
    const outcome = this.attempt(e, state);
    if (outcome.done) {
      this.drain();
      this.checkOutcome(e, outcome);
      if (Math.abs(this.now - endUs) > this.settings.toleranceUs) {
        throw failure(e.line, 'mismatch', `${e.text} blocking until ${formatSeconds(endUs)} s`, `returned at once, at ${formatSeconds(this.now)} s`);
      }
      return;
    }
    this.pending = { event: e, state, endUs };
    this.drain();
  }

  private attempt(e: SyscallEvent, state: CallState): CallOutcome {
    return this.callStack(e.name, () => this.sockets.attempt(this.callContext(e), e, state));
  }

  private callContext(e: SyscallEvent): CallContext {
    return {
      stack: this.stack,
      now: this.now,
      settings: this.settings,
      config: this.config,
      warn: (message) => this.warnings.push(`line ${e.line}: ${message}`),
      setDefaultFlow: (local, remote) => {
        this.defaultFlow = { local, remote };
      },
      mismatch: (expected, actual) => {
        throw failure(e.line, 'mismatch', `${e.text} with ${expected}`, actual);
      },
      unsupported: (message) => {
        throw failure(e.line, 'script', message, '');
      },
    };
  }

  private checkOutcome(e: SyscallEvent, outcome: { value: number; errno?: string }): void {
    if (e.result.kind === 'ellipsis') return;
    const ctx = this.callContext(e);
    const expected = evaluate(ctx, e.result);
    const errnoOk = e.errno === undefined || canonical(e.errno) === outcome.errno;
    if (expected !== outcome.value || !errnoOk) {
      throw failure(e.line, 'mismatch', e.text, `${e.name} returned ${formatOutcome(outcome).slice(2)}`);
    }
  }
}

function canonical(errno: string): string {
  return errno === 'EWOULDBLOCK' ? 'EAGAIN' : errno;
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

function optionsEqual(expected: readonly TcpOption[], actual: readonly TcpOption[]): boolean {
  const want = [...expected];
  while (want.length > 0 && want[want.length - 1]!.kind === 'eol') want.pop();
  if (want.length !== actual.length) return false;
  return want.every((w, i) => {
    const a = actual[i]!;
    if (w.kind !== a.kind) return false;
    switch (w.kind) {
      case 'mss':
        return a.kind === 'mss' && a.mss === w.mss;
      case 'wscale':
        return a.kind === 'wscale' && a.shift === w.shift;
      case 'sack':
        return a.kind === 'sack' && a.blocks.length === w.blocks.length && a.blocks.every((b, j) => b.left === w.blocks[j]!.left && b.right === w.blocks[j]!.right);
      case 'ts':
        // Our TS clock's offset is the stack's own: only the echoed value is checked.
        return a.kind === 'ts' && a.ecr === w.ecr;
      default:
        return true;
    }
  });
}
