/**
 * The primary role (DESIGN.md, "The replicated state machine", "Primary", "The primary
 * losing its backup", "Joining").
 *
 * For each input (a client packet, a stack deadline passing): append entry i, apply it,
 * put O(i) on the hold queue tagged i, send entry i to the backup. When the backup
 * acknowledges j, release every O(i) with i <= j, in order. Every frame to the backup
 * carries r, the highest index whose outputs were released. When it has sent nothing for
 * H, a heartbeat. Applying never waits for the backup; only output does.
 *
 * When the backup has been silent for D, or its end of the log channel closed (peerLost):
 * ask the arbiter for the test-and-set of the current epoch. Won: epoch + 1, release the
 * hold queue, serve alone. Lost: fenced, emit nothing ever again. No answer: keep asking;
 * outputs stay held.
 *
 * Alone, a join request from a new backup: append an epoch entry (epoch + 1, both
 * members), snapshot the RSM at that index k, send it, and stream entries from k + 1
 * under the output rule again.
 *
 * Planned switchover (handover): the primary stops taking input (a client packet that still
 * reaches it is forwarded to the backup unlogged), flushes the log, sends `handover` with r
 * and its last index, and from then on releases nothing: the backup re-emits what was held,
 * as at a failover. The backup's `handover` in the next epoch says it is live: done, and
 * silent for ever. A backup silent for D meanwhile is a failover the other way round.
 *
 * Clock: the RSM's time is the replica's clock plus `offsetUs` (0 for the first primary;
 * a backup that goes live continues from the last logged time), never going backwards.
 *
 * Parts of it live beside it: the hold queue in hold-queue.ts, the entries' way to the
 * backup (kept for resends, packed into append frames) in log-stream.ts.
 */
import type { UpstreamAction } from '../proxy/upstream.js';
import type { ArbiterResponse } from './arbiter.js';
import { snapshotMessages, type ChannelMessage } from './channel.js';
import { encodeEntry, type LogEntry } from './log.js';
import { fitChecks, LogStream, MAX_LOGGED_PACKET_BYTES, UPSTREAM_ENTRY_MAX_BYTES } from './log-stream.js';
import { FailureDetector } from './failure-detector.js';
import { HoldQueue } from './hold-queue.js';
import { ArbiterAsk, detectorOptions, type Outbox, type ReplicaOptions, type ResolvedTimes, type SuspectReason } from './outbox.js';
import { isPureAck, outputModeOf, type OutputMode } from './output-mode.js';
import type { Rsm } from './rsm.js';

/** Distributes a union over Omit so each variant keeps its own fields. */
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
export type EntryInput = DistributiveOmit<LogEntry, 'index' | 'epoch' | 'timeUs' | 'checks' | 'digest'>;

export { MAX_LOGGED_PACKET_BYTES, UPSTREAM_ENTRY_MAX_BYTES } from './log-stream.js';

/** Why a backup cannot join a pair that serves an upstream app without a state adapter. */
export const UPSTREAM_JOIN_REFUSED =
  "the upstream app has no state adapter: a new backup's app instance cannot be given the primary's app state (an adapter copies it, e.g. Redis replication)";

/**
 * Until a joiner acknowledges its snapshot, its silence is judged against at least D plus
 * this many µs per byte of the snapshot: the joiner restores it in one piece and says
 * nothing meanwhile. Measured (docs/reliability.md, "A slow join is not a death"): at most
 * ~0.06 µs of CPU per byte (10,000 idle connections, first restore), and 0.14 µs per byte
 * of wall time for a 2.8 MB snapshot at load 24; 1 µs per byte leaves room for more load.
 */
export const JOIN_RESTORE_US_PER_BYTE = 1;

export interface PrimaryCounters {
  entries: number;
  framesSent: number;
  heartbeats: number;
  resends: number;
  released: number;
  /** Largest hold queue seen, in packets. */
  maxHeld: number;
  /** Frames from the backup of another epoch (or while alone): rejected. */
  wrongEpoch: number;
  /** Service packets larger than MAX_LOGGED_PACKET_BYTES: dropped before the RSM saw them. */
  tooBigToLog: number;
  /** Client packets that reached it while handing over: sent to the backup unlogged. */
  forwarded: number;
  /** Segments made again while their first copy was held (repeats.ts): not released. */
  heldRepeats: number;
}

export class PrimaryRole {
  epoch: number;
  /** Serving alone: no backup, no hold. */
  alone: boolean;
  peer: string | undefined;
  fenced = false;
  /** r: highest index whose outputs are released. */
  released: number;
  /** Highest index the backup acknowledged. */
  acked: number;
  readonly counters: PrimaryCounters = { entries: 0, framesSent: 0, heartbeats: 0, resends: 0, released: 0, maxHeld: 0, wrongEpoch: 0, tooBigToLog: 0, forwarded: 0, heldRepeats: 0 };
  /** Handing the service over to the backup (startHandover): no input, no release. */
  handingOver = false;
  /** The backup took the service over (its `handover`, or it won the test-and-set): this role is done. */
  handedOver = false;
  /** O(i) until the backup acknowledges i (hold-queue.ts). */
  private readonly queue: HoldQueue;
  private readonly emitFn = (packet: Uint8Array, index: number): void => this.emit(packet, index);
  /** Entries to the backup: kept for resends, packed into append frames (log-stream.ts). */
  private readonly stream: LogStream;
  private readonly detector: FailureDetector;
  private asking: ArbiterAsk | undefined;
  /**
   * The join snapshot until the joiner acknowledges it: its index, chunks, size, and when it
   * last left (moved past this replica's own stalls: a join queued behind our taking the
   * snapshot was sent before the snapshot, not after).
   */
  private joinSnapshot: { index: number; messages: ChannelMessage[]; bytes: number; sentUs: number } | undefined;
  /** Upstream app with a state adapter: the joiner whose app state the driver is exporting. */
  private preparingJoin: string | undefined;
  private nextRequestId: () => number;
  /** RSM time = replica clock + offsetUs. */
  readonly offsetUs: number;
  /** When output may go (output-mode.ts); the output rule unless an experiment says otherwise. */
  private readonly mode: OutputMode;

  constructor(
    readonly rsm: Rsm,
    private readonly opts: ReplicaOptions,
    private readonly times: ResolvedTimes,
    private readonly out: Outbox,
    init: { epoch: number; peer: string | undefined; offsetUs: number; nowUs: number; nextRequestId: () => number },
  ) {
    this.epoch = init.epoch;
    this.peer = init.peer;
    this.alone = init.peer === undefined;
    this.offsetUs = init.offsetUs;
    this.mode = outputModeOf(opts);
    this.released = rsm.index;
    this.acked = rsm.index;
    this.detector = new FailureDetector(init.nowUs, detectorOptions(times));
    this.queue = new HoldQueue(rsm);
    this.stream = new LogStream(opts, out, this.counters, init.nowUs);
    this.nextRequestId = init.nextRequestId;
  }

  get lastIndex(): number {
    return this.rsm.index;
  }

  get holding(): number {
    return this.queue.packets;
  }

  get askingArbiter(): boolean {
    return this.asking !== undefined;
  }

  // ---- inputs -----------------------------------------------------------------------

  /** A packet for the service, from the switch. */
  handleServicePacket(nowUs: number, bytes: Uint8Array): void {
    // Handing over, and handed over until the process goes: a late client packet goes to the new primary.
    if (this.handingOver && (!this.fenced || this.handedOver)) {
      this.counters.forwarded++;
      this.send(nowUs, { type: 'forward', epoch: this.epoch, packet: bytes });
      return;
    }
    if (this.fenced) return;
    if (bytes.length > MAX_LOGGED_PACKET_BYTES) {
      this.counters.tooBigToLog++;
      return;
    }
    this.append(nowUs, { kind: 'packet', packet: bytes });
    this.flush(nowUs);
  }

  /** Upstream app: what the primary's own app did on `conn` becomes `app` entries (DESIGN.md "Upstream apps"). */
  handleUpstream(nowUs: number, conn: number, action: UpstreamAction): void {
    // Handing over: the backup's own app instance did the same, and continues the stream live.
    if (this.fenced || this.handingOver) return;
    if (action.type === 'data') {
      for (let at = 0; at < action.data.length; at += UPSTREAM_ENTRY_MAX_BYTES) {
        this.append(nowUs, { kind: 'app', socket: conn, op: 'write', data: action.data.subarray(at, at + UPSTREAM_ENTRY_MAX_BYTES) });
      }
    } else {
      this.append(nowUs, { kind: 'app', socket: conn, op: action.type === 'end' ? 'close' : 'abort' });
    }
    this.flush(nowUs);
  }

  handleTimeout(nowUs: number): void {
    if (this.fenced) return;
    const deadline = this.handingOver ? undefined : this.rsm.pollTimeout();
    if (deadline !== undefined && deadline <= this.rsmNow(nowUs)) this.append(nowUs, { kind: 'tick' });
    if (!this.alone) {
      if (this.asking === undefined && this.detector.suspects(nowUs, this.joinFloorUs())) {
        this.suspect(nowUs, 'silence');
      } else {
        this.asking?.retry(nowUs, this.times.arbiterRetryUs, this.out);
      }
    }
    this.flush(nowUs);
    if (!this.alone && this.peer !== undefined && nowUs - this.stream.lastSentUs >= this.times.heartbeatUs) {
      this.send(nowUs, { type: 'heartbeat', epoch: this.epoch, r: this.released, lastIndex: this.rsm.index });
      this.counters.heartbeats++;
    }
  }

  /**
   * The backup's end of the log channel closed (its process died): suspect it now rather
   * than hold output for D waiting for acks that will not come. It still asks the arbiter
   * (a backup that is alive may win, and this primary then fences itself). Nothing when
   * alone, fenced, or already asking.
   */
  peerLost(nowUs: number): void {
    if (this.fenced || this.alone || this.asking !== undefined) return;
    this.suspect(nowUs, 'channel-lost');
  }

  private suspect(nowUs: number, reason: SuspectReason): void {
    this.out.event({ type: 'suspect', epoch: this.epoch, silentUs: nowUs - this.detector.lastHeard, reason });
    this.asking = new ArbiterAsk(this.epoch, this.nextRequestId(), this.opts.name, nowUs, this.out);
  }

  /** This replica's own event loop did not run from fromUs to toUs: that silence is not the peer's. */
  noteStall(fromUs: number, toUs: number): void {
    const join = this.joinSnapshot;
    if (join === undefined) {
      this.detector.noteStall(fromUs, toUs);
      return;
    }
    // Taking (and sending) a join snapshot is one long turn of this replica: whatever D and
    // Dmax are, that stall is ours, not the joiner's.
    this.detector.excuseStall(fromUs, toUs);
    if (toUs > join.sentUs) join.sentUs = toUs;
  }

  /** The least silence that makes a joiner suspect: D plus its snapshot's restore allowance (0 when not joining). */
  private joinFloorUs(): number {
    return this.joinSnapshot === undefined ? 0 : this.times.failureUs + this.joinSnapshot.bytes * JOIN_RESTORE_US_PER_BYTE;
  }

  handleChannel(nowUs: number, m: ChannelMessage): void {
    if (this.fenced) return;
    if (m.type === 'join') {
      this.handleJoin(nowUs, m.name, m.epoch);
      return;
    }
    if (m.type === 'handover' && this.handingOver && m.epoch > this.epoch) {
      this.finishHandover(m.epoch);
      return;
    }
    if (this.alone || m.epoch !== this.epoch) {
      this.counters.wrongEpoch++;
      this.out.event({ type: 'rejected', reason: `primary ${this.opts.name}: ${m.type} of epoch ${m.epoch} while in epoch ${this.epoch}${this.alone ? ' alone' : ''}` });
      return;
    }
    this.detector.heard(nowUs);
    switch (m.type) {
      case 'ack':
        if (m.index > this.acked) this.onAck(m.index, nowUs);
        // The ack of k itself (no entry after it yet): the joiner holds the snapshot, the join is over.
        else if (this.joinSnapshot !== undefined && m.index >= this.joinSnapshot.index) this.joinSnapshot = undefined;
        break;
      case 'resend':
        this.resendFrom(nowUs, m.from);
        break;
      default:
        this.out.event({ type: 'rejected', reason: `primary ${this.opts.name}: unexpected ${m.type}` });
    }
    this.flush(nowUs);
  }

  handleArbiter(nowUs: number, r: ArbiterResponse): void {
    if (this.fenced || this.asking === undefined || !this.asking.matches(r)) return;
    this.asking = undefined;
    if (r.winner !== this.opts.name) {
      // DESIGN.md: "If it loses, it stops at once and never emits again (fencing)."
      // Handing over, that is the backup live in the next epoch: the handover is done.
      if (this.handingOver) this.handedOver = true;
      this.fence();
      this.out.clear('channel');
      this.out.event({ type: 'lost', epoch: r.epoch, winner: r.winner });
      if (this.handedOver) this.out.event({ type: 'handed-over', epoch: r.epoch + 1, peer: r.winner });
      return;
    }
    // Won: serve alone in epoch + 1; everything held goes out, in order.
    this.out.event({ type: 'won', epoch: r.epoch });
    if (this.handingOver) {
      this.handingOver = false;
      this.out.event({ type: 'handover-failed', epoch: r.epoch, peer: this.peer ?? '?', reason: 'the backup fell silent before it took over' });
    }
    this.epoch = r.epoch + 1;
    this.becomeAlone(nowUs);
    this.out.event({ type: 'announce', epoch: this.epoch });
    this.append(nowUs, { kind: 'epoch', newEpoch: this.epoch, members: [this.opts.name] });
  }

  /** When to call handleTimeout next (replica clock), or undefined. */
  pollTimeout(): number | undefined {
    if (this.fenced) return undefined;
    let t: number | undefined;
    const at = (v: number | undefined) => {
      if (v !== undefined && (t === undefined || v < t)) t = v;
    };
    const d = this.handingOver ? undefined : this.rsm.pollTimeout();
    if (d !== undefined) at(d - this.offsetUs);
    if (!this.alone) {
      at(this.stream.lastSentUs + this.times.heartbeatUs);
      at(this.asking === undefined ? this.detector.deadline(this.joinFloorUs()) : this.asking.deadline(this.times.arbiterRetryUs));
    }
    return t;
  }

  // ---- the log and the output rule --------------------------------------------------

  private rsmNow(nowUs: number): number {
    return Math.max(nowUs + this.offsetUs, this.rsm.lastTimeUs);
  }

  /** Append entry i, apply it, and hold (or release) O(i). `input` becomes the entry: callers pass a fresh object. */
  append(nowUs: number, input: EntryInput): void {
    // Completing the caller's object takes four stores; spreading it into a new one was a
    // megamorphic clone, ~4 µs per entry in a profile of the counter loop.
    const entry = input as LogEntry;
    entry.index = this.rsm.index + 1;
    entry.epoch = this.epoch;
    entry.timeUs = this.rsmNow(nowUs);
    entry.checks = [];
    const result = this.rsm.apply(entry);
    entry.checks = result.checks;
    if (result.digest !== undefined) entry.digest = result.digest;
    this.counters.entries++;
    if (!this.alone) {
      fitChecks(entry);
      this.stream.add(entry.index, encodeEntry(entry));
    }
    if (this.alone || this.mode === 'async') {
      const { packets, keys, dropped } = this.queue.admit(result.packets, nowUs);
      this.counters.heldRepeats += dropped;
      for (const packet of packets) this.emit(packet, entry.index);
      this.queue.left(packets, keys, nowUs);
      this.released = entry.index;
    } else if (result.packets.length > 0) {
      const waiting = this.mode === 'acks-at-once' ? this.releasePureAcks(result.packets, entry.index) : result.packets;
      const { packets: held, keys, dropped } = this.queue.admit(waiting, nowUs);
      this.counters.heldRepeats += dropped;
      if (held.length === 0) return;
      this.queue.push(entry.index, held, keys);
      if (this.queue.packets > this.counters.maxHeld) this.counters.maxHeld = this.queue.packets;
    }
  }

  /** The semi-synchronous 'acks-at-once' mode (unsafe): pure ACKs go now; returns what must wait. */
  private releasePureAcks(packets: Uint8Array[], index: number): Uint8Array[] {
    const ethernet = this.opts.rsm.ethernet !== undefined;
    const wait: Uint8Array[] = [];
    for (const p of packets) {
      if (isPureAck(p, ethernet)) this.emit(p, index);
      else wait.push(p);
    }
    return wait;
  }

  private emit(packet: Uint8Array, index: number): void {
    this.counters.released++;
    this.out.transmit({ packet, epoch: this.epoch, index, reemitted: false });
  }

  /** The backup has applied every entry up to j: release O(i) for i <= j, in order. */
  private onAck(j: number, nowUs: number): void {
    this.acked = Math.min(j, this.rsm.index);
    // Handing over, nothing more is released: the backup re-emits what is held above r.
    if (!this.handingOver) this.releaseAcked(nowUs);
    this.stream.forget(this.acked);
    if (this.joinSnapshot !== undefined && this.acked >= this.joinSnapshot.index) this.joinSnapshot = undefined;
  }

  private releaseAcked(nowUs: number): void {
    this.queue.releaseUpTo(this.acked, nowUs, this.emitFn);
    if (this.acked > this.released) this.released = this.acked;
  }

  /** Going live: the FINs just re-emitted left now (repeats.ts: the stack's timer of each runs from its making). */
  noteReemitted(packets: Iterable<Uint8Array>, nowUs: number): void {
    this.queue.noteReemitted(packets, this.opts.rsm.ethernet !== undefined, nowUs);
  }

  // ---- planned switchover ------------------------------------------------------------

  /** Hands the service to the backup (see the header); the reason it cannot, or undefined when it started. */
  startHandover(nowUs: number): string | undefined {
    if (this.fenced) return 'it is fenced';
    if (this.handingOver) return 'it is already handing over';
    if (this.alone || this.peer === undefined) return 'it has no backup to hand over to';
    if (this.joinSnapshot !== undefined) return `its backup ${this.peer} has not acknowledged the join snapshot yet`;
    if (this.asking !== undefined) return `it suspects its backup ${this.peer} and is asking the arbiter`;
    this.handingOver = true;
    this.flush(nowUs);
    this.send(nowUs, { type: 'handover', epoch: this.epoch, r: this.released, lastIndex: this.rsm.index });
    this.out.event({ type: 'handover', epoch: this.epoch, peer: this.peer, r: this.released, lastIndex: this.rsm.index, held: this.queue.packets });
    return undefined;
  }

  /** The backup is live in `epoch`: this primary never emits again. */
  private finishHandover(epoch: number): void {
    this.handedOver = true;
    this.fence();
    this.out.event({ type: 'handed-over', epoch, peer: this.peer ?? '?' });
  }

  /** Never emits again: held output, unsent frames and the log are dropped. */
  private fence(): void {
    this.fenced = true;
    this.queue.clear();
    this.stream.clear();
    this.out.clear('transmit');
  }

  private becomeAlone(nowUs: number): void {
    this.alone = true;
    this.peer = undefined;
    this.queue.releaseAll(nowUs, this.emitFn);
    this.released = this.rsm.index;
    this.acked = this.rsm.index;
    this.stream.clear();
    this.joinSnapshot = undefined;
  }

  /** Send the entries appended since the last flush, in as few append frames as fit. */
  private flush(nowUs: number): void {
    this.stream.flush(nowUs, this.epoch, this.released, !this.alone && this.peer !== undefined);
  }

  private send(nowUs: number, m: ChannelMessage): void {
    this.stream.send(nowUs, m);
  }

  private resendFrom(nowUs: number, from: number): void {
    if (this.joinSnapshot !== undefined && from <= this.joinSnapshot.index) {
      for (const m of this.joinSnapshot.messages) this.send(nowUs, m);
      return;
    }
    this.stream.resend(nowUs, from, this.acked, this.rsm.index, this.epoch, this.released);
  }

  private handleJoin(nowUs: number, name: string, theirEpoch: number): void {
    if (!this.alone) {
      const join = this.joinSnapshot;
      if (name === this.peer && join !== undefined) {
        // The joiner is alive (DESIGN.md "Liveness in both directions"). With our epoch it is
        // still receiving the snapshot; with epoch 0 it lost it and asks again: send it again,
        // unless the snapshot left less than D ago (that ask was sent before it arrived).
        this.detector.heard(nowUs);
        if (theirEpoch !== this.epoch && nowUs - join.sentUs >= this.times.failureUs) {
          join.sentUs = nowUs;
          for (const m of join.messages) this.send(nowUs, m);
        }
      } else {
        this.out.event({ type: 'rejected', reason: `primary ${this.opts.name}: join from ${name} while paired with ${this.peer ?? '?'}` });
      }
      return;
    }
    if (this.rsm.appName === 'upstream' && this.opts.upstreamAdapter === undefined) {
      // the joiner's own app instance would start empty while the RSM's connections
      // and the app's data live on: refuse, loudly, rather than replicate into an inconsistency.
      this.out.event({ type: 'rejected', reason: `primary ${this.opts.name}: join from ${name} refused: ${UPSTREAM_JOIN_REFUSED}` });
      return;
    }
    if (this.rsm.appName === 'upstream') {
      // the app's state lives outside the RSM. The driver makes the app quiescent and
      // exports its state, then completeJoin takes the snapshot at that very index.
      if (this.preparingJoin === undefined) {
        this.preparingJoin = name;
        this.out.event({ type: 'join-prepare', peer: name });
      }
      return;
    }
    this.startJoin(nowUs, name, undefined);
  }

  /** Upstream app: the driver exported the app's state for `name`; the snapshot is taken now. */
  completeJoin(nowUs: number, name: string, appState: Uint8Array): boolean {
    if (this.preparingJoin !== name || !this.alone || this.fenced) return false;
    this.preparingJoin = undefined;
    this.startJoin(nowUs, name, appState);
    return true;
  }

  /** Upstream app: the export failed; the next join request starts again. */
  cancelJoin(name: string): void {
    if (this.preparingJoin === name) this.preparingJoin = undefined;
  }

  private startJoin(nowUs: number, name: string, appState: Uint8Array | undefined): void {
    // DESIGN.md "Joining": the epoch increments; snapshot at index k; entries from k + 1.
    const epoch = this.epoch + 1;
    this.append(nowUs, { kind: 'epoch', newEpoch: epoch, members: [this.opts.name, name] });
    this.epoch = epoch;
    const k = this.rsm.index;
    const snapshot = this.rsm.snapshot(appState);
    this.alone = false;
    this.peer = name;
    this.acked = k;
    this.released = k;
    this.detector.reset(nowUs, true);
    this.joinSnapshot = { index: k, messages: snapshotMessages(epoch, k, snapshot), bytes: snapshot.length, sentUs: nowUs };
    for (const m of this.joinSnapshot.messages) this.send(nowUs, m);
    this.out.event({ type: 'backup-joined', peer: name, epoch, index: k, snapshotBytes: snapshot.length });
    this.out.event({ type: 'announce', epoch });
  }
}
