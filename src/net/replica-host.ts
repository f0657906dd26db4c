/**
 * One Replica (src/replica/replica.ts) in a real process: the real-world twin of the
 * simulator's ReplicaNode (src/sim/cluster-nodes.ts).
 *
 *   clock      ProcessClock: integer µs since the Replica was made (so the first primary
 *              and its backup both create their RSM at time 0, the same initial state)
 *   service    a UdpLink to the switch; the service address is claimed with the epoch
 *              whenever the replica says `announce`; the replica's own virtual address
 *              is claimed with epoch 0 at start (that also proves the switch is there)
 *   log        LogChannel: the primary listens, a backup (or a joiner) dials the live
 *              primary; a backup that was given --log-listen listens too, so that after
 *              going live a new backup can join it
 *   key        the cluster key (cluster-key.ts), when given: the log channel and the
 *              embedded arbiter's protocol authenticate the peer and every frame with it;
 *              a refused peer is one `channel-refused` line (the first of each reason,
 *              then every 100th) and counted in stats().logChannel.refused
 *   arbiter    ArbiterClient (embedded) or EtcdArbiter (--arbiter etcd://...); requests from
 *              pollArbiter(), answers to handleArbiter(); with etcd, client packets are held
 *              while out of contact (the output fence, arbiter-etcd.ts)
 *   timers     one setTimeout at pollTimeout()'s deadline (deadline-timer.ts)
 *   captures   <dir>/<name>.pcapng (client packets it received and put on the wire),
 *              <dir>/<name>-shadow.pcapng (O(i) generated while a backup),
 *              <dir>/<name>-log.pcapng (log channel frames and arbiter messages as UDP
 *              datagrams between virtual addresses, as in the simulator's log capture);
 *              every block is written at once (kill -9 leaves them readable); opened
 *              with the link and the arbiter (replica-host-open.ts)
 *
 * The Replica is made when the log channel first comes up (the primary: the backup has
 * connected; the backup: it reached the primary), so that the failure detector does not
 * count the other process's start-up time as silence.
 *
 * After every input it drains the replica through the one drive loop (src/replica/drive.ts):
 * client packets, channel frames, arbiter requests, upstream actions, events (each a line
 * for the orchestrator and maybe an act of the host: replica-host-events.ts), the deadline.
 * Packets come before the `announce` of the same drain, so the service address is claimed
 * with a packet's epoch before the first packet of a newer epoch is sent (claimService):
 * the switch forwards only the holder's packets.
 */
import { encodeArbiter } from '../replica/arbiter.js';
import type { ServicePacket } from '../replica/outbox.js';
import { Replica, type ReplicaRoleName } from '../replica/replica.js';
import { drainReplica } from '../replica/drive.js';
import { servicePacketComment } from '../replica/capture-tags.js';
import type { ReplicaCaptures } from './replica-captures.js';
import type { RsmConfig } from '../replica/rsm.js';
import type { Ipv4Addr } from '../wire/addr.js';
import { ProcessClock, wallClockMs } from './clock.js';
import { LogChannel, type LogChannelStatus } from './log-channel.js';
import { CHANNEL_TYPE_HELLO, decodeChannel, encodeChannel, type ChannelMessage } from '../replica/channel.js';
import { HandoverWatch, type HandoverStart, type HandoverTrigger } from './switchover.js'; // planned switchover
import { compareHello, decodeHello, encodeHello, helloFields, redisRunId, type HelloFields } from './handshake-check.js';
import { LogRttProbe } from './log-rtt.js'; // bench: log-channel round trip
import { StallWatch } from './stall-watch.js';
import { DeadlineTimer } from './deadline-timer.js';
import { channelFor } from './channel-route.js';
import { ArbiterTimes, hostStats, replicaCapturePaths, startedFields, type CapturePaths } from './replica-host-report.js';
import { OperatorStops } from './operator-stops.js';
import { LinkError } from './udp-link.js';
import type { ReplicaArbiter } from './arbiter-etcd.js';
import type { ServiceLink } from './service-link.js';
import { openReplicaArbiter, openReplicaCaptures, openReplicaLink } from './replica-host-open.js';
import { onReplicaEvent, type ReplicaEventHost } from './replica-host-events.js';
import { UpstreamSockets } from './upstream-sockets.js'; // upstream
import { UPSTREAM_JOIN_REFUSED } from '../replica/primary.js'; // upstream
import { UPSTREAM_ADAPTERS } from './upstream-adapter.js'; // upstream join
import { UpstreamJoin } from './upstream-join.js'; // upstream join
import type { ReplicaProcessEvent, ReplicaProcessEventFields, ReplicaProcessEventName, ReplicaProcessEventOf } from './events.js';
import { replicaOptions, replicaRsmConfig, replicaVirtualAddress, type ReplicaProcessOptions } from './replica-options.js';


export class ReplicaProcess {
  replica: Replica | undefined;
  readonly address: Ipv4Addr;
  /** Set when the process should end: the reason, and whether it is a failure. */
  onFinished: ((reason: string, failed: boolean) => void) | undefined;
  /** Restarted when the Replica is made: time 0 of the RSM. */
  private clock = new ProcessClock();
  private readonly rsmConfig: RsmConfig;
  private dialCh: LogChannel | undefined;
  /** One setTimeout at pollTimeout()'s deadline (deadline-timer.ts). */
  private readonly deadline = new DeadlineTimer({
    nowUs: () => this.clock.nowUs(),
    closed: () => this.closed,
    canFire: () => !this.closed && this.replica !== undefined,
    fire: () => {
      this.stallWatch?.check();
      this.replica!.handleTimeout(this.clock.nowUs());
      this.drain();
    },
  });
  private draining = false;
  /** The highest epoch this replica has claimed the service address with (claimService). */
  private claimedEpoch = 0;
  private closed = false;
  private captures: ReplicaCaptures | undefined;
  private lastRole: ReplicaRoleName | undefined;
  private lastArbiterError: string | undefined;
  /** upstream: this replica's sockets to its own app instance. */
  private upstream: UpstreamSockets | undefined;
  /** upstream: joining with a state adapter (--upstream-app redis). */
  private upstreamJoin: UpstreamJoin | undefined;
  /** etcd arbiter: client packets held while out of contact (the output fence), in order. */
  private fenceHeld: ServicePacket[] = [];
  /** bench: append -> ack round trips of the log channel, reported in stats().logRtt. */
  private readonly logRtt = new LogRttProbe();
  private stallWatch: StallWatch | undefined; // own event-loop stalls, for the failure detector
  /** What the peer must share with us (handshake-check.ts). */
  private readonly hello: HelloFields;
  /** The mistakes it stops on once running: a blind takeover, a stale epoch (operator-stops.ts). */
  private readonly stops: OperatorStops;
  /** Planned switchover: the handover under way, if any (switchover.ts). */
  private readonly handover: HandoverWatch;
  private readonly arbiterTimes: ArbiterTimes;
  /** What an event of the Replica reads and acts on (replica-host-events.ts). */
  private readonly eventHost: ReplicaEventHost = ReplicaProcess.eventHostOf(this);
  readonly counts = { servicePacketsIn: 0, servicePacketsOut: 0, reemitted: 0, framesIn: 0, framesOut: 0, framesDropped: 0, arbiterRequests: 0, arbiterAnswers: 0, fenceHeld: 0 };

  private constructor(
    readonly opts: ReplicaProcessOptions,
    private readonly emit: (e: ReplicaProcessEvent) => void,
    readonly link: ServiceLink,
    readonly arbiter: ReplicaArbiter,
    readonly listenCh: LogChannel | undefined,
    upstreamId: string | undefined,
  ) {
    this.address = replicaVirtualAddress(opts.name);
    this.rsmConfig = replicaRsmConfig(opts);
    this.hello = helloFields(opts, upstreamId);
    this.handover = new HandoverWatch(opts.name);
    this.stops = new OperatorStops(opts, link.kind);
    this.arbiterTimes = new ArbiterTimes(arbiter);
  }

  /** Planned switchover (switchover.ts): hands the service to the backup, or says why it cannot. */
  handOver(by: HandoverTrigger, askedAtMs?: number): HandoverStart {
    const r = this.replica;
    const refused = this.closed || r === undefined ? 'it has no backup to hand over to (none has connected)' : this.handover.active ? 'it is already handing over' : r.handOver(this.clock.nowUs());
    if (refused !== undefined) {
      const message = `${by === 'SIGTERM' ? 'SIGTERM: stops without a handover' : 'no switchover'}: ${refused}`;
      this.emit(this.event('handover-refused', { message, by }));
      return { refused: `replica ${this.opts.name}: ${message}` };
    }
    const done = this.handover.start(by, askedAtMs ?? wallClockMs());
    this.drain();
    return { done };
  }

  /**
   * Opens everything and checks that the switch, the arbiter and (backup, join) the
   * primary's log channel answer. Rejects with a one-line LinkError when one does not, or
   * when a port is in use; what was opened is closed again.
   */
  static async start(opts: ReplicaProcessOptions, emit: (e: ReplicaProcessEvent) => void): Promise<ReplicaProcess> {
    const timeoutMs = opts.startTimeoutMs ?? 5000;
    if (opts.role === 'primary' && opts.logListen === undefined) throw new LinkError('a primary needs --log-listen HOST:PORT (where its backup connects)');
    if (opts.role !== 'primary' && opts.logPeer === undefined) throw new LinkError(`a ${opts.role === 'join' ? 'joining replica' : 'backup'} needs --log-peer HOST:PORT (the live primary's --log-listen)`);
    // upstream: a new backup's app instance would hold none of the primary's app state.
    if (opts.role === 'join' && opts.upstream !== undefined && opts.upstreamApp === undefined) throw new LinkError(`replica ${opts.name} cannot join: ${UPSTREAM_JOIN_REFUSED}`);
    opts.warmUp?.(opts.app, opts.upstream !== undefined);
    const upstreamId = opts.upstreamApp === 'redis' && opts.upstream !== undefined ? await redisRunId(opts.upstream, timeoutMs) : undefined;
    const opened: Array<() => unknown> = [];
    try {
      const link = await openReplicaLink(opts, timeoutMs);
      opened.push(() => link.close());
      const arbiter = await openReplicaArbiter(opts, timeoutMs, opened);
      const listenCh = opts.logListen === undefined ? undefined : await LogChannel.listen(opts.logListen, { flag: '--log-listen', clusterKey: opts.clusterKey });
      if (listenCh !== undefined) opened.push(() => listenCh.close());
      const p = new ReplicaProcess(opts, emit, link, arbiter, listenCh, upstreamId);
      opened.push(() => p.closeCaptures());
      p.openCaptures();
      if (opts.role !== 'primary') {
        const dial = LogChannel.dial(opts.logPeer!, { flag: '--log-peer', clusterKey: opts.clusterKey });
        p.dialCh = dial;
        opened.push(() => dial.close());
        await dial.whenConnected(timeoutMs);
      }
      p.wire();
      return p;
    } catch (error) {
      for (const close of opened.reverse()) await close();
      throw error;
    }
  }

  get roleName(): ReplicaRoleName | 'waiting' {
    return this.replica?.roleName ?? 'waiting';
  }

  /** The first event: where it listens, what it waits for. */
  describeStart(): ReplicaProcessEvent {
    return this.event('started', startedFields(this.opts, this.address, this.link, this.listenCh));
  }

  capturePaths(): CapturePaths {
    return replicaCapturePaths(this.opts);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.deadline.stop();
    this.stallWatch?.stop();
    this.arbiter.close();
    this.upstream?.close(); // upstream
    await Promise.all([this.link.close(), this.listenCh?.close(), this.dialCh?.close()]);
    this.closeCaptures();
    await this.opts.live?.close();
  }

  stats(): Record<string, unknown> {
    const channel = this.listenCh ?? this.dialCh;
    return hostStats({ roleName: this.roleName, replica: this.replica, counts: this.counts, link: this.link, channel, arbiter: this.arbiter, logRtt: this.logRtt, stallWatch: this.stallWatch, upstream: this.upstream });
  }

  // ---- wiring -------------------------------------------------------------------------

  /** One line for the orchestrator (events.ts): what happened, when (wall clock ms), and details. */
  private event<K extends ReplicaProcessEventName>(event: K, fields: ReplicaProcessEventFields<K>): ReplicaProcessEventOf<K> {
    return { event, name: this.opts.name, atMs: wallClockMs(), ...fields } as ReplicaProcessEventOf<K>;
  }

  private wire(): void {
    this.link.onPacket((packet) => {
      const r = this.replica;
      if (this.closed || r === undefined) return;
      this.counts.servicePacketsIn++;
      r.handleServicePacket(this.clock.nowUs(), packet);
      this.captures?.wire(packet, `log entry ${r.rsm?.index ?? '?'}`);
      this.drain();
    });
    this.link.onSuperseded((epoch) => {
      this.emit(this.event('superseded', { epoch }));
      this.handover.addressMoved();
      this.checkStaleEpoch(epoch);
    });
    this.arbiter.onResponse((bytes) => {
      if (this.closed || this.replica === undefined) return;
      this.counts.arbiterAnswers++;
      this.lastArbiterError = undefined;
      this.arbiterTimes.answered(wallClockMs());
      this.captures?.arbiter(bytes, false);
      this.replica.handleArbiter(this.clock.nowUs(), bytes);
      this.drain();
    });
    // One line per kind of failure, not one per retry (the replica asks again every D).
    this.arbiter.onError((message) => {
      if (message !== this.lastArbiterError) this.emit(this.event('arbiter-error', { message }));
      this.lastArbiterError = message;
    });
    // ---- etcd arbiter: the output fence (docs/decisions.md) ----
    this.arbiter.onContact?.((inContact, lastContactMs) => {
      if (this.closed) return;
      this.emit(this.event(inContact ? 'arbiter-contact' : 'arbiter-fenced', { lastContactMs, held: this.fenceHeld.length }));
      if (inContact) this.releaseFenceHeld();
    });
    for (const ch of [this.listenCh, this.dialCh]) {
      if (ch === undefined) continue;
      ch.onFrame((frame, message) => this.onFrame(ch, frame, message));
      ch.onStatus((s) => this.onChannelStatus(ch, s));
    }
    // The dialer's first connection came up in start(), before onStatus: its hello goes now.
    if (this.dialCh?.connected === true) this.sendHello(this.dialCh);
    // A channel already up (the dialer waited for it in start()), or a primary alone, makes the replica now.
    if (this.dialCh?.connected === true || this.opts.alone === true) setImmediate(() => this.makeReplica());
  }

  private onChannelStatus(ch: LogChannel, s: LogChannelStatus): void {
    if (this.closed) return;
    const which = ch === this.listenCh ? 'listen' : 'dial';
    if (s.type === 'up') {
      this.emit(this.event('channel-up', { channel: which, peer: s.peer }));
      this.sendHello(ch);
      if (this.replica === undefined && (this.opts.role === 'primary' ? ch === this.listenCh : ch === this.dialCh)) this.makeReplica();
    } else if (s.type === 'down') {
      this.emit(this.event('channel-down', { channel: which, peer: s.peer, reason: s.reason }));
      this.handover.channelDown();
      if (ch === this.dialCh && this.replica?.live === true) void ch.close(); // the old primary is gone: no redial
      else if (s.reason === 'connection lost') this.peerLost(ch);
    } else if (s.type === 'refused') {
      const count = ch.stats.refused[s.reason];
      if (count === 1 || count % 100 === 0) this.emit(this.event('channel-refused', { channel: which, peer: s.peer, reason: s.reason, count, message: s.message }));
    } else if (s.attempt === 1 || s.attempt % 20 === 0) {
      this.emit(this.event('channel-connect-failed', { channel: which, message: s.message, attempt: s.attempt }));
    }
  }

  /**
   * The connection to the peer ended, and not by this side (docs/design.md "Failure
   * detection"): a dead process's kernel closes it at once, so the replica suspects the peer
   * now instead of after D. Only the channel to the current peer counts: the dialled one
   * for a backup or joiner, the listening one for a live primary.
   */
  private peerLost(ch: LogChannel): void {
    const r = this.replica;
    if (this.closed || r === undefined || ch !== (r.live ? this.listenCh : this.dialCh)) return;
    this.stallWatch?.check();
    r.handlePeerLost(this.clock.nowUs());
    this.drain();
  }

  private makeReplica(): void {
    if (this.replica !== undefined || this.closed) return;
    const o = this.opts;
    const options = replicaOptions(o, this.rsmConfig);
    // Time 0 of the replica's clock is now: both replicas of a new pair create their RSM at 0.
    this.clock = new ProcessClock();
    this.replica = o.role === 'primary' ? Replica.primary(options, o.alone === true ? undefined : o.peer, 0) : o.role === 'backup' ? Replica.backup(options, o.peer, 0) : Replica.joiner(options, o.peer, 0);
    this.emit(this.event('replica', { role: this.replica.roleName, epoch: this.replica.epoch, peer: this.replica.peer ?? null }));
    this.stallWatch = new StallWatch(() => this.clock.nowUs(), (from, to) => this.replica?.handleStall(from, to)).start(); // own stalls are not the peer's silence
    // upstream: this replica's own app instance, one socket per client connection.
    if (o.upstream !== undefined) {
      this.upstream = new UpstreamSockets({ upstream: o.upstream, ...(o.upstreamConnectTimeoutMs !== undefined ? { connectTimeoutMs: o.upstreamConnectTimeoutMs } : {}), ...(o.upstreamApp === 'redis' ? { order: 'resp' as const } : {}) }, (conn, action) => {
        if (this.closed || this.replica === undefined) return;
        this.replica.handleUpstream(this.clock.nowUs(), conn, action);
        this.drain();
      });
      const adapter = o.upstreamApp !== undefined ? UPSTREAM_ADAPTERS.get(o.upstreamApp) : undefined;
      if (adapter !== undefined) this.upstreamJoin = new UpstreamJoin(adapter, this.upstream, o.upstream, (e) => this.emit(this.event(e.event, { ...e })), () => this.clock.nowUs());
    }
    this.drain();
  }

  private sendHello(ch: LogChannel): void {
    ch.send(encodeChannel({ type: 'hello', epoch: 0, text: encodeHello(this.hello) }));
  }

  /** The peer's configuration: a difference is one line, and a backup or joiner stops (exit 2). */
  private onHello(ch: LogChannel, text: string): void {
    const theirs = decodeHello(text);
    const dialled = ch === this.dialCh;
    const diffs = compareHello(this.hello, theirs, dialled ? this.opts.peer : undefined);
    if (diffs.length === 0) return;
    const message = `replica ${theirs['name'] ?? '?'} at the other end of the log channel is configured differently: ${diffs.join('; ')}. Start both replicas with the same flags`;
    this.emit(this.event('config-mismatch', { peer: theirs['name'] ?? '?', differences: diffs, message }));
    if (dialled && this.replica?.live !== true) this.onFinished?.('config-mismatch', true);
  }

  private onFrame(ch: LogChannel, frame: Uint8Array, message: ChannelMessage | undefined): void {
    if (frame[1] === CHANNEL_TYPE_HELLO) {
      const m = message ?? (() => {
        const d = decodeChannel(frame);
        return d.ok ? d.message : undefined;
      })();
      if (m?.type === 'hello' && !this.closed) this.onHello(ch, m.text);
      return;
    }
    if (ch === this.dialCh) this.stops.heardPrimary = true;
    const r = this.replica;
    if (this.closed || r === undefined) return;
    // After going live, frames on the old dialled channel (a zombie primary) are not ours to take,
    // but for the client packets an old primary that handed over still forwards.
    if (r.live && ch === this.dialCh) {
      if (message?.type === 'forward') r.handleServicePacket(this.clock.nowUs(), message.packet);
      this.drain();
      return;
    }
    this.counts.framesIn++;
    this.logRtt.received(frame, this.clock.nowUs()); // bench
    this.captures?.log(frame, false, this.peerAddress());
    this.stallWatch?.check();
    // The channel decoded the frame to check it: hand over the message rather than decode it twice.
    if (message !== undefined) r.handleChannelMessage(this.clock.nowUs(), message);
    else r.handleChannel(this.clock.nowUs(), frame);
    this.drain();
  }

  drain(): void {
    const r = this.replica;
    if (this.draining || this.closed || r === undefined) return;
    this.draining = true;
    try {
      drainReplica(r, {
        packet: (p) => this.transmit(p),
        channel: (f) => {
          this.captures?.log(f, true, this.peerAddress());
          this.logRtt.sent(f, this.clock.nowUs()); // bench
          const ch = channelFor(r, f) === 'listen' ? this.listenCh : this.dialCh;
          if (ch !== undefined && ch.send(f)) this.counts.framesOut++;
          else this.counts.framesDropped++;
        },
        arbiter: (q) => {
          if (this.refuseBlindTakeover()) return;
          this.counts.arbiterRequests++;
          this.arbiterTimes.asked(q.epoch, wallClockMs());
          this.captures?.arbiter(encodeArbiter(q), true);
          this.arbiter.send(q);
        },
        // upstream: client bytes, EOFs and closes for this replica's own app instance.
        upstream: (u) => this.upstream?.handle(u),
        event: (e) => onReplicaEvent(this.eventHost, e),
        deadline: (us) => this.deadline.arm(us),
      });
      this.upstream?.applyBackpressure((conn) => r.rsm?.upstreamQueued(conn) ?? 0);
    } finally {
      this.draining = false;
    }
    this.checkRole(r);
  }

  private transmit(p: ServicePacket): void {
    // etcd arbiter: from the last successful contact + L until contact returns, nothing reaches clients.
    if (this.arbiter.outputAllowed?.() === false || this.fenceHeld.length > 0) {
      this.fenceHeld.push(p);
      this.counts.fenceHeld++;
      return;
    }
    this.claimService(p.epoch);
    // Captured before it is sent: the capture holds everything that may have reached the wire.
    this.captures?.wire(p.packet, servicePacketComment(p));
    this.counts.servicePacketsOut++;
    if (p.reemitted) this.counts.reemitted++;
    this.link.send(p.packet);
  }

  /**
   * Claims the service address with `epoch` unless already claimed with it or a newer one:
   * at go-live the re-emitted packets come before the `announce` event (src/replica/drive.ts).
   */
  private claimService(epoch: number): void {
    if (epoch <= this.claimedEpoch) return;
    this.claimedEpoch = epoch;
    this.link.claim(epoch);
  }

  /** etcd arbiter: contact is back; the held client packets go out in order (as if delayed on the wire). */
  private releaseFenceHeld(): void {
    const held = this.fenceHeld;
    this.fenceHeld = [];
    for (const p of held) this.transmit(p);
  }

  /** The parts of `p` an event acts on, read when it comes (the replica, captures and upstream join are made later). */
  private static eventHostOf(p: ReplicaProcess): ReplicaEventHost {
    return {
      get opts() { return p.opts; },
      get link() { return p.link; },
      get stops() { return p.stops; },
      get handover() { return p.handover; },
      get arbiterTimes() { return p.arbiterTimes; },
      get listenCh() { return p.listenCh; },
      get dialCh() { return p.dialCh; },
      get captures() { return p.captures; },
      get replica() { return p.replica; },
      get upstreamJoin() { return p.upstreamJoin; },
      get closed() { return p.closed; },
      say: (event, fields) => p.emit(p.event(event, fields)),
      claimService: (epoch) => p.claimService(epoch),
      finish: (reason, failed) => p.onFinished?.(reason, failed),
      drain: () => p.drain(),
    };
  }

  /** A backup facing a primary that serves without it stops before the test-and-set (operator-stops.ts). */
  private refuseBlindTakeover(): boolean {
    const verdict = this.stops.blindTakeover(this.replica?.live === true, this.dialCh?.connected === true);
    if (verdict.message !== undefined) {
      this.emit(this.event('wrong-role', { message: verdict.message }));
      this.onFinished?.('wrong-role', true);
    }
    return verdict.stop;
  }

  /** A network that gives the service address to an earlier run's newer epoch: stop, exit 3 (operator-stops.ts). */
  private checkStaleEpoch(theirs: number): void {
    const message = this.stops.staleEpochMessage(theirs, this.replica?.epoch ?? 0);
    if (message === undefined) return;
    this.emit(this.event('stale-epoch', { epoch: theirs, message }));
    this.onFinished?.('stale-epoch', true);
  }

  /** Fenced, stopped or failed: nothing more to do in this process. */
  private checkRole(r: Replica): void {
    const role = r.roleName;
    if (role === this.lastRole) return;
    this.lastRole = role;
    if (role === 'fenced' || role === 'stopped' || role === 'failed') {
      this.emit(this.event(role, { epoch: r.epoch }));
      this.onFinished?.(role, role === 'failed');
    }
  }

  // ---- captures (replica-captures.ts) ---------------------------------------------------

  private openCaptures(): void {
    this.captures = openReplicaCaptures(this.opts, this.address, this.link, this.rsmConfig);
  }

  private closeCaptures(): void {
    this.captures?.close();
    this.captures = undefined;
  }

  private peerAddress(): Ipv4Addr {
    return replicaVirtualAddress(this.replica?.peer ?? this.opts.peer);
  }
}
