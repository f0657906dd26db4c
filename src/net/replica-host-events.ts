/**
 * What a replica process does with each event of its Replica (ReplicaEvent, outbox.ts): its
 * line for the orchestrator (events.ts), and for some an act of the host: `announce` claims
 * the service address, `shadow`, `lost` and `live` go into the captures, `live` lets go of
 * the channel to the old primary, `joined` and `join-prepare` drive an upstream join, the
 * end of a handover finishes the process. ReplicaProcess (replica-host.ts) lends its parts
 * as a ReplicaEventHost, read when each event comes (some are made later than others).
 */
import type { ReplicaEvent } from '../replica/outbox.js';
import type { Replica } from '../replica/replica.js';
import { formatIpv4Addr } from '../wire/addr.js';
import type { ReplicaProcessEventFields, ReplicaProcessEventName } from './events.js';
import type { LogChannel } from './log-channel.js';
import type { OperatorStops } from './operator-stops.js';
import type { ReplicaCaptures } from './replica-captures.js';
import type { ArbiterTimes } from './replica-host-report.js';
import type { ReplicaProcessOptions } from './replica-options.js';
import type { ServiceLink } from './service-link.js';
import type { HandoverWatch } from './switchover.js';
import type { UpstreamJoin } from './upstream-join.js';

/** The parts of a ReplicaProcess an event reads or acts on. */
export interface ReplicaEventHost {
  readonly opts: ReplicaProcessOptions;
  readonly link: ServiceLink;
  readonly stops: OperatorStops;
  readonly handover: HandoverWatch;
  readonly arbiterTimes: ArbiterTimes;
  readonly listenCh: LogChannel | undefined;
  readonly dialCh: LogChannel | undefined;
  readonly captures: ReplicaCaptures | undefined;
  readonly replica: Replica | undefined;
  readonly upstreamJoin: UpstreamJoin | undefined;
  readonly closed: boolean;
  /** One line for the orchestrator, stamped with the wall clock now. */
  say<K extends ReplicaProcessEventName>(event: K, fields: ReplicaProcessEventFields<K>): void;
  claimService(epoch: number): void;
  /** The process should end: the reason, and whether it is a failure (its onFinished). */
  finish(reason: string, failed: boolean): void;
  drain(): void;
}

export function onReplicaEvent(h: ReplicaEventHost, e: ReplicaEvent): void {
  switch (e.type) {
    case 'announce':
      h.claimService(e.epoch);
      h.say('announce', { epoch: e.epoch, service: formatIpv4Addr(h.opts.service) });
      h.link.whenClaimed(e.epoch, 5000).then(
        () => {
          h.stops.registeredOnce = true;
          h.say('registered', { epoch: e.epoch });
        },
        (error: unknown) => h.say('announce-failed', { epoch: e.epoch, message: error instanceof Error ? error.message : String(error) }),
      );
      return;
    case 'shadow':
      h.captures?.shadow(e.index, e.packet);
      return;
    case 'suspect':
      if (h.stops.wrongRole) return; // it asked nobody: refuseBlindTakeover() stopped it
      h.say('suspect', { epoch: e.epoch, silentMs: e.silentUs / 1000, reason: e.reason });
      return;
    case 'won':
      h.say('won', h.arbiterTimes.won(e.epoch));
      return;
    case 'lost':
      h.say('lost', { epoch: e.epoch, winner: e.winner });
      h.captures?.noteAll(`replica ${h.opts.name} lost epoch ${e.epoch} to ${e.winner}`);
      return;
    case 'live':
      h.say('live', { epoch: e.epoch, r: e.r, lastIndex: e.lastIndex, reemitted: e.reemitted, reemittedEntries: e.reemittedEntries, reason: e.reason });
      h.captures?.noteWire(`replica ${h.opts.name} goes live in epoch ${e.epoch}, r = ${e.r}, re-emitting ${e.reemitted} packets`);
      // The old primary is gone: stop redialling it; a new backup joins through --log-listen.
      // After a switchover the old primary forwards late client packets until it exits (channel-down closes it).
      if (e.reason === 'switchover') setTimeout(() => h.dialCh?.closeAfterSent(), 2000).unref();
      else void h.dialCh?.close();
      return;
    case 'backup-joined':
      h.say('backup-joined', { peer: e.peer, epoch: e.epoch, index: e.index, snapshotBytes: e.snapshotBytes });
      return;
    case 'joined':
      h.say('joined', { epoch: e.epoch, index: e.index });
      // upstream join: make this replica's app a copy of the primary's, as of the snapshot.
      if (h.upstreamJoin !== undefined && h.replica !== undefined) {
        h.upstreamJoin.joined(h.replica).catch(() => {
          // Reported (upstream-join-failed); a backup whose app is not a copy must not go on.
          h.finish('failed', true);
        });
      }
      return;
    case 'join-prepare': // upstream join
      if (h.upstreamJoin === undefined) {
        h.replica?.cancelUpstreamJoin(e.peer);
        return;
      }
      void h.upstreamJoin.prepare(() => (h.closed ? undefined : h.replica), e.peer, () => h.drain());
      return;
    case 'fault':
      h.say('fault', { message: e.message, mismatch: e.mismatch });
      return;
    case 'rejected':
      h.say('rejected', { reason: e.reason });
      return;
    // planned switchover
    case 'handover':
      h.say('handover', { epoch: e.epoch, peer: e.peer, r: e.r, lastIndex: e.lastIndex, held: e.held, by: h.handover.by ?? 'SIGTERM', ...h.handover.askedAt(), queuedBytes: h.listenCh?.bufferedBytes ?? 0 });
      return;
    case 'handover-received':
      h.say('handover-received', { epoch: e.epoch, lastIndex: e.lastIndex, behind: e.behind });
      return;
    case 'taking-over':
      h.say('taking-over', { epoch: e.epoch, lastIndex: e.lastIndex });
      return;
    case 'handed-over':
    case 'handover-failed':
      if (e.type === 'handed-over') h.say('handed-over', { epoch: e.epoch, peer: e.peer });
      else h.say('handover-failed', { epoch: e.epoch, peer: e.peer, reason: e.reason });
      // Handed over: late client packets are forwarded until the address has moved (and a moment more), then it exits.
      if (e.type === 'handover-failed') h.handover.onEvent(e);
      else h.handover.finishWhenMoved(e, Math.max(20, 2 * h.opts.heartbeatMs), Math.max(1000, h.opts.failureTimeoutMs), () => h.finish('handed-over', false));
      return;
    case 'divergence': // upstream
      h.say('divergence', { conn: e.conn, offset: e.offset, what: e.what });
      return;
  }
}
