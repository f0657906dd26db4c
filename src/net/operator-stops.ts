/**
 * The two mistakes a replica process can only see once it runs, and stops on with what to
 * run instead: a backup facing a primary that serves without it, and a network that gives
 * the service address to a newer epoch of an earlier run. Its flags are the host's
 * observations (replica-host.ts sets them); it builds the one-line messages.
 */
import { formatIpv4Addr } from '../wire/addr.js';
import { startupBoundMs, type ReplicaProcessOptions } from './replica-options.js';

export class OperatorStops {
  /** Any frame at all came in on the dialled channel (the primary's). */
  heardPrimary = false;
  /** The service address was granted to this replica at least once. */
  registeredOnce = false;
  /** Set once blindTakeover() has stopped this backup. */
  wrongRole = false;
  private staleEpoch = false;

  constructor(
    private readonly opts: ReplicaProcessOptions,
    private readonly linkKind: string,
  ) {}

  /**
   * A backup whose log channel is up but which never received one frame on it faces a
   * primary that serves without it (started --alone, or live after a failover), and such a
   * primary takes a new backup only through a join. Asking the arbiter would either lose
   * (and stop, silently) or win and fence a healthy primary with an empty state machine.
   * So it stops before the test-and-set: `stop` says whether to skip the takeover, and
   * `message` is set the first time, with what to run instead.
   */
  blindTakeover(live: boolean, channelConnected: boolean): { stop: boolean; message?: string } {
    if (this.opts.role !== 'backup' || this.heardPrimary || live) return { stop: false };
    // A primary killed before its first frame closed the channel (kill -9 closes its sockets):
    // that one is dead, and a backup with an empty state machine may take over. A channel
    // still up and silent for the start-up bound S (the detector's, before a first frame) is
    // a primary that serves without this backup.
    if (!channelConnected) return { stop: false };
    if (this.wrongRole) return { stop: true };
    this.wrongRole = true;
    const o = this.opts;
    const logPeer = o.logPeer === undefined ? 'HOST:PORT' : `${o.logPeer.host}:${o.logPeer.port}`;
    const message =
      `backup ${o.name} heard nothing from primary ${o.peer} on the log channel in ${startupBoundMs(o)} ms: ` +
      `a primary that serves without a backup (--alone, or live after a failover) takes a new one only by a join; ` +
      `run ftcp replica --role join --name ${o.name} --peer ${o.peer} --log-peer ${logPeer} (with this replica's other flags)`;
    return { stop: true, message };
  }

  /**
   * The network refused our very first claim of the service for a higher epoch than ours:
   * it remembers a cluster from an earlier run (a switch that outlived its replicas), so no
   * client packet will ever reach this one. Serving on would leave clients timing out, so it
   * stops (exit 3) with what to restart; the message, once, or undefined. A replica that
   * held the service before and is then superseded is ordinary fencing, handled by the
   * arbiter's answers.
   */
  staleEpochMessage(theirs: number, ours: number): string | undefined {
    if (this.registeredOnce || this.staleEpoch || theirs <= ours) return undefined;
    this.staleEpoch = true;
    const tap = this.linkKind === 'tap';
    return (
      `the ${tap ? 'network' : 'switch'} gives ${formatIpv4Addr(this.opts.service)} to epoch ${theirs}, above this replica's epoch ${ours}: ` +
      `it remembers a pair from an earlier run. Stop this pair, restart ${tap ? 'the replicas of that run or move it off the address' : '`ftcp switch` (a new switch starts with no claims)'}, then start the pair again`
    );
  }
}
