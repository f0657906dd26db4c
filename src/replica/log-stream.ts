/**
 * The primary's stream of log entries to its backup (DESIGN.md "Primary"): the encoded
 * entries the backup has not acknowledged (kept for resends), those appended since the last
 * flush, their packing into append frames that fit the channel's frame limit (and the
 * largest packet and upstream write whose entry fits one), and when anything last went out
 * (what the heartbeat is timed from). PrimaryRole (primary.ts) decides what to send and
 * when; times, epochs and indices come in as arguments.
 */
import { encodeChannel, ENTRY_MAX_BYTES, type ChannelMessage } from './channel.js';
import { CHECK_BYTES, entryBytes, MAX_STATE_ENTRIES, type LogEntry } from './log.js';
import type { Outbox, ReplicaOptions } from './outbox.js';

/** Budget of one append frame (the channel frame limit minus headers). */
const APPEND_BUDGET_BYTES = 60_000;
/** Upstream app: the bytes of one `app` write entry, at most (one entry fits an append frame). */
export const UPSTREAM_ENTRY_MAX_BYTES = 16_384;
/**
 * The largest IP packet the primary logs: its entry (with one state check and a digest)
 * must fit one append frame. A larger one is dropped and counted (`tooBigToLog`); a replica's
 * link MTU stops at this size, so only a caller that skips the link's check meets it.
 */
export const MAX_LOGGED_PACKET_BYTES = ENTRY_MAX_BYTES - entryBytes({ kind: 'packet', packet: new Uint8Array(0), index: 0, epoch: 0, timeUs: 0, checks: [], digest: 0 }, 1);

/** Cut the state checks short when the whole list would not fit one append frame (a tick that touched thousands of connections). */
export function fitChecks(entry: LogEntry): void {
  if (entry.checks.length <= MAX_STATE_ENTRIES && entryBytes(entry) <= ENTRY_MAX_BYTES) return;
  const room = Math.min(MAX_STATE_ENTRIES, Math.max(0, Math.floor((ENTRY_MAX_BYTES - entryBytes(entry, 0)) / CHECK_BYTES)));
  entry.checks = entry.checks.slice(0, room);
  entry.checksTruncated = true;
}

export class LogStream {
  /** Encoded entries the backup has not acknowledged, for resends. */
  private readonly log = new Map<number, Uint8Array>();
  private pendingFrames: Uint8Array[] = [];
  /** When the last frame went to the backup. */
  lastSentUs: number;

  constructor(
    private readonly opts: ReplicaOptions,
    private readonly out: Outbox,
    private readonly counters: { framesSent: number; resends: number },
    nowUs: number,
  ) {
    this.lastSentUs = nowUs;
  }

  /** Entry `index`, encoded: kept until acknowledged, and sent at the next flush. */
  add(index: number, frame: Uint8Array): void {
    this.log.set(index, frame);
    this.pendingFrames.push(frame);
  }

  /** Send the entries appended since the last flush, in as few append frames as fit; dropped when there is no backup (`paired` false). */
  flush(nowUs: number, epoch: number, r: number, paired: boolean): void {
    if (this.pendingFrames.length === 0) return;
    const frames = this.pendingFrames;
    this.pendingFrames = [];
    if (!paired) return;
    this.sendFrames(nowUs, frames, epoch, r);
  }

  private sendFrames(nowUs: number, frames: Uint8Array[], epoch: number, r: number): void {
    const max = this.opts.maxEntriesPerFrame ?? 64;
    let batch: Uint8Array[] = [];
    let bytes = 0;
    const ship = () => {
      if (batch.length === 0) return;
      this.send(nowUs, { type: 'append', epoch, r, entries: batch });
      batch = [];
      bytes = 0;
    };
    for (const f of frames) {
      if (batch.length >= max || (batch.length > 0 && bytes + f.length > APPEND_BUDGET_BYTES)) ship();
      batch.push(f);
      bytes += f.length;
    }
    ship();
  }

  send(nowUs: number, m: ChannelMessage): void {
    this.out.channel(encodeChannel(m));
    this.counters.framesSent++;
    this.lastSentUs = nowUs;
  }

  /** The backup asks for the entries from `from`: those kept above `acked` up to `lastIndex` go again, then nothing more is pending. */
  resend(nowUs: number, from: number, acked: number, lastIndex: number, epoch: number, r: number): void {
    const frames: Uint8Array[] = [];
    for (let i = Math.max(from, acked + 1); i <= lastIndex; i++) {
      const f = this.log.get(i);
      if (f !== undefined) frames.push(f);
    }
    this.counters.resends += frames.length;
    // Entries appended but not flushed yet go out in order after the resent ones.
    this.sendFrames(nowUs, frames, epoch, r);
    this.pendingFrames = [];
  }

  /** The backup acknowledged every entry up to `acked`: no resend will need them. */
  forget(acked: number): void {
    // The log holds consecutive indices in insertion order: stop at the first one not acknowledged.
    for (const i of this.log.keys()) {
      if (i > acked) break;
      this.log.delete(i);
    }
  }

  /** No backup any more (fenced, or serving alone): nothing kept, nothing pending. */
  clear(): void {
    this.pendingFrames = [];
    this.log.clear();
  }
}
