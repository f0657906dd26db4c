/**
 * The driver's side of joining a backup when the service is an upstream app with a state
 * adapter (upstream-adapter.ts, redis-adapter.ts). Works on the replica process's
 * UpstreamSockets and their RespSequencer (the one-command-at-a-time gate is what lets the
 * primary stop its app between two commands, and hand the joiner exactly the client bytes
 * its app has not seen).
 *
 * Primary, on `join-prepare`: pause the sequencer, wait until the command in flight is
 * answered (and so logged), export the app's state, and in the same turn take the snapshot
 * (Replica.completeUpstreamJoin) with that export plus the sequencer's pending bytes; keep
 * the app paused until the adapter says the joiner's copy is done (released), then resume.
 *
 * Joiner, on `joined`: pause its sequencer, open one app connection per client connection of
 * the snapshot, restore the primary's pending bytes, import the app's state, then resume.
 *
 * A stateless app (StatelessAdapter, `--upstream-stateless`) has no sequencer: the primary
 * takes the snapshot at once with an empty export, and the joiner only opens its connections.
 */
import type { Replica } from '../replica/replica.js';
import type { Endpoint } from './endpoint.js';
import type { SequencerPending } from './resp-sequencer.js';
import type { UpstreamStateAdapter } from './upstream-adapter.js';
import type { UpstreamSockets } from './upstream-sockets.js';

/** What the snapshot carries for the joiner's driver. */
interface JoinState {
  adapter: string;
  /** The adapter's export, latin-1. */
  state: string;
  pending: { queue: Array<{ conn: number; bytes: string }>; partial: Array<{ conn: number; bytes: string }>; eof: number[] };
}

/** A stateless app's join: no sequencer, so nothing held back from it. */
const NOTHING_PENDING: SequencerPending = { queue: [], partial: [], eof: [] };

const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

export type UpstreamJoinEvent =
  | { event: 'upstream-join-exported'; peer: string; index: number | null; pausedMs: number; queued: number; partial: number }
  | { event: 'upstream-join-released'; peer: string; pausedMs: number }
  | { event: 'upstream-imported'; importMs: number; conns: number; queued: number }
  | { event: 'upstream-join-failed'; side: 'primary' | 'joiner'; message: string };

export class UpstreamJoin {
  constructor(
    private readonly adapter: UpstreamStateAdapter,
    private readonly sockets: UpstreamSockets,
    private readonly app: Endpoint,
    private readonly emit: (e: UpstreamJoinEvent) => void,
    private readonly nowUs: () => number,
  ) {}

  /** The sequencer that lets the app be paused between two commands; none for a stateless app (nothing to pause for). */
  private get sequencer() {
    const s = this.sockets.sequencer;
    if (s === undefined && this.adapter.stateless !== true) throw new Error('joining with a state adapter needs --upstream-app redis (the sequencer)');
    return s;
  }

  /** Primary: a `join-prepare` event for `peer`. `replica()` is read again after every await. */
  async prepare(replica: () => Replica | undefined, peer: string, drain: () => void): Promise<void> {
    const seq = this.sequencer;
    const t0 = Date.now();
    seq?.pause();
    let exported: Uint8Array | undefined;
    try {
      await seq?.whenIdle();
      exported = await this.adapter.exportState(this.app);
      // The cut: nothing has been written to the app since whenIdle (paused), so its state is
      // the export's; the snapshot is taken now, in this same turn, with what the app has not seen.
      const r = replica();
      const p = seq?.pending() ?? NOTHING_PENDING;
      const state: JoinState = {
        adapter: this.adapter.name,
        state: latin1(exported),
        pending: { queue: p.queue.map((q) => ({ conn: q.conn, bytes: latin1(q.bytes) })), partial: p.partial.map((q) => ({ conn: q.conn, bytes: latin1(q.bytes) })), eof: p.eof },
      };
      if (r === undefined || !r.completeUpstreamJoin(this.nowUs(), peer, new TextEncoder().encode(JSON.stringify(state)))) {
        seq?.resume();
        return;
      }
      this.emit({ event: 'upstream-join-exported', peer, index: r.rsm?.index ?? null, pausedMs: Date.now() - t0, queued: p.queue.length, partial: p.partial.length });
      drain();
      await this.adapter.released(this.app, exported);
      this.emit({ event: 'upstream-join-released', peer, pausedMs: Date.now() - t0 });
    } catch (error) {
      replica()?.cancelUpstreamJoin(peer);
      this.emit({ event: 'upstream-join-failed', side: 'primary', message: error instanceof Error ? error.message : String(error) });
    } finally {
      seq?.resume();
      drain();
    }
  }

  /** Joiner: the snapshot is restored (`joined`). Resolves when its app is a copy and being fed; rejects if the import failed. */
  async joined(replica: Replica): Promise<void> {
    const seq = this.sequencer;
    const t0 = Date.now();
    const { appState, conns } = replica.rsm?.takeUpstreamImport() ?? { appState: undefined, conns: [] };
    seq?.pause();
    try {
      if (appState === undefined) throw new Error('the snapshot carries no app state (the primary has no state adapter?)');
      const s = JSON.parse(new TextDecoder().decode(appState)) as JoinState;
      if (s.adapter !== this.adapter.name) throw new Error(`the primary's app state is for the ${s.adapter} adapter, this replica has ${this.adapter.name}`);
      for (const conn of conns) this.sockets.open(conn);
      const pending: SequencerPending = { queue: s.pending.queue.map((q) => ({ conn: q.conn, bytes: bytes(q.bytes) })), partial: s.pending.partial.map((q) => ({ conn: q.conn, bytes: bytes(q.bytes) })), eof: s.pending.eof };
      seq?.restorePending(pending);
      await this.adapter.importState(this.app, bytes(s.state));
      this.emit({ event: 'upstream-imported', importMs: Date.now() - t0, conns: conns.length, queued: seq?.pending().queue.length ?? 0 });
    } catch (error) {
      this.emit({ event: 'upstream-join-failed', side: 'joiner', message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      seq?.resume();
    }
  }
}
