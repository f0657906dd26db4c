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
 * Ports, when a packet line does not write them, are flows.ts's: each passive connection
 * its own remote port (44444 for the first), and towards connect() the script plays port
 * 8080 facing the stack's ephemeral port. An inbound packet without `win` offers 65535, as
 * packetdrill's do.
 */
import { resolveConfig, type ResolvedConfig } from '../tcp/config.js';
import { Stack } from '../tcp/stack.js';
import type { StackConfig, StackProfile } from '../tcp/types.js';
import { parseTcpPacket } from '../wire/packet.js';
import { formatExpected, formatSeconds, formatSegment } from './format.js';
import { parseScript, ParseError } from './parser.js';
import type { PacketEvent, Script, ScriptEvent, SkippedEvent, SyscallEvent } from './script.js';
import { OptionError, type RunSettings } from './settings.js';
import { resolveScript } from './shell.js';
import { Flows } from './flows.js';
import { aggregate, compareSent, describeSent, expectWindow, lastOutboundIndex, sentText, tailWarning, type Sent, type TailRule } from './segments.js';
import { evaluate, formatOutcome } from './exprs.js';
import { SocketTable, type CallContext, type CallOutcome, type CallState } from './sockets.js';
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
  /** What the target did at each line it reached: `sent S. 0:0(0) ...`, `returned = 3` (for comparing targets). */
  trace?: (line: number, actual: string) => void;
  /** The stack's profile for scripts that do not choose one with `--profile` (the command line's --profile). */
  profile?: StackProfile;
  /** Packets sent after the script's last `>` line: 'fail' (default) or 'ignore' (packetdrill's rule, with a warning). */
  tail?: TailRule;
}

export const defaultStackFactory: ConformanceStackFactory = (config) => new Stack(config);

/** How long `*` (any time) waits for a packet before giving up, in virtual time. */
const ANY_TIME_LIMIT_US = 3_600_000_000;
/** Timer firings at one instant before the runner calls the stack stuck. */
const MAX_FIRINGS_PER_INSTANT = 10_000;

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
    const resolved = resolveScript(script);
    warnings.push(...resolved.warnings);
    if (options.toleranceUs !== undefined) resolved.settings.toleranceUs = options.toleranceUs;
    if (options.profile !== undefined) resolved.settings.config.profile ??= options.profile;
    new Run(script, resolved.settings, options.createStack ?? defaultStackFactory, warnings, options.onPacket, options.trace, options.tail).run();
    return { ok: true, warnings };
  } catch (error) {
    if (error instanceof Failure) return { ok: false, warnings, failure: error.failure };
    if (error instanceof OptionError) return { ok: false, warnings, failure: failure(error.line, 'script', error.message, '').failure };
    throw error;
  }
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
  private readonly flows: Flows;
  private pending: Pending | undefined;
  private lastEventUs = 0;
  private line = 0;
  private index = 0;
  private readonly lastOutbound: number;

  constructor(
    private readonly script: Script,
    private readonly settings: RunSettings,
    createStack: ConformanceStackFactory,
    private readonly warnings: string[],
    private readonly onPacket?: RunOptions['onPacket'],
    private readonly trace?: RunOptions['trace'],
    private readonly tail: TailRule = 'fail',
  ) {
    this.lastOutbound = lastOutboundIndex(script.events);
    const config: StackConfig = { ...settings.config, addresses: [settings.localAddress], seed: settings.seed };
    const optionLine = script.options[0]?.line ?? 1;
    try {
      this.config = resolveConfig(config);
      this.stack = createStack(config);
    } catch (error) {
      throw failure(optionLine, 'script', `the stack refused its configuration: ${(error as Error).message}`, '');
    }
    this.flows = new Flows(settings);
  }

  run(): void {
    const events = this.script.events;
    for (this.index = 0; this.index < events.length; this.index++) {
      const e = events[this.index]!;
      this.line = e.line;
      if (e.type === 'packet' && e.direction === 'inbound') this.inbound(e);
      else if (e.type === 'packet') this.outbound(e);
      else if (e.type === 'skipped') this.skipped(e);
      else this.syscall(e);
    }
    this.settlePending();
    const extra = this.queue[0];
    if (extra !== undefined && this.tail === 'ignore') {
      this.warnings.push(tailWarning(this.queue, this.settings.remoteIsn, this.script.events[this.lastOutbound]?.line));
    } else if (extra !== undefined) {
      throw failure(this.line, 'mismatch', 'no more packets after the last event', `> ${describeSent(extra, this.settings.remoteIsn)}`);
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
      const wake = this.pending?.state.wakeUs; // a blocking call's own timeout (poll, epoll_wait)
      const next = minDefined(minDefined(deadline, late), wake);
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
      if (wake !== undefined && this.now >= wake) this.drain();
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
    this.sockets.afterInput(this.stack, this.now); // send space back (epoll's wakeups), SO_TIMESTAMPING's reports

  }

  private record(bytes: Uint8Array): void {
    const parsed = parseTcpPacket(bytes);
    if (!parsed.ok) throw failure(this.line, 'mismatch', 'a well-formed IPv4/TCP packet', `a packet the codec rejects (${parsed.reason})`);
    const seg = parsed.segment;
    const sent = this.flows.sent(this.now, parsed.ip.src, parsed.ip.dst, seg);
    this.queue.push(sent);
    this.onPacket?.('>', this.now, bytes, describeSent(sent, this.settings.remoteIsn));
  }

  // ---- packets ----

  private inbound(e: PacketEvent): void {
    const t = this.eventTime(e);
    this.advanceTo(t);
    this.checkStale(t);
    const ports = this.flows.inboundPorts(e);
    const bytes = this.flows.inbound(e, ports);
    this.onPacket?.('<', this.now, bytes, `${formatSegment({ ...e, ports })} (script line ${e.line}, at ${formatSeconds(this.now)} s)`);
    this.callStack('an inbound packet', () => this.stack.handlePacket(this.now, bytes));
    this.drain();
    this.lastEventUs = t;
  }

  /** A packet sent well before this event that no `>` line took is unexpected. */
  private checkStale(t: number): void {
    if (this.tail === 'ignore' && this.index > this.lastOutbound) return; // left for the warning at the end
    const head = this.queue[0];
    if (head === undefined || head.timeUs >= t - this.settings.toleranceUs) return;
    const nextOutbound = this.script.events.slice(this.index).find((x) => x.type === 'packet' && x.direction === 'outbound');
    if (nextOutbound !== undefined && nextOutbound.time.kind === 'any') return;
    throw failure(this.line, 'mismatch', 'no packet from the stack before this event', `> ${describeSent(head, this.settings.remoteIsn)}`);
  }

  private outbound(e: PacketEvent): void {
    const tol = this.settings.toleranceUs;
    const { lo, hi, nominal, when } = expectWindow(e, tol, { nowUs: this.now, lastEventUs: this.lastEventUs, anyLimitUs: ANY_TIME_LIMIT_US }, () => this.eventTime(e));
    // `*` waits for the stack's timers, but not past the point where nothing is left to happen.
    this.runUntil(hi, () => this.queue.length > 0, e.time.kind !== 'any');
    const head = this.queue.shift();
    if (head === undefined) {
      this.trace?.(e.line, 'sent nothing');
      throw failure(e.line, 'mismatch', `${formatExpected(e)} ${when}`, `nothing sent by ${formatSeconds(this.now)} s`);
    }
    const sent = aggregate(e, head, this.queue, this.settings.strictSegments);
    this.trace?.(e.line, `sent ${sentText(sent, this.settings.remoteIsn)}`);
    const problem = compareSent(e, sent, this.settings) ?? this.flows.tsValProblem(e, sent.seg);
    if (problem !== undefined) {
      throw failure(e.line, 'mismatch', formatExpected(e), `> ${describeSent(sent, this.settings.remoteIsn)} [${problem}]`);
    }
    if (sent.timeUs < lo || sent.timeUs > hi) {
      throw failure(e.line, 'mismatch', `${formatExpected(e)} ${when} (tolerance ${formatSeconds(tol)} s)`, `sent at ${formatSeconds(sent.timeUs)} s`);
    }
    this.flows.matched(e, sent.seg);
    this.lastEventUs = nominal ?? sent.timeUs;
  }

  /** A timed code block or shell command: not run (the parser warned), but its time counts. */
  private skipped(e: SkippedEvent): void {
    const t = this.eventTime(e);
    this.advanceTo(t);
    this.checkStale(t);
    this.lastEventUs = t;
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
      connected: (local, remote) => this.flows.connected(local, remote),
      listened: (port) => this.flows.listened(port),
      mismatch: (expected, actual) => {
        throw failure(e.line, 'mismatch', `${e.text} with ${expected}`, actual);
      },
      unsupported: (message) => {
        throw failure(e.line, 'script', message, '');
      },
    };
  }

  private checkOutcome(e: SyscallEvent, outcome: { value: number; errno?: string }): void {
    this.trace?.(e.line, `returned ${formatOutcome(outcome)}`);
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
