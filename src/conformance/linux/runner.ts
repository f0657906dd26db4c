/**
 * Runs one conformance script against the Linux kernel, in real time (kernel.ts makes the
 * namespace and its helper). The script's events happen at their times from the start of
 * the run, as packetdrill plays them:
 * - an inbound packet (`<`) is written into the TUN device at its time;
 * - an outbound packet (`>`) is matched, as on the ftcp target (segments.ts), against the
 *   next packet the kernel sent, which must come within the tolerance of its time;
 * - a socket call is made at its time; one that blocks goes on in the helper while later
 *   lines run, and must return at the end time written after `...` (or at once).
 * A packet the kernel sends that no `>` line expects is a failure, as on the ftcp target.
 * Options the kernel cannot honour and calls the helper cannot make are the script's ERROR
 * at their line (sysctls.ts, calls.ts).
 */
import { parseTcpPacket } from '../../wire/packet.js';
import { formatExpected, formatSeconds, formatSegment } from '../format.js';
import { Flows } from '../flows.js';
import { parseScript, ParseError } from '../parser.js';
import type { RunFailure, RunOptions, RunResult } from '../runner.js';
import type { PacketEvent, Script, ScriptEvent, SkippedEvent, SyscallEvent } from '../script.js';
import { aggregate, compareSent, describeSent, expectWindow, lastOutboundIndex, sentText, tailWarning, type Sent } from '../segments.js';
import { OptionError, type RunSettings } from '../settings.js';
import { resolveScript } from '../shell.js';
import { evaluate, exprText, formatOutcome, unwrapArray } from '../exprs.js';
import { describeErrno, ERRNO } from '../errno.js';
import { checkFirstEvent, checkRevents } from '../readiness.js';
import { pipeFds, planCall, type PlanContext } from './calls.js';
import { KernelHost, LinuxTargetError, monotonicUs, type CallHandle, type CallReturn } from './kernel.js';
import { linuxSetup } from './sysctls.js';

export type LinuxRunOptions = Pick<RunOptions, 'toleranceUs' | 'onPacket' | 'trace' | 'tail'>;

/** The longest script the linux target runs: it waits out every scripted second. */
const MAX_SCRIPT_US = 3_600_000_000;

/** A script whose lines reach past MAX_SCRIPT_US (a 24-day idle period, say) is an ERROR at the first such line. */
function checkDuration(script: Script): void {
  let t = 0;
  for (const e of script.events) {
    const time = e.time;
    if (time.kind === 'absolute' || time.kind === 'absolute-range') t = time.us;
    else if (time.kind === 'relative' || time.kind === 'relative-range') t += time.us;
    if (t > MAX_SCRIPT_US) throw new OptionError(e.line, `the linux target runs in real time, and this line is at ${formatSeconds(t)} s (more than an hour)`);
  }
}

/** How long `*` (any time) waits for a packet, in real time. */
const ANY_TIME_LIMIT_US = 60_000_000;

class Failure extends Error {
  constructor(readonly failure: RunFailure) {
    super(failure.message);
  }
}

function failure(line: number, kind: RunFailure['kind'], expected: string, actual: string): Failure {
  const message = kind === 'script' ? `script line ${line}: ${expected}` : `script line ${line}: expected: ${expected}  actual: ${actual}`;
  return new Failure({ line, kind, expected, actual, message });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** Parse and run a script's text against the kernel. Throws LinuxTargetError when the target cannot run here. */
export async function runScriptTextLinux(text: string, options: LinuxRunOptions = {}): Promise<RunResult> {
  let script: Script;
  try {
    script = parseScript(text);
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    const f: RunFailure = { line: error.line, kind: 'parse', expected: error.detail, actual: '', message: `script line ${error.line}, column ${error.column}: ${error.detail}` };
    return { ok: false, warnings: [], failure: f };
  }
  const warnings = [...script.warnings];
  let host: KernelHost | undefined;
  try {
    if (script.events.length === 0) throw new OptionError(1, 'the script has no events: nothing to check');
    const resolved = resolveScript(script);
    warnings.push(...resolved.warnings);
    const settings = resolved.settings;
    if (options.toleranceUs !== undefined) settings.toleranceUs = options.toleranceUs;
    checkDuration(script);
    const setup = linuxSetup(resolved.options, settings);
    const run = new LinuxRun(script, settings, warnings, options);
    host = await KernelHost.start(setup, (t, bytes) => run.received(t, bytes));
    await run.run(host);
    return { ok: true, warnings };
  } catch (error) {
    if (error instanceof Failure) return { ok: false, warnings, failure: error.failure };
    if (error instanceof OptionError) return { ok: false, warnings, failure: failure(error.line, 'script', error.message, '').failure };
    throw error;
  } finally {
    await host?.stop();
  }
}

interface Pending {
  event: SyscallEvent;
  handle: CallHandle;
  endUs: number;
}

class LinuxRun {
  private host!: KernelHost;
  private readonly flows: Flows;
  private readonly queue: Sent[] = [];
  private wake: (() => void) | undefined;
  private t0 = 0;
  private slippedUs = 0;
  private readonly unlogged: { sent: Sent; bytes: Uint8Array }[] = [];
  private lastEventUs = 0;
  private index = 0;
  private line = 0;
  private pending: Pending | undefined;
  /** Descriptors the script holds, for the number a socket() or accept() gets. */
  private readonly fds = new Set<number>();

  constructor(
    private readonly script: Script,
    private readonly settings: RunSettings,
    private readonly warnings: string[],
    private readonly options: LinuxRunOptions,
  ) {
    this.flows = new Flows(settings);
  }

  private now(): number {
    return monotonicUs() - this.t0;
  }

  /** A queued packet with its time on the script's clock. */
  private scriptTime(s: Sent): Sent {
    return { ...s, timeUs: s.timeUs - this.t0 };
  }

  /**
   * The helper began an injection or call scripted at `scriptedUs` at `startedAt` (its
   * clock): when that is late (pipes and scheduling on a loaded machine), the script's clock
   * moves by as much, so that the kernel's answers are timed from what it was given when.
   */
  private slip(scriptedUs: number, startedAt: number): void {
    const late = startedAt - this.t0 - scriptedUs;
    if (late <= 0) return;
    this.t0 += late;
    this.slippedUs += late;
  }

  /** A packet from the TUN device (helper time `t`). */
  received(t: number, bytes: Uint8Array): void {
    const parsed = parseTcpPacket(bytes);
    if (!parsed.ok) {
      this.warnings.push(`line ${this.line}: ignored a packet from the kernel that is not IPv4/TCP to the script (${parsed.reason})`);
      return;
    }
    // Kept in helper time until taken: the script's clock may still move (slip()).
    const sent = this.flows.sent(t, parsed.ip.src, parsed.ip.dst, parsed.segment);
    this.queue.push(sent);
    this.unlogged.push({ sent, bytes });
    this.wake?.();
  }

  /** onPacket for the kernel's packets, once the script's clock is settled for them (after a slip). */
  private flushLog(): void {
    for (const { sent, bytes } of this.unlogged.splice(0)) {
      const s = this.scriptTime(sent);
      this.options.onPacket?.('>', s.timeUs, bytes, describeSent(s, this.settings.remoteIsn));
    }
  }

  async run(host: KernelHost): Promise<void> {
    this.host = host;
    this.t0 = monotonicUs();
    const events = this.script.events;
    for (this.index = 0; this.index < events.length; this.index++) {
      const e = events[this.index]!;
      this.line = e.line;
      if (e.type === 'packet' && e.direction === 'inbound') await this.inbound(e);
      else if (e.type === 'packet') await this.outbound(e);
      else if (e.type === 'skipped') await this.skipped(e);
      else await this.syscall(e);
      if (host.failure !== undefined) throw failure(e.line, 'script', `the linux target failed: ${host.failure}`, '');
    }
    await this.settlePending();
    await sleep((this.lastEventUs + this.settings.toleranceUs - this.now()) / 1000);
    this.flushLog();
    if (this.slippedUs > this.settings.toleranceUs) {
      this.warnings.push(`the helper ran ${formatSeconds(this.slippedUs)} s late in all (a loaded machine?); the script's clock moved with it`);
    }
    const extra = this.queue[0];
    const lastOutbound = lastOutboundIndex(this.script.events);
    if (extra !== undefined && this.options.tail === 'ignore') {
      this.warnings.push(tailWarning(this.queue.map((s) => this.scriptTime(s)), this.settings.remoteIsn, this.script.events[lastOutbound]?.line));
    } else if (extra !== undefined) throw failure(this.line, 'mismatch', 'no more packets after the last event', `> ${describeSent(this.scriptTime(extra), this.settings.remoteIsn)}`);
  }

  private eventTime(e: ScriptEvent): number {
    const t = e.time;
    if (t.kind === 'absolute' || t.kind === 'absolute-range') return t.us;
    if (t.kind === 'relative' || t.kind === 'relative-range') return this.lastEventUs + t.us;
    return this.now();
  }

  private async waitUntil(us: number): Promise<void> {
    await sleep((us - this.now()) / 1000);
  }

  /** Wait for a packet until `deadlineUs` (script time); true when one is queued. */
  private async waitPacket(deadlineUs: number): Promise<boolean> {
    while (this.queue.length === 0) {
      const left = deadlineUs - this.now();
      if (left < 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => resolve(), left / 1000 + 1);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    this.flushLog();
    return true;
  }

  private async inbound(e: PacketEvent): Promise<void> {
    const t = this.eventTime(e);
    await this.waitUntil(t);
    this.checkStale(t);
    const ports = this.flows.inboundPorts(e);
    const bytes = this.flows.inbound(e, ports);
    const at = (await this.host.inject(bytes)).ts;
    this.slip(t, at);
    this.options.onPacket?.('<', at - this.t0, bytes, `${formatSegment({ ...e, ports })} (script line ${e.line}, at ${formatSeconds(at - this.t0)} s)`);
    this.flushLog();
    this.lastEventUs = t;
  }

  /** A packet sent well before this event that no `>` line took is unexpected. */
  private checkStale(t: number): void {
    if (this.options.tail === 'ignore' && this.index > lastOutboundIndex(this.script.events)) return; // left for the warning at the end
    const head = this.queue[0] === undefined ? undefined : this.scriptTime(this.queue[0]);
    if (head === undefined || head.timeUs >= t - this.settings.toleranceUs) return;
    const nextOutbound = this.script.events.slice(this.index).find((x) => x.type === 'packet' && x.direction === 'outbound');
    if (nextOutbound !== undefined && nextOutbound.time.kind === 'any') return;
    throw failure(this.line, 'mismatch', 'no packet from the kernel before this event', `> ${describeSent(head, this.settings.remoteIsn)}`);
  }

  private async outbound(e: PacketEvent): Promise<void> {
    const tol = this.settings.toleranceUs;
    const { lo, hi, nominal, when } = expectWindow(e, tol, { nowUs: this.now(), lastEventUs: this.lastEventUs, anyLimitUs: ANY_TIME_LIMIT_US }, () => this.eventTime(e));
    if (!(await this.waitPacket(hi))) {
      this.options.trace?.(e.line, 'sent nothing');
      throw failure(e.line, 'mismatch', `${formatExpected(e)} ${when}`, `nothing sent by ${formatSeconds(this.now())} s`);
    }
    // Segments of one TSO-sized write come out of the device one by one: let the rest arrive.
    if (e.payloadLength > this.queue[0]!.seg.payload.length) await sleep(2);
    const sent = this.scriptTime(aggregate(e, this.queue.shift()!, this.queue, this.settings.strictSegments));
    this.options.trace?.(e.line, `sent ${sentText(sent, this.settings.remoteIsn)}`);
    const problem = compareSent(e, sent, this.settings) ?? this.flows.tsValProblem(e, sent.seg);
    if (problem !== undefined) throw failure(e.line, 'mismatch', formatExpected(e), `> ${describeSent(sent, this.settings.remoteIsn)} [${problem}]`);
    if (sent.timeUs < lo || sent.timeUs > hi) {
      throw failure(e.line, 'mismatch', `${formatExpected(e)} ${when} (tolerance ${formatSeconds(tol)} s)`, `sent at ${formatSeconds(sent.timeUs)} s`);
    }
    this.flows.matched(e, sent.seg);
    this.lastEventUs = nominal ?? sent.timeUs;
  }

  // ---- socket calls ----

  private planContext(e: SyscallEvent): PlanContext {
    return {
      settings: this.settings,
      unsupported: (message) => {
        throw failure(e.line, 'script', message, '');
      },
    };
  }

  /** The descriptor a socket() or accept() returns: the script's number when free, else the lowest free from 3. */
  private newFd(e: SyscallEvent): number {
    const wanted = e.result;
    let fd = wanted.kind === 'int' && wanted.value >= 3 && !this.fds.has(wanted.value) ? wanted.value : 3;
    while (this.fds.has(fd)) fd++;
    return fd;
  }

  /** A timed code block or shell command: not run (the parser warned), but its time counts. */
  private async skipped(e: SkippedEvent): Promise<void> {
    const t = this.eventTime(e);
    await this.waitUntil(t);
    this.checkStale(t);
    this.lastEventUs = t;
  }

  private async syscall(e: SyscallEvent): Promise<void> {
    const t = this.eventTime(e);
    await this.settlePending();
    await this.waitUntil(t);
    this.checkStale(t);
    const endUs = e.end === undefined ? t : e.end.kind === 'absolute' ? e.end.us : this.lastEventUs + e.end.us;
    this.lastEventUs = t;
    const plan = planCall(this.planContext(e), e, () => this.newFd(e));
    const handle = this.host.call(plan.args, plan.mayBlock);
    const first = await handle.started;
    this.slip(t, 'blockedSince' in first ? first.blockedSince : first.ts);
    this.flushLog();
    if ('blockedSince' in first) {
      this.pending = { event: e, handle, endUs };
      return;
    }
    // Back before the helper called it blocked: at once, however long the helper took on a loaded machine.
    this.finish(e, first, e.end === undefined ? undefined : endUs);
  }

  /** Wait for a blocking call still running (before the next call, and at the end). */
  private async settlePending(): Promise<void> {
    const p = this.pending;
    if (p === undefined) return;
    const late = p.endUs + this.settings.toleranceUs;
    const ret = await Promise.race([p.handle.done, sleep((late - this.now()) / 1000 + 1).then(() => undefined)]);
    this.pending = undefined;
    if (ret === undefined) {
      throw failure(p.event.line, 'mismatch', `${p.event.text} returning at ${formatSeconds(p.endUs)} s`, `still blocked at ${formatSeconds(this.now())} s`);
    }
    this.finish(p.event, ret, p.endUs);
  }

  /** A call's result; `endUs` undefined: a call that returned at once, as it should. */
  private finish(e: SyscallEvent, ret: CallReturn, endUs: number | undefined): void {
    if (ret.errno === 'EHELPER') throw failure(e.line, 'script', `the linux target failed: ${this.host.failure ?? 'the helper exited'}`, '');
    const at = ret.t - this.t0;
    this.track(e, ret);
    const outcome = ret.errno === undefined ? { value: ret.value } : { value: ret.value, errno: ret.errno };
    this.options.trace?.(e.line, `returned ${formatOutcome(outcome)}`);
    if (e.result.kind !== 'ellipsis') {
      const expected = evaluate(this.planContext(e), e.result);
      const errnoOk = e.errno === undefined || (e.errno === 'EWOULDBLOCK' ? 'EAGAIN' : e.errno) === ret.errno;
      if (expected !== ret.value || !errnoOk) throw failure(e.line, 'mismatch', e.text, `${e.name} returned ${formatOutcome(outcome).slice(2)}`);
    }
    this.checkOption(e, ret);
    const check = { ...this.planContext(e), mismatch: (expected: string, actual: string): never => { throw failure(e.line, 'mismatch', `${e.text} with ${expected}`, actual); } };
    if (e.name === 'poll' && ret.value >= 0) checkRevents(check, e.args[0]!, ret.revents ?? []);
    if (e.name === 'epoll_wait' && ret.value >= 0) checkFirstEvent(check, e.args[1]!, ret.events?.[0]);
    if (endUs !== undefined && Math.abs(at - endUs) > this.settings.toleranceUs) {
      throw failure(e.line, 'mismatch', `${e.text} returning at ${formatSeconds(endUs)} s`, `returned at ${formatSeconds(at)} s`);
    }
  }

  /** Descriptors and flows a call's success changes. */
  private track(e: SyscallEvent, ret: CallReturn): void {
    const fd = e.args[0]?.kind === 'int' ? e.args[0].value : -1;
    if ((e.name === 'socket' || e.name === 'accept' || e.name === 'epoll_create' || e.name === 'open') && ret.value >= 0) this.fds.add(ret.value);
    if (e.name === 'pipe' && ret.value === 0) for (const x of pipeFds(e)) if (x !== undefined) this.fds.add(x);
    if (e.name === 'close' && ret.value === 0) this.fds.delete(fd);
    if (e.name === 'bind' && ret.value === 0) this.bound.set(fd, planCall(this.planContext(e), e, () => 0).args.port as number);
    if (e.name === 'listen' && ret.value === 0) this.flows.listened(this.boundPort(fd));
    if (e.name === 'connect' && ret.lport !== undefined && (ret.value === 0 || ret.errno === 'EINPROGRESS')) {
      this.flows.connected(ret.lport, this.connectPort(e));
    }
  }

  private readonly bound = new Map<number, number>();

  private boundPort(fd: number): number {
    return this.bound.get(fd) ?? this.settings.bindPort;
  }

  private connectPort(e: SyscallEvent): number {
    const plan = planCall(this.planContext(e), e, () => 0);
    return plan.args.port as number;
  }

  /** getsockopt and ioctl: the value the kernel gave against the script's. */
  private checkOption(e: SyscallEvent, ret: CallReturn): void {
    if ((e.name !== 'getsockopt' && e.name !== 'ioctl') || ret.value !== 0) return;
    const at = e.name === 'ioctl' ? 1 : 2;
    const name = e.args[at]?.kind === 'word' ? e.args[at].name : '';
    const valueExpr = e.args[at + 1];
    if (valueExpr === undefined || valueExpr.kind === 'ellipsis') return;
    if (name === 'SO_LINGER') {
      const want = exprText(valueExpr).replace(/\s/g, '');
      const got = `{onoff=${ret.onoff},linger=${ret.linger}}`;
      if (want !== got) throw failure(e.line, 'mismatch', `${e.text} with SO_LINGER ${want}`, got);
      return;
    }
    const inner = unwrapArray(valueExpr);
    if (inner.kind === 'ellipsis') return;
    const expected = evaluate(this.planContext(e), inner);
    if (expected !== ret.optval) {
      const shown = name === 'SO_ERROR' ? errnoName(ret.optval ?? 0) : String(ret.optval);
      throw failure(e.line, 'mismatch', `${e.text} with ${name} = ${exprText(inner)}`, `${name} = ${shown}`);
    }
  }
}

function errnoName(value: number): string {
  const name = Object.entries(ERRNO).find(([, v]) => v.value === value)?.[0];
  return name === undefined ? String(value) : describeErrno(name);
}

export { LinuxTargetError };
