/**
 * What the replica roles share: their options, the outputs they queue for the driver to
 * poll, the events they report, and the arbiter question in flight.
 *
 * Times are integer µs of the replica's own monotonic clock (`now`, passed in). The roles
 * read no clock and set no timers: pollTimeout() says when to call handleTimeout().
 */
import type { ArbiterRequest, ArbiterResponse } from './arbiter.js';
import type { UpstreamEvent } from '../proxy/upstream.js';
import type { DetectorOptions } from './failure-detector.js';
import type { OutputMode } from './output-mode.js';
import type { RsmConfig, RsmStackFactory, StateMismatch } from './rsm.js';

export interface ReplicaOptions {
  /** This replica's name (unique in the cluster; the arbiter records it). */
  name: string;
  rsm: RsmConfig;
  factory: RsmStackFactory;
  /** H: the primary sends a heartbeat when it has sent nothing for this long. Default 10 ms. */
  heartbeatMs?: number;
  /** D: a peer silent this long is suspected, and the arbiter is asked. Default 50 ms. */
  failureTimeoutMs?: number;
  /**
   * Dmax: the failure detector may stretch D up to this when the peer's silences have been
   * longer (failure-detector.ts). Default D: a fixed timeout.
   */
  failureTimeoutMaxMs?: number;
  /**
   * S: during a peer's start-up silence is suspected only after S less the time the peer
   * has been heard with no gap over 2H (failure-detector.ts, "Start-up"); start-up lasts at
   * most 10 S. Default D: no start-up bound (the simulator's pairs have no start-up stalls);
   * `ftcp replica` defaults to 500 ms (replica-options.ts).
   */
  failureTimeoutStartMs?: number;
  /** An unanswered arbiter request is sent again after this long. Default D. */
  arbiterRetryMs?: number;
  /**
   * The output rule (default true). false = the unsafe teaching mode: the primary releases
   * O(i) at once, before the backup has entry i, so a failover can lose what clients saw.
   */
  outputRule?: boolean;
  /**
   * When output waits for the backup (output-mode.ts); wins over `outputRule`. Default
   * 'output-rule'. The others are the unsafe modes `ftcp experiment modes` measures.
   */
  outputMode?: OutputMode;
  /** Most entries per append frame. Default 64. */
  maxEntriesPerFrame?: number;
  /**
   * Upstream app (rsm.app 'upstream'): the name of the adapter that copies the app's state
   * to a joining replica (DESIGN.md "Joining"). Without one, joins are refused with a clear error.
   */
  upstreamAdapter?: string;
}

export interface ResolvedTimes {
  heartbeatUs: number;
  failureUs: number;
  failureMaxUs: number;
  /** S, the start-up bound (= failureUs: none). */
  failureStartUs: number;
  arbiterRetryUs: number;
}

export function resolveTimes(o: ReplicaOptions): ResolvedTimes {
  const heartbeatMs = o.heartbeatMs ?? 10;
  const failureMs = o.failureTimeoutMs ?? 50;
  const failureMaxMs = o.failureTimeoutMaxMs ?? failureMs;
  const retryMs = o.arbiterRetryMs ?? failureMs;
  const failureStartMs = o.failureTimeoutStartMs ?? failureMs;
  for (const [name, v] of [['heartbeatMs', heartbeatMs], ['failureTimeoutMs', failureMs], ['failureTimeoutMaxMs', failureMaxMs], ['failureTimeoutStartMs', failureStartMs], ['arbiterRetryMs', retryMs]] as const) {
    if (!(v > 0 && Number.isFinite(v))) throw new RangeError(`replica ${name} must be a positive number, got ${v}`);
  }
  if (failureMaxMs < failureMs) throw new RangeError(`replica failureTimeoutMaxMs (${failureMaxMs}) must be at least failureTimeoutMs (${failureMs})`);
  if (failureStartMs < failureMs) throw new RangeError(`replica failureTimeoutStartMs (${failureStartMs}) must be at least failureTimeoutMs (${failureMs})`);
  const us = (ms: number) => Math.round(ms * 1000);
  return { heartbeatUs: us(heartbeatMs), failureUs: us(failureMs), failureMaxUs: us(failureMaxMs), failureStartUs: us(failureStartMs), arbiterRetryUs: us(retryMs) };
}

/**
 * The failure detector's options for these times (failure-detector.ts): in start-up a gap
 * over 2 H is not steady; start-up lasts at most the detector's default 10 S.
 */
export function detectorOptions(t: ResolvedTimes): DetectorOptions {
  return { minUs: t.failureUs, maxUs: t.failureMaxUs, startupUs: t.failureStartUs, steadyGapUs: 2 * t.heartbeatUs };
}

/** A packet for the clients, released (or re-emitted) by a live replica. */
export interface ServicePacket {
  packet: Uint8Array;
  /** The replica's epoch when it emitted the packet (the switch drops older epochs). */
  epoch: number;
  /** The log entry whose application produced it. */
  index: number;
  /** Re-emitted at go-live from the shadow queue (delivery by the old primary uncertain). */
  reemitted: boolean;
}

/** Why a replica suspects its peer (the `suspect` event). */
export type SuspectReason = 'silence' | 'channel-lost';

export type ReplicaEvent =
  /** Take the service address with this epoch (to the switch: the gratuitous ARP). */
  | { type: 'announce'; epoch: number }
  /** The backup generated O(i) while suppressed (the shadow capture). */
  | { type: 'shadow'; index: number; packet: Uint8Array }
  /**
   * The peer is suspected and the test-and-set of `epoch` is being asked for: it was silent
   * for the failure timeout (`silence`), or its end of the log channel's connection closed
   * (`channel-lost`, a dead process: handlePeerLost).
   */
  | { type: 'suspect'; epoch: number; silentUs: number; reason: SuspectReason }
  /** Won the test-and-set of `epoch`: now alone in `epoch + 1`. */
  | { type: 'won'; epoch: number }
  /** Lost the test-and-set of `epoch`: a primary fences itself, a backup stops. */
  | { type: 'lost'; epoch: number; winner: string }
  /** The backup went live: re-emitted `reemitted` packets of entries above r. */
  | { type: 'live'; epoch: number; r: number; lastIndex: number; reemitted: number; reemittedEntries: number; reason: 'failover' | 'switchover' }
  /** Planned switchover, the primary: it takes no more input and hands over to `peer` at `lastIndex` (r released, `held` packets held). */
  | { type: 'handover'; epoch: number; peer: string; r: number; lastIndex: number; held: number }
  /** Planned switchover, the backup: the primary's handover arrived, `behind` entries short of its `lastIndex`. */
  | { type: 'handover-received'; epoch: number; lastIndex: number; behind: number }
  /** Planned switchover, the backup: it has the log up to `lastIndex` and asks the arbiter for `epoch`. */
  | { type: 'taking-over'; epoch: number; lastIndex: number }
  /** Planned switchover, the primary: `peer` is live in `epoch`; this replica emits nothing more. */
  | { type: 'handed-over'; epoch: number; peer: string }
  /** Planned switchover, the primary: it won the test-and-set of `epoch` itself (the backup fell silent) and serves alone. */
  | { type: 'handover-failed'; epoch: number; peer: string; reason: string }
  /** A primary took a new backup: snapshot at index k, pair epoch `epoch`. */
  | { type: 'backup-joined'; peer: string; epoch: number; index: number; snapshotBytes: number }
  /** A joining backup restored the snapshot at `index`. */
  | { type: 'joined'; epoch: number; index: number }
  /** A replication fault (a determinism bug): the backup stops. */
  | { type: 'fault'; mismatch: StateMismatch; message: string }
  /** A channel frame was rejected (corrupt, stale epoch, ...). */
  | { type: 'rejected'; reason: string }
  /** Upstream app: this replica's own app wrote something else than the log says, first at `offset` of connection `conn`. */
  | { type: 'divergence'; conn: number; offset: number; what: string }
  /**
   * Upstream app with a state adapter: `peer` asks to join. The driver quiesces its app,
   * exports its state and calls completeUpstreamJoin (or cancelUpstreamJoin).
   */
  | { type: 'join-prepare'; peer: string };

/** Output queues; the roles push, the driver polls. */
export class Outbox {
  private readonly queues = { transmit: [] as ServicePacket[], channel: [] as Uint8Array[], arbiter: [] as ArbiterRequest[], events: [] as ReplicaEvent[], upstream: [] as UpstreamEvent[] };
  private readonly heads = { transmit: 0, channel: 0, arbiter: 0, events: 0, upstream: 0 };

  transmit(p: ServicePacket): void {
    this.queues.transmit.push(p);
  }
  channel(frame: Uint8Array): void {
    this.queues.channel.push(frame);
  }
  arbiter(r: ArbiterRequest): void {
    this.queues.arbiter.push(r);
  }
  event(e: ReplicaEvent): void {
    this.queues.events.push(e);
  }
  upstream(e: UpstreamEvent): void {
    this.queues.upstream.push(e);
  }

  poll<K extends keyof Outbox['queues']>(kind: K): Outbox['queues'][K][number] | undefined {
    const q = this.queues[kind] as unknown[];
    const h = this.heads[kind];
    if (h >= q.length) return undefined;
    const item = q[h];
    q[h] = undefined;
    this.heads[kind] = h + 1;
    if (this.heads[kind] > 1024 && this.heads[kind] * 2 > q.length) {
      q.splice(0, this.heads[kind]);
      this.heads[kind] = 0;
    }
    return item as Outbox['queues'][K][number];
  }

  /** Forget every queued output of a kind (a fenced replica emits nothing more). */
  clear(kind: keyof Outbox['queues']): void {
    this.queues[kind].length = 0;
    this.heads[kind] = 0;
  }
}

/** The test-and-set question in flight, sent again every arbiterRetryUs until answered. */
export class ArbiterAsk {
  sentUs: number;
  constructor(
    readonly epoch: number,
    readonly id: number,
    readonly replica: string,
    nowUs: number,
    out: Outbox,
  ) {
    this.sentUs = nowUs;
    out.arbiter({ type: 'request', id, epoch, replica });
  }

  /** Send again if unanswered for `retryUs`. */
  retry(nowUs: number, retryUs: number, out: Outbox): void {
    if (nowUs - this.sentUs < retryUs) return;
    this.sentUs = nowUs;
    out.arbiter({ type: 'request', id: this.id, epoch: this.epoch, replica: this.replica });
  }

  deadline(retryUs: number): number {
    return this.sentUs + retryUs;
  }

  /** True when `r` answers this question; `won` says how. */
  matches(r: ArbiterResponse): boolean {
    return r.epoch === this.epoch && r.replica === this.replica;
  }
}
