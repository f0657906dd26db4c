/**
 * The load generator of a real process (`ftcp client`): an ftcp stack on a virtual client
 * address, behind a UdpLink to the switch, running the simulator's client load
 * (src/sim/cluster-load.ts: N connections per app, every byte checked) in real time.
 *
 * A real client cannot ask the server which connection number seeds its bulk download,
 * so it recognises the stream from its first bytes (bulkConnFromHead).
 *
 * markResume(): the orchestrator's "from now on" (SIGUSR1 in `ftcp client`); the wall-clock
 * time of the first byte read after it is reported once through onResumed.
 */
import { bulkConnFromHead, ClientLoad, type ConnResult, type LoadApp, type LoadOptions } from '../sim/cluster-load.js';
import { deriveSeed } from '../tcp/seed.js';
import { Stack } from '../tcp/stack.js';
import type { Ipv4Addr } from '../wire/addr.js';
import { ProcessClock, wallClockMs } from '../net/clock.js';
import type { Endpoint } from '../net/endpoint.js';
import { RealHost } from './real-host.js';
import type { ClusterKey } from '../net/cluster-key.js';
import { LinkError, UdpLink } from '../net/udp-link.js';
import { makeRedisConn, RedisConn, type RedisConnState } from './redis-load.js';
import { ReadGaps, type ReadGapsReport } from './read-gaps.js';
export interface LoadClientOptions {
  switchAt: Endpoint;
  /** The local UDP address of the link to the switch (--bind). Default 127.0.0.1:0. */
  bind?: Endpoint;
  address: Ipv4Addr;
  service: Ipv4Addr;
  servicePort: number;
  app: LoadApp; // 'http': upstream
  connections: number;
  /** The run seed (the replicas' --seed: the bulk stream is derived from it). */
  seed: number;
  requests: [number, number];
  thinkMs: [number, number];
  startSpreadMs: number;
  bulkBytes: number;
  uploadBytes: [number, number];
  mtu?: number;
  startTimeoutMs?: number;
  /** the cluster key its registration with the switch is authenticated with. */
  clusterKey?: ClusterKey | undefined;
  /** Record every gap of at least this many ms between two reads (--read-gaps); undefined: none. */
  readGapsMs?: number | undefined;
  /** kv: prefix of every key (LoadOptions.kvKeyPrefix). */
  kvKeyPrefix?: string;
  /** kv: delete every key set before closing (LoadOptions.kvDeleteAtEnd). */
  kvDeleteAtEnd?: boolean;
  /**
   * bulk: the replicas' --seed, which the server's download streams are derived from, when it
   * is not `seed` (a client whose own randomness has a seed of its own, as the soak's rounds).
   */
  serverSeed?: number;
  /**
   * bulk: the highest server connection number (socket id) to look for when telling which
   * server connection a download came from. Default 4 per connection plus 64: a fresh server.
   * A server that has accepted many connections before (the soak's later rounds) needs more.
   */
  maxServerConn?: number;
}

export interface LoadClientResult {
  ok: boolean;
  app: LoadApp; // 'http': upstream
  connections: number;
  streams: { intact: number; broken: number };
  resets: number;
  counter?: { count: number; consecutive: boolean };
  /** redis: what each connection last saw, for the check against the surviving Redis. */
  redis?: { conns: RedisConnState[] };
  duplicateSegmentsDropped: number;
  retransmits: number;
  bytesReceived: number;
  resumedAtMs: number | null;
  /** --read-gaps: the gaps between its reads, wall-clock. */
  readGaps?: ReadGapsReport;
  problems: string[];
  /** bulk: what each connection uploaded, by the server connection that received it (to compare with the server app's digests). */
  uploads?: Array<{ conn: number | null; bytes: number; sha256: string | null }>;
  conns: ConnResult[];
}

export class LoadClient {
  readonly host: RealHost;
  readonly load: ClientLoad;
  /** Called once per markResume(), at the first read after it, with the wall-clock ms and the stream offset of the read's first byte. */
  onResumed: ((atMs: number, offset: number) => void) | undefined;
  resumedAtMs: number | null = null;
  private readonly readGaps: ReadGaps | undefined;
  private closed = false;

  private constructor(
    readonly opts: LoadClientOptions,
    readonly link: UdpLink,
  ) {
    const clock = new ProcessClock();
    const stack = new Stack({ addresses: [opts.address], seed: deriveSeed(opts.seed, 'client-stack'), mtu: link.mtu });
    this.host = new RealHost(stack, link, clock);
    const bulkSeed = deriveSeed(opts.serverSeed ?? opts.seed, 'bulk');
    const loadOptions: LoadOptions = {
      app: opts.app,
      connections: opts.connections,
      seed: opts.seed,
      service: opts.service,
      port: opts.servicePort,
      requests: opts.requests,
      thinkUs: [opts.thinkMs[0] * 1000, opts.thinkMs[1] * 1000],
      startSpreadUs: opts.startSpreadMs * 1000,
      bulkSeed,
      bulkBytes: opts.bulkBytes,
      uploadBytes: opts.uploadBytes,
      ...(opts.kvKeyPrefix !== undefined ? { kvKeyPrefix: opts.kvKeyPrefix } : {}),
      ...(opts.kvDeleteAtEnd === true ? { kvDeleteAtEnd: true } : {}),
    };
    // Server connection numbers are socket ids: the listener's, then one per accept.
    const maxConn = opts.maxServerConn ?? 4 * opts.connections + 64;
    this.load = new ClientLoad(this.host, this.host, loadOptions, (_port, head) => bulkConnFromHead(bulkSeed, head, maxConn), opts.app === 'redis' ? makeRedisConn : undefined);
    if (opts.readGapsMs !== undefined) {
      const gaps = new ReadGaps(opts.readGapsMs);
      this.readGaps = gaps;
      this.load.everyRead = () => gaps.read(wallClockMs());
    }
  }

  /** Opens the link and claims the client address at the switch; rejects with a one-line LinkError. */
  static async open(opts: LoadClientOptions): Promise<LoadClient> {
    const link = await UdpLink.open({ peer: opts.switchAt, clusterKey: opts.clusterKey, ...(opts.bind !== undefined ? { bind: opts.bind } : {}), ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}) });
    try {
      link.announce(opts.address, 0);
      await link.whenRegistered(opts.address, opts.startTimeoutMs ?? 5000);
    } catch (error) {
      await link.close();
      throw error instanceof LinkError ? new LinkError(error.message.replace('is `ftcp switch` running there?', 'start `ftcp switch` first, or point --switch at it')) : error;
    }
    return new LoadClient(opts, link);
  }

  start(): void {
    this.load.start();
  }

  markResume(): void {
    this.load.watchReads((_nowUs, offset) => {
      this.resumedAtMs = wallClockMs();
      this.onResumed?.(this.resumedAtMs, offset);
    });
  }

  get settled(): boolean {
    return this.load.allSettled;
  }

  get bytesReceived(): number {
    return this.load.conns.reduce((n, c) => n + c.bytesReceived, 0);
  }

  result(): LoadClientResult {
    const conns = this.load.results();
    const problems = conns.filter((c) => !c.intact).map((c) => `connection ${c.index} (client port ${c.localPort ?? '?'}): ${c.error ?? 'not intact'}`);
    const intact = conns.filter((c) => c.intact).length;
    const stats = this.host.stack.stats();
    const r: LoadClientResult = {
      ok: false,
      app: this.opts.app,
      connections: this.opts.connections,
      streams: { intact, broken: conns.length - intact },
      resets: conns.filter((c) => c.reset).length,
      duplicateSegmentsDropped: stats.duplicateSegments,
      retransmits: stats.retransmits,
      bytesReceived: this.bytesReceived,
      resumedAtMs: this.resumedAtMs,
      problems,
      conns,
    };
    if (this.opts.app === 'counter' || this.opts.app === 'redis') {
      const sorted = [...this.load.counterAnswers].sort((x, y) => x - y);
      const consecutive = sorted.every((v, i) => v === i + 1);
      r.counter = { count: sorted.length, consecutive };
      if (!consecutive) problems.push(`counter: the answers are not exactly 1..${sorted.length} (first anomaly near ${sorted.find((v, i) => v !== i + 1)})`);
    }
    if (this.opts.app === 'redis') r.redis = { conns: this.load.conns.filter((c): c is RedisConn => c instanceof RedisConn).map((c) => c.state) };
    if (this.readGaps !== undefined) r.readGaps = this.readGaps.report();
    if (this.opts.app === 'bulk') r.uploads = this.load.uploads().map((u) => ({ conn: u.conn ?? null, bytes: u.bytes, sha256: u.sha256 ?? null }));
    r.ok = problems.length === 0;
    return r;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.host.stop();
    await this.link.close();
  }
}
