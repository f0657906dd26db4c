/**
 * The backup role (DESIGN.md, "The replicated state machine", "Backup", "Going live",
 * "Joining").
 *
 * Takes entries strictly in index order (CRC checked by the codec; a gap or a bad frame
 * asks for a resend), applies each, checks its state against the one the primary
 * recorded in the entry, acknowledges it, and keeps its outputs O(i) in a shadow queue
 * until the primary reports r >= i. It runs no timers of its own and sends nothing to
 * clients. It answers every frame, heartbeats included.
 *
 * When the primary has been silent for D, or its end of the log channel closed (peerLost),
 * it asks the arbiter for the test-and-set of the current epoch. Won: go live (the caller
 * turns it into a lone primary, see goLive()). Lost: the primary is alive and in charge;
 * the backup stops.
 *
 * Planned switchover: the primary's `handover` gives r and its last index. Once every entry
 * up to it is applied, the backup asks the arbiter at once, without waiting for silence;
 * client packets the primary forwarded meanwhile are kept and become input when live.
 *
 * A joining backup starts without state: it sends `join` to the primary until it has
 * received the whole snapshot at index k, restores it, and continues from k + 1. The
 * restore runs to completion and, for a large snapshot on a busy machine, can outlast the
 * failure timeout; so with the last chunk it first says it is alive (`join` with the
 * snapshot's epoch) and restores at its next timeout, due at once, after the driver has
 * sent that. Its own restore is not its primary's silence: the failure detector starts
 * counting at its first timeout after the restore (again due at once), not at the last chunk.
 */
import type { ArbiterResponse } from './arbiter.js';
import { decodeAppendEntries, encodeChannel, type ChannelMessage } from './channel.js';
import type { LogEntry } from './log.js';
import { FailureDetector } from './failure-detector.js';
import { ArbiterAsk, detectorOptions, type Outbox, type ReplicaOptions, type ResolvedTimes, type SuspectReason } from './outbox.js';
import { outputModeOf } from './output-mode.js';
import { Rsm, RsmError } from './rsm.js';

/** Entries received beyond a gap are kept (up to this many) until the gap is filled. */
const MAX_PENDING_ENTRIES = 8192;
/** Client packets forwarded by a primary handing over, kept at most (the rest: the clients send again). */
const MAX_FORWARDED_PACKETS = 4096;

interface Shadowed {
  index: number;
  packets: Uint8Array[];
}

export interface BackupCounters {
  applied: number;
  acks: number;
  resendRequests: number;
  /** Entries at or below the last applied index (a regression): dropped. */
  duplicates: number;
  /** Entries beyond a gap in the index: held (or dropped when too many), a resend asked. */
  outOfOrder: number;
  /** Frames of another epoch than the backup's: rejected, never applied. */
  wrongEpoch: number;
  badFrames: number;
  shadowed: number;
}

/** What a backup hands over when it has won: the RSM and what to re-emit. */
export interface GoLive {
  rsm: Rsm;
  /** The epoch whose test-and-set was won; the new primary runs in epoch + 1. */
  wonEpoch: number;
  /** The highest index the primary reported released. */
  r: number;
  /** Shadowed outputs of entries above r, in order: their delivery is uncertain. */
  reemit: Shadowed[];
  /** A planned switchover (the primary handed over), not a failover. */
  switchover: boolean;
  /** Client packets the primary forwarded while handing over: input of the new primary, in order. */
  forwarded: Uint8Array[];
}

export class BackupRole {
  epoch: number;
  readonly counters: BackupCounters = { applied: 0, acks: 0, resendRequests: 0, duplicates: 0, outOfOrder: 0, wrongEpoch: 0, badFrames: 0, shadowed: 0 };
  /** 'following' normally; 'joining' until the snapshot is restored; terminal states after. */
  state: 'joining' | 'following' | 'won' | 'stopped' | 'failed' = 'following';
  private rsmRef: Rsm | undefined;
  private rKnown: number;
  private readonly pending = new Map<number, LogEntry>();
  private shadow: Shadowed[] = [];
  /** Last frame heard (the snapshot transfer's liveness); the detector judges silence once following. */
  private lastHeardUs: number;
  private readonly detector: FailureDetector;
  private lastResend = { from: -1, atUs: -Infinity };
  private lastJoinUs: number;
  private asking: ArbiterAsk | undefined;
  readonly peer: string;
  private readonly nextRequestId: () => number;
  private assembly: { index: number; epoch: number; total: number; chunks: Map<number, Uint8Array>; bytes: number } | undefined;
  /** The whole snapshot, received; restored at the next timeout (after the `join` that says we are alive has gone out). */
  private restoreDue: { index: number; epoch: number; whole: Uint8Array } | undefined;
  /** Just restored: the next timeout (due at once, after the restore) restarts the silence. */
  private restored = false;
  /** The unsafe 'ack-on-receipt' mode (output-mode.ts): acks say the highest index received, gaps or not. */
  private readonly ackOnReceipt: boolean;
  private highestReceived = 0;
  /** The primary is handing over: its last index. */
  private handover: { lastIndex: number } | undefined;
  private forwarded: Uint8Array[] = [];

  constructor(
    rsm: Rsm | undefined,
    private readonly opts: ReplicaOptions,
    private readonly times: ResolvedTimes,
    private readonly out: Outbox,
    init: { epoch: number; peer: string; nowUs: number; nextRequestId: () => number },
  ) {
    this.rsmRef = rsm;
    this.epoch = init.epoch;
    this.peer = init.peer;
    this.rKnown = rsm?.index ?? 0;
    this.lastHeardUs = init.nowUs;
    this.detector = new FailureDetector(init.nowUs, detectorOptions(times));
    this.lastJoinUs = init.nowUs;
    this.nextRequestId = init.nextRequestId;
    this.ackOnReceipt = outputModeOf(opts) === 'ack-on-receipt';
    if (rsm === undefined) {
      this.state = 'joining';
      this.send({ type: 'join', epoch: 0, name: opts.name });
    }
  }

  get rsm(): Rsm | undefined {
    return this.rsmRef;
  }

  /** Next index expected. */
  get nextIndex(): number {
    return (this.rsmRef?.index ?? 0) + 1;
  }

  get r(): number {
    return this.rKnown;
  }

  get shadowPackets(): number {
    return this.shadow.reduce((n, s) => n + s.packets.length, 0);
  }

  get askingArbiter(): boolean {
    return this.asking !== undefined;
  }

  handleChannel(nowUs: number, m: ChannelMessage): void {
    if (this.state === 'stopped' || this.state === 'failed' || this.state === 'won') return;
    if (this.state === 'joining') {
      if (m.type === 'snapshot') this.onSnapshotChunk(nowUs, m);
      return;
    }
    if (m.epoch !== this.epoch) {
      this.counters.wrongEpoch++;
      this.out.event({ type: 'rejected', reason: `backup ${this.opts.name}: ${m.type} of epoch ${m.epoch} while in epoch ${this.epoch}` });
      return;
    }
    this.lastHeardUs = nowUs;
    this.detector.heard(nowUs);
    switch (m.type) {
      case 'append': {
        this.learnR(m.r);
        const { entries, bad } = decodeAppendEntries(m.entries);
        if (bad > 0) this.counters.badFrames += bad;
        for (const e of entries) {
          if (e.index > this.highestReceived) this.highestReceived = e.index;
          this.offer(e);
        }
        if (this.state !== 'following') return;
        if (bad > 0 || this.pending.size > 0) this.requestResend(nowUs);
        break;
      }
      case 'heartbeat':
        this.learnR(m.r);
        if (m.lastIndex >= this.nextIndex) this.requestResend(nowUs);
        break;
      case 'handover':
        this.learnR(m.r);
        this.handover = { lastIndex: m.lastIndex };
        this.out.event({ type: 'handover-received', epoch: this.epoch, lastIndex: m.lastIndex, behind: Math.max(0, m.lastIndex - (this.nextIndex - 1)) });
        if (m.lastIndex >= this.nextIndex) this.requestResend(nowUs);
        break;
      case 'forward':
        if (this.handover !== undefined && this.forwarded.length < MAX_FORWARDED_PACKETS) this.forwarded.push(m.packet);
        return;
      case 'snapshot':
        // A snapshot we already restored, sent again: the ack below tells the primary we have it.
        break;
      default:
        this.out.event({ type: 'rejected', reason: `backup ${this.opts.name}: unexpected ${m.type}` });
        return;
    }
    this.send({ type: 'ack', epoch: this.epoch, index: this.ackOnReceipt ? Math.max(this.nextIndex - 1, this.highestReceived) : this.nextIndex - 1 });
    this.counters.acks++;
    this.takeOverWhenCaughtUp(nowUs);
  }

  /** Handing over: every entry up to the primary's last index is applied, so ask the arbiter now. */
  private takeOverWhenCaughtUp(nowUs: number): void {
    if (this.handover === undefined || this.asking !== undefined || this.state !== 'following' || this.nextIndex <= this.handover.lastIndex) return;
    this.out.event({ type: 'taking-over', epoch: this.epoch, lastIndex: this.handover.lastIndex });
    this.asking = new ArbiterAsk(this.epoch, this.nextRequestId(), this.opts.name, nowUs, this.out);
  }

  handleTimeout(nowUs: number): void {
    if (this.state === 'joining') {
      if (this.restoreDue !== undefined) {
        this.restore(this.restoreDue);
        return;
      }
      const receiving = this.receivingSnapshot(nowUs);
      if (receiving !== undefined) {
        // A large snapshot can take longer than the failure timeout to arrive: every
        // heartbeat interval, `join` with the snapshot's epoch tells the primary we are alive
        // and still receiving it (epoch 0 would ask for it again).
        if (nowUs - this.lastJoinUs >= this.times.heartbeatUs) {
          this.lastJoinUs = nowUs;
          this.send({ type: 'join', epoch: receiving, name: this.opts.name });
        }
      } else if (nowUs - this.lastJoinUs >= this.times.failureUs) {
        this.lastJoinUs = nowUs;
        this.send({ type: 'join', epoch: 0, name: this.opts.name });
      }
      return;
    }
    if (this.state !== 'following') return;
    if (this.restored) {
      // The first look at the clock since the restore ended: the primary's silence starts
      // here at the latest, since we could not hear it while restoring.
      this.restored = false;
      if (nowUs > this.detector.lastHeard) this.detector.reset(nowUs);
      return;
    }
    if (this.asking === undefined) {
      if (this.detector.suspects(nowUs)) {
        this.suspect(nowUs, 'silence');
      }
    } else {
      this.asking.retry(nowUs, this.times.arbiterRetryUs, this.out);
    }
  }

  /**
   * The primary's end of the log channel closed (its process died: the kernel closed the
   * connection), so the primary is suspected now, not after the failure timeout. It still
   * asks the arbiter; the primary, if alive, may win and this backup then stops. Nothing
   * while joining (there is no state to take over), nor while already asking (a
   * switchover's take-over included: no second request).
   */
  peerLost(nowUs: number): void {
    if (this.state !== 'following' || this.asking !== undefined) return;
    this.suspect(nowUs, 'channel-lost');
  }

  private suspect(nowUs: number, reason: SuspectReason): void {
    this.out.event({ type: 'suspect', epoch: this.epoch, silentUs: nowUs - this.detector.lastHeard, reason });
    this.asking = new ArbiterAsk(this.epoch, this.nextRequestId(), this.opts.name, nowUs, this.out);
  }

  /** This replica's own event loop did not run from fromUs to toUs: that silence is not the peer's. */
  noteStall(fromUs: number, toUs: number): void {
    this.detector.noteStall(fromUs, toUs);
  }

  /** Returns the hand-over when this response makes the backup the winner. */
  handleArbiter(_nowUs: number, r: ArbiterResponse): GoLive | undefined {
    if (this.state !== 'following' || this.asking === undefined || !this.asking.matches(r)) return undefined;
    this.asking = undefined;
    if (r.winner !== this.opts.name) {
      // DESIGN.md "Going live": "If it loses, the primary is alive and in charge: the backup stops."
      this.state = 'stopped';
      this.out.clear('channel');
      this.out.event({ type: 'lost', epoch: r.epoch, winner: r.winner });
      return undefined;
    }
    this.state = 'won';
    this.out.event({ type: 'won', epoch: r.epoch });
    // Step 1 of going live: every entry received in order is already applied; what lies
    // beyond a gap cannot be, and is dropped. The shadowed outputs above r are re-emitted.
    this.pending.clear();
    const reemit = this.shadow.filter((s) => s.index > this.rKnown);
    this.shadow = [];
    const forwarded = this.forwarded;
    this.forwarded = [];
    return { rsm: this.rsmRef!, wonEpoch: r.epoch, r: this.rKnown, reemit, switchover: this.handover !== undefined, forwarded };
  }

  pollTimeout(): number | undefined {
    switch (this.state) {
      case 'joining': {
        if (this.restoreDue !== undefined) return this.lastJoinUs;
        const askAgainUs = this.lastJoinUs + this.times.failureUs;
        if (this.assembly === undefined) return askAgainUs;
        // While chunks keep coming: a `join` every heartbeat; once they stop, ask again.
        const receivingUntilUs = this.lastHeardUs + this.times.failureUs;
        const aliveUs = this.lastJoinUs + this.times.heartbeatUs;
        return aliveUs < receivingUntilUs ? aliveUs : Math.max(askAgainUs, receivingUntilUs);
      }
      case 'following':
        if (this.restored) return this.lastJoinUs;
        return this.asking === undefined ? this.detector.deadline() : this.asking.deadline(this.times.arbiterRetryUs);
      default:
        return undefined;
    }
  }

  // ---- applying entries ---------------------------------------------------------------

  private offer(e: LogEntry): void {
    if (e.index < this.nextIndex) {
      this.counters.duplicates++;
      return;
    }
    if (e.index > this.nextIndex) {
      this.counters.outOfOrder++;
      if (this.pending.size < MAX_PENDING_ENTRIES) this.pending.set(e.index, e);
      return;
    }
    this.apply(e);
    for (let next = this.pending.get(this.nextIndex); next !== undefined && this.state === 'following'; next = this.pending.get(this.nextIndex)) {
      this.pending.delete(next.index);
      this.apply(next);
    }
    for (const i of this.pending.keys()) if (i < this.nextIndex) this.pending.delete(i);
  }

  private apply(e: LogEntry): void {
    if (this.state !== 'following') return;
    const rsm = this.rsmRef!;
    let message: string | undefined;
    try {
      const result = rsm.apply(e);
      const mismatch = rsm.verify(e, result);
      if (mismatch !== undefined) {
        message =
          `replication fault at entry ${mismatch.index}` +
          `${mismatch.socket !== undefined ? `, connection ${mismatch.socket}` : ''}: ${mismatch.field} is ${String(mismatch.backup)} ` +
          `on backup ${this.opts.name} but ${String(mismatch.primary)} on the primary (a determinism bug)`;
        this.fail(mismatch, message);
        return;
      }
      this.counters.applied++;
      if (e.kind === 'epoch' && e.newEpoch > this.epoch) this.epoch = e.newEpoch;
      if (result.packets.length > 0) {
        this.shadow.push({ index: e.index, packets: result.packets });
        this.counters.shadowed += result.packets.length;
        for (const packet of result.packets) this.out.event({ type: 'shadow', index: e.index, packet });
      }
    } catch (error) {
      if (!(error instanceof RsmError)) throw error;
      this.fail({ index: e.index, field: 'apply', primary: 'applied', backup: error.message }, `replication fault at entry ${e.index}: ${error.message}`);
    }
  }

  private fail(mismatch: NonNullable<ReturnType<Rsm['verify']>>, message: string): void {
    // A backup whose state differs from the primary's must never go live: it stops, and the
    // primary, hearing nothing, wins the test-and-set and serves alone.
    this.state = 'failed';
    this.out.event({ type: 'fault', mismatch, message });
  }

  /** r from the primary: shadowed outputs of entries <= r were released, so drop them. */
  private learnR(r: number): void {
    if (r <= this.rKnown) return;
    this.rKnown = r;
    let n = 0;
    while (n < this.shadow.length && this.shadow[n]!.index <= r) n++;
    if (n > 0) this.shadow.splice(0, n);
  }

  private requestResend(nowUs: number): void {
    const from = this.nextIndex;
    // Once per gap, and again only if the gap is still there after two heartbeats.
    if (from === this.lastResend.from && nowUs - this.lastResend.atUs < 2 * this.times.heartbeatUs) return;
    this.lastResend = { from, atUs: nowUs };
    this.counters.resendRequests++;
    this.send({ type: 'resend', epoch: this.epoch, from });
  }

  /** The epoch of the snapshot arriving now (a chunk came within the failure timeout), if any. */
  private receivingSnapshot(nowUs: number): number | undefined {
    if (this.assembly === undefined || nowUs - this.lastHeardUs >= this.times.failureUs) return undefined;
    return this.assembly.epoch;
  }

  private onSnapshotChunk(nowUs: number, m: Extract<ChannelMessage, { type: 'snapshot' }>): void {
    this.lastHeardUs = nowUs;
    if (this.restoreDue !== undefined) return; // a resent chunk of the snapshot we already have
    if (this.assembly === undefined || this.assembly.index !== m.index || this.assembly.epoch !== m.epoch) {
      this.assembly = { index: m.index, epoch: m.epoch, total: m.total, chunks: new Map(), bytes: 0 };
    }
    const a = this.assembly;
    if (m.total !== a.total || a.chunks.has(m.offset)) return;
    a.chunks.set(m.offset, m.chunk);
    a.bytes += m.chunk.length;
    if (a.bytes < a.total) {
      // Alive, still receiving: said here too, not only at a timeout. A process busy with
      // the chunks of a large snapshot on a loaded machine was seen to reach no timeout
      // between them, and its primary heard nothing for the whole transfer.
      if (nowUs - this.lastJoinUs >= this.times.heartbeatUs) {
        this.lastJoinUs = nowUs;
        this.send({ type: 'join', epoch: m.epoch, name: this.opts.name });
      }
      return;
    }
    const whole = new Uint8Array(a.total);
    for (const [offset, chunk] of a.chunks) whole.set(chunk, offset);
    this.assembly = undefined;
    // Alive, about to restore (which nothing interrupts): the primary hears it before the silence.
    this.restoreDue = { index: m.index, epoch: m.epoch, whole };
    this.lastJoinUs = nowUs;
    this.send({ type: 'join', epoch: m.epoch, name: this.opts.name });
  }

  private restore(m: { index: number; epoch: number; whole: Uint8Array }): void {
    this.restoreDue = undefined;
    let rsm: Rsm;
    try {
      rsm = Rsm.restore(m.whole, this.opts.factory);
    } catch (error) {
      this.out.event({ type: 'rejected', reason: `backup ${this.opts.name}: snapshot at ${m.index}: ${error instanceof Error ? error.message : String(error)}` });
      return;
    }
    if (rsm.index !== m.index) {
      this.out.event({ type: 'rejected', reason: `backup ${this.opts.name}: snapshot says index ${rsm.index}, frame says ${m.index}` });
      return;
    }
    this.rsmRef = rsm;
    this.epoch = m.epoch;
    this.rKnown = m.index;
    this.state = 'following';
    this.detector.reset(this.lastHeardUs);
    this.restored = true;
    this.out.event({ type: 'joined', epoch: m.epoch, index: m.index });
    this.send({ type: 'ack', epoch: this.epoch, index: m.index });
    this.counters.acks++;
  }

  private send(m: ChannelMessage): void {
    this.out.channel(encodeChannel(m));
  }
}
