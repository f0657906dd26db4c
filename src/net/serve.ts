/**
 * The supervisor of `ftcp serve`: runs one replica host (replica-host.ts) in this process
 * and, when that run ends (fenced, lost the test-and-set, failed, or could not reach its
 * peer), starts another one after a backoff, so that a replica rejoins by itself.
 *
 * The role of each run is chosen, not configured: if one of the configured peers' log
 * channels answers, this replica joins it as a backup (a snapshot of the live primary);
 * if none does, it asks the arbiter who starts epoch 1 (serve-claim.ts): the winner serves
 * as the first primary alone, every other replica joins the winner as a backup, so two
 * replicas started at the same moment never both serve. It also serves the Prometheus
 * text of metrics.ts on an HTTP listener.
 */
import { createServer, type Server } from 'node:http';
import type { ReplicaProcessEvent } from './events.js';
import { formatMetrics, type MetricsSnapshot, type ServeRole } from './metrics.js';
import { ReplicaProcess } from './replica-host.js';
import { probeTcp, type ReplicaProcessOptions } from './replica-options.js';
import type { ServeConfig } from './serve-config.js';
import { replicaOptionsFor, type ServeRun } from './serve-options.js';
import { claimStart, START_CLAIM_EPOCH } from './serve-claim.js';
import { formatEndpoint, type Endpoint } from './endpoint.js';

/** How long a peer's log channel has to answer the probe that picks the role. */
const PROBE_MS = 300;
/** The backoff doubles after each failed run, up to this many times rejoin-backoff-ms. */
const MAX_BACKOFF_FACTOR = 16;

export interface ServeHooks {
  /** Every event of every run, and the supervisor's own ("serve-run", "serve-restart"). */
  emit: (e: ReplicaProcessEvent | Record<string, unknown>) => void;
  /** Extra fields of each run's options (cluster key, warm-up). */
  extend?: (o: ReplicaProcessOptions) => void;
  nowMs: () => number;
}

export class ServeSupervisor {
  private proc: ReplicaProcess | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private metricsServer: Server | undefined;
  private readonly m: MetricsSnapshot;
  private livesAsPrimary = 0;
  /** The start claim named a winner whose log channel does not answer, and this was said (once until a run starts). */
  private waitingSaid = false;

  constructor(
    private readonly config: ServeConfig,
    private readonly hooks: ServeHooks,
  ) {
    this.m = { name: config.name, role: 'starting', epoch: 0, logLagEntries: 0, heldOutputPackets: 0, connectionsOpened: 0, failovers: 0, restarts: 0, divergences: 0, drops: {} };
  }

  /** Listens for metrics (rejects with the listen error, e.g. port in use). */
  async listenMetrics(at: Endpoint): Promise<Endpoint> {
    const server = createServer((req, res) => {
      if (req.url !== '/metrics' && req.url !== '/') {
        res.writeHead(404).end('not found: try /metrics\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(formatMetrics(this.snapshot()));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => resolve());
    });
    this.metricsServer = server;
    const a = server.address();
    return { host: at.host, port: typeof a === 'object' && a !== null ? a.port : at.port };
  }

  snapshot(): MetricsSnapshot {
    const s = { ...this.m, drops: { ...this.m.drops } };
    const p = this.proc;
    if (p === undefined) return s;
    const st = p.stats() as { epoch: number | null; stack: { drops?: Record<string, number>; connectionsOpened?: number } | null; ether?: { drops?: Record<string, number> }; upstream?: { divergences?: number } };
    if (st.epoch !== null) s.epoch = st.epoch;
    const r = p.roleName;
    s.role = r === 'primary' ? 'primary' : r === 'backup' ? 'backup' : s.role;
    const cur = p.replica?.current;
    if (cur !== undefined && 'holding' in cur) {
      s.logLagEntries = cur.lastIndex - cur.acked;
      s.heldOutputPackets = cur.holding;
    } else {
      s.logLagEntries = 0;
      s.heldOutputPackets = 0;
    }
    s.connectionsOpened = st.stack?.connectionsOpened ?? 0;
    s.divergences += st.upstream?.divergences ?? 0;
    for (const [k, v] of [...Object.entries(st.stack?.drops ?? {}), ...Object.entries(st.ether?.drops ?? {})]) s.drops[k] = (s.drops[k] ?? 0) + v;
    s.drops.link = p.counts.framesDropped;
    return s;
  }

  /** Runs until stop(): one replica host at a time. */
  async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      const run = await this.chooseRun();
      if (this.stopping) break;
      let reason = 'no-claim';
      if (run !== undefined) {
        const role: ServeRole = run.role === 'primary' ? 'primary' : 'joining';
        this.m.role = role;
        this.hooks.emit({ event: 'serve-run', name: this.config.name, atMs: this.hooks.nowMs(), role: run.role, ...(run.role === 'join' ? { via: run.via.name } : {}) });
        reason = await this.runOnce(run);
        if (reason === 'unreachable' && run.role === 'join' && run.claimed === true) this.sayWaiting(run.via.name, run.via.address);
        else if (reason !== 'unreachable') this.waitingSaid = false;
      }
      if (this.stopping) break;
      failures = reason === 'unreachable' || reason === 'no-claim' ? failures + 1 : 0;
      this.m.restarts++;
      this.m.role = 'starting';
      const backoff = this.config.rejoinBackoffMs * Math.min(MAX_BACKOFF_FACTOR, 2 ** Math.min(failures, 4));
      this.hooks.emit({ event: 'serve-restart', name: this.config.name, atMs: this.hooks.nowMs(), reason, backoffMs: backoff });
      await this.sleep(backoff);
    }
    this.m.role = 'stopped';
  }

  /** Join a peer whose log channel answers; else the arbiter's start claim decides; undefined: no decision (try again after a backoff). */
  private async chooseRun(): Promise<ServeRun | undefined> {
    for (const peer of this.config.peers) {
      try {
        await probeTcp(peer.address, `peer ${peer.name}`, 'log.peers', PROBE_MS);
        return { role: 'join', via: peer };
      } catch {
        // not up: try the next peer
      }
    }
    const opts = replicaOptionsFor(this.config, { role: 'primary' });
    this.hooks.extend?.(opts);
    const claim = await claimStart(opts, this.config.startTimeoutMs);
    const base = { event: 'serve-claim', name: this.config.name, atMs: this.hooks.nowMs(), epoch: START_CLAIM_EPOCH + 1 };
    if ('error' in claim) {
      this.hooks.emit({ ...base, winner: null, message: `the arbiter did not answer who starts epoch ${START_CLAIM_EPOCH + 1}: ${claim.error}` });
      return undefined;
    }
    this.hooks.emit({ ...base, winner: claim.winner, won: claim.winner === this.config.name });
    if (claim.winner === this.config.name) return { role: 'primary' };
    const via = this.config.peers.find((p) => p.name === claim.winner);
    if (via !== undefined) return { role: 'join', via, claimed: true };
    this.hooks.emit({ event: 'serve-unreachable', name: this.config.name, atMs: this.hooks.nowMs(), message: `${claim.winner} started epoch ${START_CLAIM_EPOCH + 1} but is not in log.peers; add it there to join it` });
    return undefined;
  }

  /** One run of the replica host; resolves with why it ended. */
  private async runOnce(run: ServeRun): Promise<string> {
    const opts = replicaOptionsFor(this.config, run);
    this.hooks.extend?.(opts);
    let proc: ReplicaProcess;
    try {
      proc = await ReplicaProcess.start(opts, (e) => this.onEvent(e));
    } catch (error) {
      this.hooks.emit({ event: 'serve-unreachable', name: this.config.name, atMs: this.hooks.nowMs(), message: error instanceof Error ? error.message.split('\n')[0] : String(error) });
      return 'unreachable';
    }
    this.proc = proc;
    const reason = await new Promise<string>((resolve) => {
      proc.onFinished = (r) => resolve(r);
      this.wake = () => resolve('stopped');
      this.hooks.emit(proc.describeStart());
    });
    this.wake = undefined;
    // Keep this run's counters in the totals before the next run starts from zero.
    const last = this.snapshot();
    this.m.drops = last.drops;
    this.m.divergences = last.divergences;
    this.proc = undefined;
    await proc.close();
    return reason;
  }

  /**
   * The one line a replica prints while it waits for the start claim's winner: after a
   * whole-cluster outage the arbiter still names the first winner, and nobody else may start
   * the cluster again.
   */
  private sayWaiting(winner: string, at: Endpoint): void {
    if (this.waitingSaid) return;
    this.waitingSaid = true;
    const message =
      `${winner} started epoch ${START_CLAIM_EPOCH + 1} of this service at the arbiter and its log channel ${formatEndpoint(at)} does not answer; ` +
      `${this.config.name} waits and retries. If the whole cluster was down: start ${winner} first, or start every replica again from a fresh arbiter state (docs/deploy.md, "After a whole-cluster outage")`;
    this.hooks.emit({ event: 'serve-waiting', name: this.config.name, atMs: this.hooks.nowMs(), winner, message });
  }

  private onEvent(e: ReplicaProcessEvent): void {
    if (e.event === 'live') {
      this.livesAsPrimary++;
      // The first primary goes live without a failover; every later 'live' is one.
      if (this.livesAsPrimary > 1 || this.m.restarts > 0 || (this.proc !== undefined && this.proc.opts.role !== 'primary')) this.m.failovers++;
    }
    if (e.event === 'fault') this.m.divergences++;
    this.hooks.emit(e);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await new Promise<void>((resolve) => (this.metricsServer === undefined ? resolve() : this.metricsServer.close(() => resolve())));
  }

  stats(): Record<string, unknown> {
    return { ...this.snapshot(), host: this.proc?.stats() ?? null };
  }
}
