/**
 * A replicated pair on a real Linux bridge (DESIGN.md, "Network": the production shape):
 * a Lan (lan.ts) with replica hosts a and b, an arbiter host arb and a client host c1.
 *
 *   arb  `ftcp arbiter --listen <arb>:9400` in arb's namespace; or, with arbiter 'etcd', an
 *        etcd member on each of a, b and arb (<host>:2379) and the replicas' --arbiter etcd://...
 *   a, b with upstream 'http' or 'redis': each host's own instance of the app (lan-upstream.ts)
 *   a    `ftcp replica --role primary --tap-port 9601 --tap-socat-port 9602 --log-listen <a>:9402`
 *   b    `ftcp replica --role backup ... --log-peer <a>:9402`, the same service MAC (the default)
 *   c1   `ftcp kernel-client` against 192.0.2.10:7070, on c1's kernel TCP
 *
 * Each replica is started first and its TAP device attached once it has bound its tap port
 * (socat exits when its first frame is refused); b's is attached at start, long before it
 * is needed. Every child gets the run's cluster key in its environment (never argv): the
 * log channel and the arbiter protocol cross the LAN. tcpdump on the LAN's bridge (in the
 * switch's namespace) writes bridge.pcap; the replicas write their own pcapng; nstat in
 * c1's namespace counts what the client's kernel dropped as duplicates.
 *
 * With `serve`, each replica host runs `ftcp serve --config` (lan-serve.ts) instead, the
 * production path: a wins the start of epoch 1 and serves, b finds a's log channel and
 * joins it by itself; restart(name) starts a killed host's `ftcp serve` again (its TAP
 * device too), and it joins the survivor by itself.
 *
 * kill('a') is `kill -9` by pid; b goes live, its RSM emits the gratuitous ARPs, and the
 * LAN's bridge moves the service MAC to b's port. stop() removes everything (children by
 * pid, tcpdump, socat, every namespace), also after an error; process exit and Ctrl-C are
 * covered by Children's and netns.ts's hooks.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { wallClockMs } from '../net/clock.js';
import { CLUSTER_KEY_ENV, ClusterKey } from '../net/cluster-key.js';
import { replicaEvent, type ChildEvent } from '../net/events.js';
import { readPcap } from '../pcap/classic.js';
import { parseIpv4Addr } from '../wire/addr.js';
import { parseArp } from '../wire/arp.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, formatMac, parseEthernet, parseMac, serviceMacFor } from '../wire/ethernet.js';
import { TCP_RST } from '../wire/tcp.js';
import { Child, Children, saveChildLines } from './children.js';
import { startLogDelayRelay, type LogDelayRelay } from './lan-delay.js';
import { formatEtcdUrl } from '../net/arbiter-etcd.js';
import { ETCD_CLIENT_PORT, EtcdCluster } from './etcd-cluster.js';
import { startLanUpstream, type LanUpstream, type LanUpstreamApp } from './lan-upstream.js';
import { hasNetem, Lan, LAN_BRIDGE, LAN_PREFIX_LENGTH, LanError, SERVICE_ADDRESS, type LanHost } from './lan.js';
import { arbiterArgv, kernelClientArgv, kernelServerArgv, replicaArgv, serveArgv, SERVICE_PORT, type KernelClientLaunch, type KernelServerLaunch } from './launch.js';
import { writeLanServeConfig } from './lan-serve.js';
import { DEMO_MTU, readWireView, replicaCapturePaths, type ClusterRunOptions, type ReplicaCapturePaths, type WireView } from './live-cluster.js';
import { nstatDelta, readNstat, run, Tcpdump, type NstatCounters } from './netns.js';

export const LAN_ARBITER_PORT = 9400;
export const LAN_LOG_PORT = 9402;
/** With --arbiter etcd, the hosts of the etcd members m0, m1, m2. */
export const LAN_ETCD_HOSTS = ['a', 'b', 'arb'] as const;
/** The replica's TapLink port and socat's source port, on each replica host's own loopback. */
export const LAN_TAP_PORT = 9601;
export const LAN_TAP_SOCAT_PORT = 9602;
/** With serve and etcd: the replicas' timing.etcd-contact-timeout-ms, six times the lab etcd's election timeout (at three, a busy machine once took longer than that to elect and reconnect, and a replica fenced itself). */
export const LAN_SERVE_ETCD_CONTACT_MS = 6000;
/** The service MAC both replicas use (their default for 192.0.2.10). */
export const LAN_SERVICE_MAC = formatMac(serviceMacFor(parseIpv4Addr(SERVICE_ADDRESS)));

export interface LanClusterOptions extends ClusterRunOptions {
  /** The LAN's MTU and the replicas' --mtu; default 1500. */
  mtu?: number;
  /** Delay between the replica hosts, each way: netem on their links when the kernel has it, else a delaying relay on the log channel (lan-delay.ts). */
  linkDelayMs?: number;
  /** Every event line of every child. */
  onEvent?: (label: string, e: ChildEvent) => void;
  /** Each step of building the LAN. */
  log?: (line: string) => void;
  /** How long to wait for a child's start line; default 20 s. */
  startTimeoutMs?: number;
  /** Each replica host runs its own instance of this app, and its replica proxies to it (lan-upstream.ts). */
  upstream?: LanUpstreamApp;
  /** The arbiter: `ftcp arbiter` on host arb (default), or a three-member etcd cluster, one member on each of a, b and arb. */
  arbiter?: 'embedded' | 'etcd';
  /** Each replica host runs `ftcp serve --config` (built-in apps only) instead of `ftcp replica`: roles by themselves, restart() rejoins. */
  serve?: boolean;
  /** With serve: its timing.rejoin-backoff-ms; default 200. */
  rejoinBackoffMs?: number;
}

/** The LAN's side of a run, for reports. */
export interface LanClusterReport {
  prefix: string;
  hosts: Array<Pick<LanHost, 'name' | 'role' | 'address' | 'mac' | 'netns' | 'delayMs'>>;
  serviceMac: string;
  bridge: { device: string; file: string; captured: number | null; droppedByKernel: number | null };
  /** The client namespace's counters before and after the load (c1's kernel). */
  nstat: { netns: string; before: NstatCounters | null; after: NstatCounters | null; delta: NstatCounters | null };
  /** Where the LAN's bridge last learned the service MAC (its fdb, read at stop): the port and its host. */
  serviceMacAt: { port: string; host: string | null } | null;
  /** How --link-delay-ms was applied: netem on the replica hosts' links, or the delaying relay on the log channel. */
  linkDelay: { ms: number; by: 'netem' | 'log-relay' } | null;
  /** The replicas' --arbiter: the embedded arbiter's address, or the etcd members' URL. */
  arbiter: { kind: 'embedded' | 'etcd'; address: string } | null;
  /**
   * Address conflicts the replicated stack counted on the wire, from each replica that
   * stopped with its counters (a killed one has none; its survivor replayed the same log):
   * ARP from another MAC claiming the service address, frames from the service MAC that
   * were not the replica's own (a MAC collision).
   */
  conflicts: Array<{ replica: string; arpConflict: number; ownSource: number }>;
  notes: string[];
}

const isListening = (e: ChildEvent): e is Extract<ChildEvent, { event: 'listening'; port: number }> => e.event === 'listening' && 'port' in e;

export class LanCluster {
  readonly children: Children;
  readonly replicas = new Map<string, Child>();
  /** Each replica host's own app instance, with --upstream. */
  readonly upstreams = new Map<string, LanUpstream>();
  arbiter: Child | undefined;
  /** With arbiter 'etcd': members m0, m1, m2 on hosts a, b, arb. */
  etcd: EtcdCluster | undefined;
  client: Child | undefined;
  private dump: Tcpdump | undefined;
  private delayRelay: LogDelayRelay | undefined;
  private stopped = false;
  /** Every start of a replica host's process, in order, and where it wrote its captures. */
  readonly runs: Array<{ name: string; run: number; captureDir: string }> = [];
  readonly report: LanClusterReport;
  private readonly startTimeoutMs: number;

  private constructor(
    readonly lan: Lan,
    readonly opts: LanClusterOptions,
  ) {
    this.children = new Children((c, e) => opts.onEvent?.(c.label, e), { [CLUSTER_KEY_ENV]: ClusterKey.generateText() });
    this.startTimeoutMs = opts.startTimeoutMs ?? 20_000;
    this.report = {
      prefix: lan.prefix,
      hosts: lan.hosts.map((h) => ({ name: h.name, role: h.role, address: h.address, mac: h.mac, netns: h.netns, delayMs: h.delayMs })),
      serviceMac: LAN_SERVICE_MAC,
      bridge: { device: LAN_BRIDGE, file: join(opts.dir, 'bridge.pcap'), captured: null, droppedByKernel: null },
      nstat: { netns: lan.host('c1').netns, before: null, after: null, delta: null },
      serviceMacAt: null,
      linkDelay: null,
      arbiter: null,
      conflicts: [],
      notes: [],
    };
  }

  /** Builds the LAN and starts tcpdump, the arbiter, a and b with their TAP devices; until a serves. On failure everything made is removed. */
  static async start(o: LanClusterOptions): Promise<LanCluster> {
    const delayMs = o.linkDelayMs ?? 0;
    const netem = delayMs > 0 && hasNetem();
    if (o.serve === true && o.upstream !== undefined) throw new LanError(`ftcp serve runs the built-in apps only; leave --app ${o.upstream} out, or run ftcp replica`);
    if (o.serve === true && delayMs > 0 && !netem) throw new LanError("ftcp serve on this kernel cannot have a link delay: it has no netem, and the delaying relay needs ftcp replica's --log-peer");
    const lan = await Lan.create({
      hosts: [
        { name: 'a', role: 'replica' },
        { name: 'b', role: 'replica' },
        { name: 'arb', role: 'arbiter' },
        { name: 'c1', role: 'client' },
      ],
      mtu: o.mtu ?? DEMO_MTU,
      ...(netem ? { linkDelayMs: delayMs } : {}),
      prefix: 'ftcp-lanc',
      ...(o.log !== undefined ? { log: o.log } : {}),
    });
    const cluster = new LanCluster(lan, o);
    if (delayMs > 0) cluster.report.linkDelay = { ms: delayMs, by: netem ? 'netem' : 'log-relay' };
    try {
      await cluster.startAll();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  private async startAll(): Promise<void> {
    const { lan, opts } = this;
    this.dump = await Tcpdump.start({ netns: lan.switchNetns, device: LAN_BRIDGE, file: this.report.bridge.file });
    this.report.arbiter = { kind: opts.arbiter ?? 'embedded', address: this.arbiterAddress };
    if (opts.arbiter === 'etcd') {
      const etcdDir = join(opts.dir, 'etcd');
      rmSync(etcdDir, { recursive: true, force: true });
      this.etcd = await EtcdCluster.start(etcdDir, { hosts: LAN_ETCD_HOSTS.map((h) => ({ netns: lan.host(h).netns, address: lan.host(h).address })), timeoutMs: Math.max(30_000, this.startTimeoutMs) });
    } else {
      const state = join(opts.dir, 'arbiter.json');
      rmSync(state, { force: true });
      this.arbiter = this.children.start('arbiter', arbiterArgv({ listen: this.arbiterAddress, state, init: true }), (c, a) => lan.wrap('arb', c, a));
      await this.arbiter.waitFor(isListening, this.startTimeoutMs, 'its listening line');
    }
    const a = await this.startReplica('a', 'primary');
    if (this.report.linkDelay?.by === 'log-relay') {
      this.delayRelay = await startLogDelayRelay(lan.host('b').netns, `${lan.host('a').address}:${LAN_LOG_PORT}`, this.report.linkDelay.ms, this.startTimeoutMs);
    }
    const b = await this.startReplica('b', 'backup');
    await a.waitFor((e) => replicaEvent(e, 'registered') !== undefined, this.startTimeoutMs, 'serving the service address');
    // ftcp serve: b found a's log channel and joins it by itself; wait until the pair is whole.
    if (opts.serve === true) await b.waitFor((e) => replicaEvent(e, 'joined') !== undefined, this.startTimeoutMs, 'joining a as its backup');
  }

  /** The replicas' --arbiter: the embedded arbiter on arb, or etcd://a:2379,b:2379,arb:2379. */
  get arbiterAddress(): string {
    return this.opts.arbiter === 'etcd' ? formatEtcdUrl(LAN_ETCD_HOSTS.map((h) => ({ host: this.lan.host(h).address, port: ETCD_CLIENT_PORT }))) : `${this.lan.host('arb').address}:${LAN_ARBITER_PORT}`;
  }

  /** A replica in its host's namespace, then socat's TAP device on its bridge once its tap port is bound. */
  private async startReplica(name: 'a' | 'b', role: 'primary' | 'backup'): Promise<Child> {
    const { lan, opts } = this;
    const peer = name === 'a' ? 'b' : 'a';
    const run = this.runs.filter((r) => r.name === name).length + 1;
    const captureDir = run === 1 ? opts.dir : join(opts.dir, `${name}-run${run}`);
    this.runs.push({ name, run, captureDir });
    if (opts.serve === true) return this.startProcess(name, serveArgv({ config: this.serveConfig(name, run, captureDir) }));
    let upstream: LanUpstream | undefined;
    if (opts.upstream !== undefined) {
      upstream = await startLanUpstream(lan, name, opts.upstream, this.startTimeoutMs);
      this.upstreams.set(name, upstream);
    }
    const args = replicaArgv({
      app: opts.app,
      seed: opts.seed,
      bulkBytes: opts.bulkBytes,
      mtu: opts.mtu ?? DEMO_MTU,
      role,
      name,
      peer,
      arbiter: this.arbiterAddress,
      logListen: `${lan.host(name).address}:${LAN_LOG_PORT}`,
      ...(role === 'backup' ? { logPeer: this.delayRelay?.listen ?? `${lan.host(peer).address}:${LAN_LOG_PORT}` } : {}),
      heartbeatMs: opts.heartbeatMs,
      failureTimeoutMs: opts.failureTimeoutMs,
      captureDir,
      tap: { port: LAN_TAP_PORT, socatPort: LAN_TAP_SOCAT_PORT },
      ...(upstream !== undefined ? { upstream: upstream.address, ...(upstream.app === 'redis' ? { upstreamApp: 'redis' as const } : {}) } : {}),
    });
    return this.startProcess(name, args);
  }

  /** Starts `args` in the host's namespace, and socat's TAP device once the replica has bound its tap port (its started line). */
  private async startProcess(name: string, args: readonly string[]): Promise<Child> {
    const { lan } = this;
    const child = this.children.start(`replica ${name}`, args, (c, a) => lan.wrap(name, c, a));
    child.stopSignal = 'SIGINT'; // stopping the cluster stops it at once, without a handover
    this.replicas.set(name, child);
    await child.waitFor((e) => replicaEvent(e, 'started') !== undefined, this.startTimeoutMs, 'its started line');
    await lan.attachTap(name, { port: LAN_TAP_PORT, socatPort: LAN_TAP_SOCAT_PORT });
    return child;
  }

  /** With serve: the host's config file for its run `run` (lan-serve.ts). */
  private serveConfig(name: 'a' | 'b', run: number, captureDir: string): string {
    const { lan, opts } = this;
    const peer = name === 'a' ? 'b' : 'a';
    return writeLanServeConfig(opts.dir, run, {
      name,
      logListen: `${lan.host(name).address}:${LAN_LOG_PORT}`,
      peer: { name: peer, address: `${lan.host(peer).address}:${LAN_LOG_PORT}` },
      arbiter: this.arbiterAddress,
      service: SERVICE_ADDRESS,
      servicePort: SERVICE_PORT,
      app: opts.app,
      seed: opts.seed,
      bulkBytes: opts.bulkBytes,
      mtu: opts.mtu ?? DEMO_MTU,
      tap: { port: LAN_TAP_PORT, socatPort: LAN_TAP_SOCAT_PORT, prefix: LAN_PREFIX_LENGTH },
      heartbeatMs: opts.heartbeatMs,
      failureTimeoutMs: opts.failureTimeoutMs,
      rejoinBackoffMs: opts.rejoinBackoffMs ?? 200,
      startTimeoutMs: this.startTimeoutMs,
      // Above the lab etcd's election timeout (etcd-cluster.ts): the loss of the etcd leader
      // then costs an election, not held output (docs/deploy.md).
      ...(opts.arbiter === 'etcd' ? { etcdContactTimeoutMs: LAN_SERVE_ETCD_CONTACT_MS } : {}),
      captureDir,
    });
  }

  /**
   * With serve: starts a killed replica host's `ftcp serve` again, with the same config but
   * a capture directory of its own, and its TAP device (the old socat, if still there, is
   * stopped first: it exits anyway at the first frame its dead peer refuses). It then
   * finds the survivor's log channel and joins it by itself; the caller waits for that.
   */
  async restart(name: 'a' | 'b'): Promise<Child> {
    if (this.opts.serve !== true) throw new LanError('restart() needs a cluster of ftcp serve (serve: true): ftcp replica does not pick its role by itself');
    const old = this.replicas.get(name);
    if (old?.running === true) throw new LanError(`replica ${name} is still running (pid ${old.pid}); kill it first`);
    await this.lan.detachTap(name);
    return this.startReplica(name, 'backup');
  }

  /** `ftcp kernel-client` in c1's namespace against 192.0.2.10:7070 unless told another (label 'client'); the counters are read first. */
  async startClient(o: KernelClientLaunch, label = 'client'): Promise<Child> {
    const netns = this.report.nstat.netns;
    this.report.nstat.before ??= readNstat(netns);
    const child = this.children.start(label, kernelClientArgv(o), (c, a) => this.lan.wrap('c1', c, a));
    this.client = child;
    await child.waitFor((e) => e.event === 'started', this.startTimeoutMs, 'its started line');
    return child;
  }

  /** `ftcp kernel-server` (the kernel's own TCP) on a host's own address, port `port`: what the pair is compared with over the same bridge. */
  async startKernelServer(host: string, o: Omit<KernelServerLaunch, 'listen'>, port = SERVICE_PORT): Promise<{ child: Child; address: string; port: number }> {
    const address = this.lan.host(host).address;
    const child = this.children.start(`kernel-server ${host}`, kernelServerArgv({ ...o, listen: `${address}:${port}` }), (c, a) => this.lan.wrap(host, c, a));
    await child.waitFor((e) => e.event === 'listening', this.startTimeoutMs, 'its listening line');
    return { child, address, port };
  }

  /** kill -9 of a replica's process, by pid; the wall-clock ms of the signal. */
  kill(name: string): number {
    const victim = this.replicas.get(name);
    if (victim === undefined) throw new Error(`no replica ${name}`);
    const atMs = wallClockMs();
    victim.signal('SIGKILL');
    return atMs;
  }

  capturePaths(name: string): ReplicaCapturePaths {
    return replicaCapturePaths(this.opts.dir, name);
  }

  /** What every run of every replica put on the wire (its own capture), in start order. */
  allWireViews(): Array<{ name: string; run: number; view: WireView }> {
    return this.runs.map((r) => ({ name: r.name, run: r.run, view: readWireView(replicaCapturePaths(r.captureDir, r.name).wire) }));
  }

  /** What each replica put on the wire (its own capture). */
  wireViews(): Record<'a' | 'b', WireView> {
    return { a: readWireView(this.capturePaths('a').wire), b: readWireView(this.capturePaths('b').wire) };
  }

  /** The LAN bridge's port for the service MAC (`bridge fdb`), and whose it is; null when it has not learned it. */
  serviceMacPort(): { port: string; host: string | null } | null {
    const r = run('bridge', ['-n', this.lan.switchNetns, '-j', 'fdb', 'show', 'br', LAN_BRIDGE]);
    if (!r.ok) return null;
    const entry = (JSON.parse(r.stdout) as Array<{ mac?: string; ifname?: string }>).find((e) => e.mac === LAN_SERVICE_MAC);
    if (entry?.ifname === undefined) return null;
    return { port: entry.ifname, host: this.lan.hosts.find((h) => h.switchPort === entry.ifname)?.name ?? null };
  }

  /**
   * Stops every child (by pid), reads c1's counters again, stops tcpdump (flushing
   * bridge.pcap), leaves each child's lines in the run directory, and removes the LAN.
   * Stopping twice is harmless.
   */
  async stop(): Promise<LanClusterReport> {
    if (this.stopped) return this.report;
    this.stopped = true;
    const r = this.report;
    try {
      await this.children.stopAll();
      r.conflicts = [...this.replicas].flatMap(([name, c]) => {
        const drops = (c.events.find((e) => e.event === 'exit')?.['stats'] as { ether?: { drops?: Record<string, number> } } | undefined)?.ether?.drops;
        return drops === undefined ? [] : [{ replica: name, arpConflict: drops['arp-conflict'] ?? 0, ownSource: drops['own-source'] ?? 0 }];
      });
      await this.delayRelay?.stop();
      for (const u of this.upstreams.values()) await u.stop();
      await this.etcd?.stop();
      if (r.nstat.before !== null) {
        try {
          r.nstat.after = readNstat(r.nstat.netns);
          r.nstat.delta = nstatDelta(r.nstat.before, r.nstat.after);
        } catch (error) {
          r.notes.push(error instanceof Error ? error.message : String(error));
        }
      }
      r.serviceMacAt = this.serviceMacPort();
      if (this.dump !== undefined) Object.assign(r.bridge, await this.dump.stop());
      saveChildLines(this.children.all, this.opts.dir);
    } finally {
      const closed = await this.lan.close();
      if (!closed.removed) r.notes.push(`some namespaces of ${this.lan.prefix} could not be removed`);
    }
    return r;
  }
}

/** One gratuitous ARP in the bridge capture: its frame number (1-based, as tshark counts) and time. */
export interface GarpFrame {
  frame: number;
  atMs: number;
}

/** What the LAN's bridge carried, as tcpdump saw it. */
export interface BridgeView {
  frames: number;
  /** RST segments from or to the service address (the clients' connections; a killed replica's own log channel may reset). */
  serviceResets: number;
  /** RFC 5227 announcements from the service MAC for the service address. */
  garps: GarpFrame[];
}

/** Reads bridge.pcap (classic pcap, Ethernet): frames, resets of the service's connections, gratuitous ARPs of the service. */
export function readBridgeCapture(file: string, service = SERVICE_ADDRESS, serviceMac = LAN_SERVICE_MAC): BridgeView {
  const { packets, timesUs } = readPcap(new Uint8Array(readFileSync(file)));
  const addr = parseIpv4Addr(service);
  const mac = parseMac(serviceMac);
  const view: BridgeView = { frames: packets.length, serviceResets: 0, garps: [] };
  packets.forEach((frame, i) => {
    const eth = parseEthernet(frame);
    if (!eth.ok) return;
    if (eth.header.etherType === ETHERTYPE_ARP) {
      const arp = parseArp(eth.payload);
      // RFC 5227 §3: an announcement has the sender's address as both sender and target.
      if (arp.ok && eth.header.src === mac && arp.arp.senderMac === mac && arp.arp.senderIp === addr && arp.arp.targetIp === addr) view.garps.push({ frame: i + 1, atMs: timesUs[i]! / 1000 });
      return;
    }
    const ip = eth.payload;
    if (eth.header.etherType !== ETHERTYPE_IPV4 || ip.length < 20 || ip[9] !== 6) return;
    const ihl = (ip[0]! & 0x0f) * 4;
    const src = readU32(ip, 12);
    const dst = readU32(ip, 16);
    if ((src === addr || dst === addr) && ip.length >= ihl + 14 && (ip[ihl + 13]! & TCP_RST) !== 0) view.serviceResets++;
  });
  return view;
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** The first gratuitous ARP at or after `atMs` (the kill), or undefined. */
export function garpAfter(view: BridgeView, atMs: number): GarpFrame | undefined {
  return view.garps.find((g) => g.atMs >= atMs);
}
