/**
 * One replica: the RSM plus its current role (primary, backup, joining backup), and the
 * transitions between roles. Sans-I/O like the stack (quinn-proto's verbs):
 *
 *   inputs:  handleServicePacket(now, bytes)  a client packet, from the switch
 *            handleChannel(now, bytes)        a frame from the peer replica
 *            handleArbiter(now, bytes)        the arbiter's answer
 *            handleTimeout(now)               pollTimeout()'s deadline has come
 *            handlePeerLost(now)              the peer's end of the log channel closed
 *   outputs: pollTransmit()  packets for the clients (tagged with the epoch)
 *            pollChannel()   frames for the peer
 *            pollArbiter()   test-and-set requests
 *            pollEvent()     announcements, go-live, fencing, shadowed outputs, faults
 *            pollTimeout()   the next deadline on this replica's clock
 *
 * Going live (DESIGN.md, "Going live"): the backup's RSM becomes a lone primary's, in
 * epoch e + 1. It re-emits the shadowed O(i) with i > r in order, continues the RSM's
 * clock from the last logged time (offset = last logged time - now), announces the
 * service address with the new epoch, serves alone until a new backup joins, and restarts
 * every flow at once (go-live.ts).
 */
import { DivergenceCheck } from '../proxy/divergence.js';
import { UPSTREAM_APP, type UpstreamAction, type UpstreamEvent } from '../proxy/upstream.js';
import { decodeArbiter, type ArbiterRequest } from './arbiter.js';
import { BackupRole } from './backup.js';
import { decodeChannel, encodeChannel, type ChannelMessage } from './channel.js';
import { reemitOutputs, reemittedFlows } from './go-live.js';
import { Outbox, resolveTimes, type ReplicaEvent, type ReplicaOptions, type ResolvedTimes, type ServicePacket } from './outbox.js';
import { PrimaryRole, UPSTREAM_JOIN_REFUSED } from './primary.js';
import { Rsm } from './rsm.js';

export type ReplicaRoleName = 'primary' | 'backup' | 'joining' | 'fenced' | 'handed-over' | 'stopped' | 'failed';

export interface ReplicaCounters {
  channelRejected: number;
  arbiterRejected: number;
  servicePacketsIgnored: number;
  /** Upstream app: reports for connections the RSM no longer has (or from a role that takes none). */
  upstreamIgnored: number;
  /** Upstream app: own bytes beyond the logged prefix that became the stream's continuation at go-live. */
  upstreamContinuedBytes: number;
}

/** Misuse of the upstream contract (a replica configured in a way that cannot be consistent). */
export class UpstreamJoinError extends Error {
  readonly code = 'EUPSTREAMJOIN';
  constructor(message: string) {
    super(message);
    this.name = 'UpstreamJoinError';
  }
}

export class Replica {
  readonly name: string;
  readonly counters: ReplicaCounters = { channelRejected: 0, arbiterRejected: 0, servicePacketsIgnored: 0, upstreamIgnored: 0, upstreamContinuedBytes: 0 };
  /** Upstream app: the divergence check (and, live, the continuation of the streams by this replica's own app). */
  readonly divergence: DivergenceCheck | undefined;
  private readonly out = new Outbox();
  private readonly times: ResolvedTimes;
  private role: PrimaryRole | BackupRole;
  private requestIds = 0;
  private readonly nextRequestId = () => ++this.requestIds;

  private constructor(
    private readonly opts: ReplicaOptions,
    make: (r: Replica) => PrimaryRole | BackupRole,
  ) {
    this.name = opts.name;
    this.times = resolveTimes(opts);
    this.role = make(this);
    this.divergence = opts.rsm.app === UPSTREAM_APP ? new DivergenceCheck(this.role instanceof PrimaryRole) : undefined;
  }

  /** The first primary of a pair (or alone, without `peer`), epoch 1; it announces the service address. */
  static primary(opts: ReplicaOptions, peer: string | undefined, nowUs: number): Replica {
    return new Replica(opts, (self) => {
      const rsm = Rsm.create(opts.rsm, opts.factory, nowUs);
      const role = new PrimaryRole(rsm, opts, self.times, self.out, { epoch: 1, peer, offsetUs: 0, nowUs, nextRequestId: self.nextRequestId });
      self.out.event({ type: 'announce', epoch: 1 });
      return role;
    });
  }

  /** The first backup of a pair: the same initial RSM as the primary's, epoch 1. */
  static backup(opts: ReplicaOptions, peer: string, nowUs: number): Replica {
    return new Replica(opts, (self) => new BackupRole(Rsm.create(opts.rsm, opts.factory, nowUs), opts, self.times, self.out, { epoch: 1, peer, nowUs, nextRequestId: self.nextRequestId }));
  }

  /** A new backup for a lone primary: it asks to join and waits for a snapshot. */
  static joiner(opts: ReplicaOptions, primary: string, nowUs: number): Replica {
    if (opts.rsm.app === UPSTREAM_APP && opts.upstreamAdapter === undefined) throw new UpstreamJoinError(`replica ${opts.name} cannot join: ${UPSTREAM_JOIN_REFUSED}`);
    return new Replica(opts, (self) => new BackupRole(undefined, opts, self.times, self.out, { epoch: 0, peer: primary, nowUs, nextRequestId: self.nextRequestId }));
  }

  get roleName(): ReplicaRoleName {
    const r = this.role;
    if (r instanceof PrimaryRole) return r.handedOver ? 'handed-over' : r.fenced ? 'fenced' : 'primary';
    switch (r.state) {
      case 'joining':
        return 'joining';
      case 'stopped':
        return 'stopped';
      case 'failed':
        return 'failed';
      default:
        return 'backup';
    }
  }

  /** Serving clients: a primary that is not fenced. */
  get live(): boolean {
    return this.role instanceof PrimaryRole && !this.role.fenced;
  }

  get epoch(): number {
    return this.role.epoch;
  }

  /** The replica at the other end of the log channel, if any. */
  get peer(): string | undefined {
    return this.role.peer;
  }

  get rsm(): Rsm | undefined {
    return this.role.rsm;
  }

  /** The role object, for inspection by tests and the simulator. */
  get current(): PrimaryRole | BackupRole {
    return this.role;
  }

  /**
   * The driver saw this replica's own event loop stalled from fromUs to toUs (its clock):
   * the failure detector does not count that silence against the peer.
   */
  handleStall(fromUs: number, toUs: number): void {
    this.role.noteStall(fromUs, toUs);
  }

  /**
   * The peer's end of the log channel closed, and this side did not close it: the peer's
   * process is gone (its kernel closed the connection), so the role suspects it now rather
   * than after the failure timeout, and asks the arbiter (docs/design.md "Failure
   * detection"). A host that dies or a partition closes nothing: the timeout still covers those.
   */
  handlePeerLost(nowUs: number): void {
    this.role.peerLost(nowUs);
    this.afterInput();
  }

  /**
   * Planned switchover (an operator's command, or SIGTERM of the process): a primary with a
   * backup hands the service over (PrimaryRole.startHandover). Returns why it cannot, or
   * undefined when the handover started (its end is a `handed-over` or `handover-failed` event).
   */
  handOver(nowUs: number): string | undefined {
    const role = this.role;
    if (!(role instanceof PrimaryRole)) return role.state === 'following' ? `it is the backup of ${role.peer}, not the primary` : `it is a ${this.roleName} replica, not the primary`;
    const refused = role.startHandover(nowUs);
    this.afterInput();
    return refused;
  }

  handleServicePacket(nowUs: number, bytes: Uint8Array): void {
    if (this.role instanceof PrimaryRole) this.role.handleServicePacket(nowUs, bytes);
    else this.counters.servicePacketsIgnored++;
    this.afterInput();
  }

  /**
   * Upstream app: this replica's own app instance did `action` on connection `conn` (the
   * driver's report). A primary logs it (only what lies beyond the logged prefix: after a
   * go-live the two coincide); a backup compares it with the log (DESIGN.md "Upstream apps").
   */
  handleUpstream(nowUs: number, conn: number, action: UpstreamAction): void {
    const rsm = this.role.rsm;
    const check = this.divergence;
    if (check === undefined || rsm === undefined || !rsm.hasUpstreamConn(conn)) {
      this.counters.upstreamIgnored++;
      return;
    }
    const toLog = check.own(conn, action);
    const role = this.role;
    if (role instanceof PrimaryRole) for (const a of toLog) role.handleUpstream(nowUs, conn, a);
    this.afterInput();
  }

  /**
   * Upstream app with a state adapter: the driver has made its app quiescent and exported its
   * state for the joiner `name` (after a `join-prepare` event): the snapshot is taken now, at
   * the current index, and carries `appState`. False if the join no longer applies.
   */
  completeUpstreamJoin(nowUs: number, name: string, appState: Uint8Array): boolean {
    const role = this.role;
    const done = role instanceof PrimaryRole && role.completeJoin(nowUs, name, appState);
    this.afterInput();
    return done;
  }

  /** Upstream app: the driver could not export its app's state for `name`. */
  cancelUpstreamJoin(name: string): void {
    if (this.role instanceof PrimaryRole) this.role.cancelJoin(name);
  }

  /** Upstream app: what the driver must do with this replica's app instance, in order. */
  pollUpstream(): UpstreamEvent | undefined {
    return this.out.poll('upstream');
  }

  /** Moves the RSM's upstream events to the outbox and the applied `app` entries to the divergence check. */
  private afterInput(): void {
    const rsm = this.role.rsm;
    const check = this.divergence;
    if (rsm === undefined || check === undefined) return;
    for (let l = rsm.pollLogged(); l !== undefined; l = rsm.pollLogged()) check.logged(l.conn, l.action);
    for (let e = rsm.pollUpstream(); e !== undefined; e = rsm.pollUpstream()) {
      if (e.type === 'closed') check.forget(e.conn);
      this.out.upstream(e);
    }
    for (let d = check.pollDivergence(); d !== undefined; d = check.pollDivergence()) this.out.event({ type: 'divergence', ...d });
  }

  handleChannel(nowUs: number, bytes: Uint8Array): void {
    const d = decodeChannel(bytes);
    if (!d.ok) {
      this.counters.channelRejected++;
      this.out.event({ type: 'rejected', reason: `${this.name}: ${d.reason}` });
      return;
    }
    this.handleChannelMessage(nowUs, d.message);
  }

  /** A frame from the peer replica that the caller already decoded (and so checked: CRC, bounds). */
  handleChannelMessage(nowUs: number, m: ChannelMessage): void {
    this.role.handleChannel(nowUs, m);
    this.afterInput();
  }

  handleArbiter(nowUs: number, bytes: Uint8Array): void {
    const m = decodeArbiter(bytes);
    if (m === undefined || m.type !== 'response' || m.replica !== this.name) {
      this.counters.arbiterRejected++;
      return;
    }
    if (this.role instanceof PrimaryRole) {
      this.role.handleArbiter(nowUs, m);
      this.afterInput();
      return;
    }
    const won = this.role.handleArbiter(nowUs, m);
    if (won === undefined) return;
    const handOver = { ...won, reemit: reemitOutputs(won.rsm, won.reemit) };
    // Going live. Step 1: re-emit the shadowed outputs above r, in order, in the new epoch.
    const epoch = handOver.wonEpoch + 1;
    let reemitted = 0;
    for (const s of handOver.reemit) {
      for (const packet of s.packets) {
        this.out.transmit({ packet, epoch, index: s.index, reemitted: true } satisfies ServicePacket);
        reemitted++;
      }
    }
    // Step 2: the RSM clock continues from the last logged time; the stack's timers run from now on.
    const offsetUs = handOver.rsm.lastTimeUs - nowUs;
    this.role = new PrimaryRole(handOver.rsm, this.opts, this.times, this.out, { epoch, peer: undefined, offsetUs, nowUs, nextRequestId: this.nextRequestId });
    this.role.noteReemitted(handOver.reemit.flatMap((s) => s.packets), nowUs);
    this.out.event({ type: 'live', epoch, r: handOver.r, lastIndex: handOver.rsm.index, reemitted, reemittedEntries: handOver.reemit.length, reason: handOver.switchover ? 'switchover' : 'failover' });
    // A planned switchover: tell the old primary it may go (it then emits nothing more).
    if (handOver.switchover) this.out.channel(encodeChannel({ type: 'handover', epoch, r: handOver.r, lastIndex: handOver.rsm.index }));
    // Step 3: take over the service address. Step 4: serve alone (the role is alone).
    this.out.event({ type: 'announce', epoch });
    this.role.append(nowUs, { kind: 'epoch', newEpoch: epoch, members: [this.name] });
    // Step 5: every flow with unacknowledged data restarts now, not at a timeout (go-live.ts).
    this.role.append(nowUs, { kind: 'retransmit', skip: reemittedFlows(handOver.rsm, handOver.reemit.flatMap((s) => s.packets)) });
    // What reached the old primary while it handed over is this primary's first input.
    for (const packet of handOver.forwarded) this.role.handleServicePacket(nowUs, packet);
    this.afterInput();
    // Upstream app: what this replica's own app wrote beyond the logged prefix continues each stream.
    const check = this.divergence;
    if (check !== undefined) {
      for (const { conn, actions } of check.goLive()) {
        if (!handOver.rsm.hasUpstreamConn(conn)) continue;
        for (const a of actions) {
          if (a.type === 'data') this.counters.upstreamContinuedBytes += a.data.length;
          this.role.handleUpstream(nowUs, conn, a);
        }
      }
      this.afterInput();
    }
  }

  handleTimeout(nowUs: number): void {
    this.role.handleTimeout(nowUs);
    this.afterInput();
  }

  pollTransmit(): ServicePacket | undefined {
    return this.out.poll('transmit');
  }

  pollChannel(): Uint8Array | undefined {
    return this.out.poll('channel');
  }

  pollArbiter(): ArbiterRequest | undefined {
    return this.out.poll('arbiter');
  }

  pollEvent(): ReplicaEvent | undefined {
    return this.out.poll('events');
  }

  pollTimeout(): number | undefined {
    return this.role.pollTimeout();
  }
}
