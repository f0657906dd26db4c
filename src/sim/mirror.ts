/**
 * MirroredStack: drives two stacks that should be in the same state (an original and one
 * restored from its snapshot) with exactly the same inputs, and compares every output:
 * packets, events, deadlines, return values, errors. The original's outputs are the ones
 * returned, so a run with a mirror is the same run as one without.
 *
 * This is the determinism contract checked live (DESIGN.md): same state + same inputs
 * -> same bytes. The first difference is recorded with the call that exposed it.
 */
import type { ConnectOptions, ListenOptions, SocketId, SocketInfo, StackEvent, StackStats } from '../tcp/types.js';
import type { StackApi } from './stack-api.js';

export interface MirrorReport {
  /** Calls made on both stacks since the mirror started. */
  calls: number;
  /** Packets that came out of both, byte-identical. */
  packetsCompared: number;
  /** The first difference, e.g. "pollTransmit #12: packets differ at byte 24 (…)"; undefined while none. */
  mismatch?: string;
}

export class MirroredStack implements StackApi {
  readonly report: MirrorReport = { calls: 0, packetsCompared: 0 };

  constructor(
    readonly primary: StackApi,
    readonly shadow: StackApi,
  ) {}

  get diverged(): boolean {
    return this.report.mismatch !== undefined;
  }

  handlePacket(nowUs: number, bytes: Uint8Array): unknown {
    // The shadow gets its own copy: a stack that kept a view into the buffer must not see the other's writes.
    return this.both('handlePacket', (s, i) => s.handlePacket(nowUs, i === 0 ? bytes : bytes.slice()), sameAny);
  }

  handleTimeout(nowUs: number): unknown {
    return this.both('handleTimeout', (s) => s.handleTimeout(nowUs), sameAny);
  }

  pollTransmit(): Uint8Array | undefined {
    const packet = this.both('pollTransmit', (s) => s.pollTransmit(), samePacket);
    if (packet !== undefined) this.report.packetsCompared++;
    return packet;
  }

  pollEvent(): StackEvent | undefined {
    return this.both('pollEvent', (s) => s.pollEvent(), sameJson);
  }

  pollTimeout(): number | undefined {
    return this.both('pollTimeout', (s) => s.pollTimeout(), sameValue);
  }

  listen(nowUs: number, options: ListenOptions): SocketId {
    return this.both('listen', (s) => s.listen(nowUs, options), sameValue);
  }

  accept(listener: SocketId): SocketId | undefined {
    return this.both('accept', (s) => s.accept(listener), sameValue);
  }

  connect(nowUs: number, options: ConnectOptions): SocketId {
    return this.both('connect', (s) => s.connect(nowUs, options), sameValue);
  }

  write(nowUs: number, socket: SocketId, bytes: Uint8Array): number {
    return this.both('write', (s, i) => s.write(nowUs, socket, i === 0 ? bytes : bytes.slice()), sameValue);
  }

  read(nowUs: number, socket: SocketId, max?: number): Uint8Array {
    return this.both('read', (s) => s.read(nowUs, socket, max), samePacket);
  }

  shutdown(nowUs: number, socket: SocketId): unknown {
    return this.both('shutdown', (s) => s.shutdown(nowUs, socket), sameAny);
  }

  close(nowUs: number, socket: SocketId): unknown {
    return this.both('close', (s) => s.close(nowUs, socket), sameAny);
  }

  info(socket: SocketId): SocketInfo {
    return this.both('info', (s) => s.info(socket), sameJson);
  }

  /** The primary's statistics (counters need not be part of a snapshot). */
  stats(): StackStats {
    return this.primary.stats();
  }

  snapshot(): Uint8Array {
    return this.primary.snapshot();
  }

  /**
   * Call `fn` on the primary and then the shadow; compare results (or thrown errors).
   * Returns (or throws) the primary's outcome.
   */
  private both<R>(name: string, fn: (stack: StackApi, index: number) => R, same: (a: R, b: R) => string | undefined): R {
    const callNo = ++this.report.calls;
    const a = attempt(() => fn(this.primary, 0));
    // Once diverged, the shadow is no longer interesting and may throw anywhere: stop driving it.
    if (this.report.mismatch === undefined) {
      const b = attempt(() => fn(this.shadow, 1));
      let diff: string | undefined;
      if (a.ok && b.ok) diff = same(a.value, b.value);
      else if (!a.ok && !b.ok) diff = errorText(a.error) === errorText(b.error) ? undefined : `errors differ: ${errorText(a.error)} vs ${errorText(b.error)}`;
      else diff = a.ok ? `only the restored stack threw: ${errorText((b as Failed).error)}` : `only the original threw: ${errorText(a.error)}`;
      if (diff !== undefined) this.report.mismatch = `call #${callNo} ${name}(): ${diff}`;
    }
    if (!a.ok) throw a.error;
    return a.value;
  }
}

interface Failed {
  ok: false;
  error: unknown;
}

function attempt<R>(fn: () => R): { ok: true; value: R } | Failed {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sameValue<R>(a: R, b: R): string | undefined {
  return Object.is(a, b) ? undefined : `${String(a)} vs ${String(b)}`;
}

function sameAny(): undefined {
  return undefined;
}

function sameJson<R>(a: R, b: R): string | undefined {
  const ja = JSON.stringify(a);
  const jb = JSON.stringify(b);
  return ja === jb ? undefined : `${ja} vs ${jb}`;
}

function samePacket(a: Uint8Array | undefined, b: Uint8Array | undefined): string | undefined {
  if (a === undefined || b === undefined) {
    return a === b ? undefined : `${a === undefined ? 'nothing' : `${a.length} bytes`} vs ${b === undefined ? 'nothing' : `${b.length} bytes`}`;
  }
  if (a.length !== b.length) return `lengths differ: ${a.length} vs ${b.length} bytes`;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return `bytes differ at offset ${i} (0x${hex(a[i]!)} vs 0x${hex(b[i]!)}) of ${a.length}`;
  }
  return undefined;
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}
