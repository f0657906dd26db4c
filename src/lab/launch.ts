/**
 * The command lines of the `ftcp` children the lab starts (`node bin/ftcp.js <argv>`):
 * one typed option object per kind of child and one function that turns it into argv.
 * Every flag name the lab passes to a child is written here and nowhere else;
 * test/lab/launch.test.ts parses each builder's argv with the real CLI.
 *
 * Values go in as the CLI reads them (numbers printed in decimal); an option left out is
 * not passed, so the child's own default applies. Secrets (the cluster key) never go in
 * argv: they travel in the environment (live-cluster.ts).
 */
import type { StackProfile } from '../tcp/types.js';
import type { AppName } from '../proxy/app.js';
import type { LoadApp } from '../sim/cluster-load.js';
import type { KernelTool } from './kernel-tools.js';

/** `ftcp replica`'s default --port, which the lab never changes. */
export const SERVICE_PORT = 7070;

/** HOST:PORT on loopback. */
export const loopback = (port: number): string => `127.0.0.1:${port}`;

const flag = (name: string, value: string | number | undefined): string[] => (value === undefined ? [] : [name, String(value)]);
const bool = (name: string, on: boolean | undefined): string[] => (on === true ? [name] : []);

export interface ArbiterLaunch {
  listen: string;
  state: string;
  /** A fresh, empty state file (the first start of a run). */
  init?: boolean;
}

export function arbiterArgv(o: ArbiterLaunch): string[] {
  return ['arbiter', ...flag('--listen', o.listen), ...flag('--state', o.state), ...bool('--init', o.init), '--json'];
}

/** A virtual address pinned to a UDP endpoint (socat's TUN bridge). */
export interface StaticEntry {
  address: string;
  host: string;
}

export interface SwitchLaunch {
  listen: string;
  /** The client-side capture file; false: none. */
  capture: string | false;
  captureDropped?: boolean;
  static?: readonly StaticEntry[];
}

export function switchArgv(o: SwitchLaunch): string[] {
  return [
    'switch',
    ...flag('--listen', o.listen),
    ...(o.capture === false ? ['--no-capture'] : flag('--capture', o.capture)),
    '--json',
    ...(o.static ?? []).flatMap((s) => ['--static', `${s.address}=${s.host}`]),
    ...bool('--capture-dropped', o.captureDropped),
  ];
}

/** What every replica and client of one cluster shares (the replicas' --app picks the clients' app too). */
export interface ClusterCommon {
  /** `ftcp switch`'s address; left out by a replica on a TAP device (it has no switch). */
  switch?: string;
  app: LoadApp;
  seed: number;
  bulkBytes: number;
  mtu?: number;
}

function commonArgv(o: ClusterCommon): string[] {
  return [...flag('--switch', o.switch), ...flag('--app', o.app), ...flag('--seed', o.seed), ...flag('--bulk-bytes', o.bulkBytes), ...flag('--mtu', o.mtu)];
}

export interface ReplicaLaunch extends ClusterCommon {
  app: AppName;
  role: 'primary' | 'backup' | 'join';
  name: string;
  peer: string;
  arbiter: string;
  logListen: string;
  logPeer?: string;
  heartbeatMs: number;
  failureTimeoutMs: number;
  /** Dmax of the failure detector (--failure-timeout-max-ms); none: D. */
  failureTimeoutMaxMs?: number;
  /** S, its start-up bound (--failure-timeout-start-ms); none: the replica's default. */
  failureTimeoutStartMs?: number;
  /** Where the replica writes its captures; false: none. */
  captureDir: string | false;
  unsafeNoOutputRule?: boolean;
  /** `--unsafe-output-mode`: an unsafe output mode, for `ftcp experiment modes --real` only. */
  unsafeOutputMode?: string;
  alone?: boolean;
  startTimeoutMs?: number;
  /** The replica's own instance of an app outside ftcp. */
  upstream?: string;
  upstreamApp?: 'generic' | 'redis';
  /** --upstream-stateless: a generic upstream a backup may join. */
  upstreamStateless?: boolean;
  /** On a TAP device of its host's bridge instead of the switch (lan-cluster.ts): --tap-port and companions. */
  tap?: ReplicaTap;
  /** Its control socket (`ftcp switchover --control`). */
  control?: string;
  /** --max-connections; none: the replica's default. */
  maxConnections?: number;
  /** --profile (StackConfig.profile); none: the replica's default, rfc. */
  profile?: StackProfile;
}

export interface ReplicaTap {
  port: number;
  socatPort: number;
  servicePrefix?: number;
  serviceMac?: string;
  gateway?: string;
}

/** What a run may change of a replica beyond what its cluster sets. */
export type ReplicaExtra = Partial<Pick<ReplicaLaunch, 'alone' | 'captureDir' | 'startTimeoutMs' | 'upstream' | 'upstreamApp' | 'upstreamStateless' | 'seed' | 'control' | 'maxConnections'>>;

export function replicaArgv(o: ReplicaLaunch): string[] {
  return [
    'replica',
    ...flag('--role', o.role),
    ...flag('--name', o.name),
    ...flag('--peer', o.peer),
    ...commonArgv(o),
    ...flag('--arbiter', o.arbiter),
    ...flag('--log-listen', o.logListen),
    ...flag('--heartbeat-ms', o.heartbeatMs),
    ...flag('--failure-timeout-ms', o.failureTimeoutMs),
    ...flag('--failure-timeout-max-ms', o.failureTimeoutMaxMs),
    ...flag('--failure-timeout-start-ms', o.failureTimeoutStartMs),
    ...(o.captureDir === false ? ['--no-capture-dir'] : flag('--capture-dir', o.captureDir)),
    '--json',
    ...bool('--unsafe-no-output-rule', o.unsafeNoOutputRule),
    ...flag('--unsafe-output-mode', o.unsafeOutputMode),
    ...flag('--log-peer', o.logPeer),
    ...bool('--alone', o.alone),
    ...flag('--start-timeout-ms', o.startTimeoutMs),
    ...flag('--upstream', o.upstream),
    ...flag('--upstream-app', o.upstreamApp),
    ...bool('--upstream-stateless', o.upstreamStateless),
    ...flag('--tap-port', o.tap?.port),
    ...flag('--tap-socat-port', o.tap?.socatPort),
    ...flag('--service-prefix', o.tap?.servicePrefix),
    ...flag('--service-mac', o.tap?.serviceMac),
    ...flag('--gateway', o.tap?.gateway),
    ...flag('--control', o.control),
    ...flag('--max-connections', o.maxConnections),
    ...flag('--profile', o.profile),
  ];
}

/** `ftcp serve`: one replica from a config file (src/net/serve-config.ts); it prints JSON lines always. */
export function serveArgv(o: { config: string; metricsListen?: string }): string[] {
  return ['serve', ...flag('--config', o.config), ...flag('--metrics-listen', o.metricsListen)];
}

/** `ftcp switchover`: ask the primary on `control` to hand over (planned switchover). */
export function switchoverArgv(o: { control: string; timeoutMs?: number }): string[] {
  return ['switchover', ...flag('--control', o.control), ...flag('--timeout-ms', o.timeoutMs), '--json'];
}

/** The shape of a load (`ftcp client` and `ftcp kernel-client`): ranges as the CLI takes them, "N" or "MIN-MAX". */
export interface LoadShape {
  /** The clients' app when it is not the replicas' (an upstream app: http, redis). */
  app?: LoadApp;
  connections: number;
  requests?: string;
  thinkMs?: string;
  uploadBytes?: number;
  timeoutMs?: number;
  progressMs?: number;
}

function loadArgv(o: LoadShape): string[] {
  return [
    ...flag('--connections', o.connections),
    ...flag('--requests', o.requests),
    ...flag('--think-ms', o.thinkMs),
    ...flag('--upload-bytes', o.uploadBytes),
    ...flag('--timeout-ms', o.timeoutMs),
    ...flag('--progress-ms', o.progressMs),
  ];
}

export type ClientLaunch = ClusterCommon & ClientShape;

/** A load of `ftcp client`: also --read-gaps (the kernel's client has no such record). */
export interface ClientShape extends LoadShape {
  readGapsMs?: number;
  /** --nice: the client's scheduling priority (default 0). */
  nice?: number;
}

export function clientArgv(o: ClientLaunch): string[] {
  return ['client', ...commonArgv(o), '--json', ...loadArgv(o), ...flag('--read-gaps', o.readGapsMs), ...flag('--nice', o.nice)];
}

export interface KernelClientLaunch extends LoadShape {
  app: LoadApp;
  tool: KernelTool;
  seed: number;
  bulkBytes: number;
  /** The server's address (default the service's, 192.0.2.10) and port (default 7070). */
  host?: string;
  port?: number;
}

export function kernelClientArgv(o: KernelClientLaunch): string[] {
  return ['kernel-client', ...flag('--host', o.host), ...flag('--port', o.port), ...flag('--app', o.app), ...flag('--tool', o.tool), ...flag('--seed', o.seed), ...flag('--bulk-bytes', o.bulkBytes), '--json', ...loadArgv(o)];
}

/** `ftcp kernel-server`: the kernel's TCP as the server (echo or bulk), for a comparison beside the pair. */
export interface KernelServerLaunch {
  listen: string;
  app: 'echo' | 'bulk';
  seed: number;
  bulkBytes: number;
}

export function kernelServerArgv(o: KernelServerLaunch): string[] {
  return ['kernel-server', ...flag('--listen', o.listen), ...flag('--app', o.app), ...flag('--seed', o.seed), ...flag('--bulk-bytes', o.bulkBytes), '--json'];
}

/** `ftcp demo failover --client kernel`, run again inside the network namespace the outer run made. */
export interface DemoFailoverInnerLaunch {
  seed: number;
  app: LoadApp;
  connections: number;
  bytes: number;
  killAfterMs: number;
  heartbeatMs: number;
  failureTimeoutMs: number;
  failureTimeoutMaxMs?: number;
  failureTimeoutStartMs?: number;
  captureDir: string;
  tunMtu: number;
  kernelTool: KernelTool;
  netnsInner: string;
  unsafe: boolean;
  json: boolean;
  killMoment?: 'in-flight' | 'any';
  noReport?: boolean;
}

export function demoFailoverInnerArgv(o: DemoFailoverInnerLaunch): string[] {
  return [
    'demo', 'failover',
    ...flag('--seed', o.seed),
    ...flag('--app', o.app),
    ...flag('--connections', o.connections),
    ...flag('--bytes', o.bytes),
    ...flag('--kill-after-ms', o.killAfterMs),
    ...flag('--kill-moment', o.killMoment),
    ...flag('--heartbeat-ms', o.heartbeatMs),
    ...flag('--failure-timeout-ms', o.failureTimeoutMs),
    ...flag('--failure-timeout-max-ms', o.failureTimeoutMaxMs),
    ...flag('--failure-timeout-start-ms', o.failureTimeoutStartMs),
    ...flag('--capture-dir', o.captureDir),
    '--client', 'kernel',
    ...flag('--tun-mtu', o.tunMtu),
    ...flag('--kernel-tool', o.kernelTool),
    ...flag('--netns-inner', o.netnsInner),
    ...bool('--unsafe-no-output-rule', o.unsafe),
    ...bool('--json', o.json),
    ...bool('--no-report', o.noReport),
  ];
}

/** `ftcp scenario run FILE --client kernel`, run again inside the network namespace. */
export interface ScenarioInnerLaunch {
  file: string;
  captureDir: string;
  heartbeatMs: number;
  failureTimeoutMs: number;
  kernelTool: KernelTool;
  tunMtu: number;
  netnsInner: string;
  json: boolean;
  noReport?: boolean;
}

export function scenarioInnerArgv(o: ScenarioInnerLaunch): string[] {
  return [
    'scenario', 'run', o.file,
    ...flag('--capture-dir', o.captureDir),
    ...flag('--heartbeat-ms', o.heartbeatMs),
    ...flag('--failure-timeout-ms', o.failureTimeoutMs),
    '--client', 'kernel',
    ...flag('--kernel-tool', o.kernelTool),
    ...flag('--tun-mtu', o.tunMtu),
    ...flag('--netns-inner', o.netnsInner),
    ...bool('--json', o.json),
    ...bool('--no-report', o.noReport),
  ];
}

/** `ftcp bench --only kernel`, run again inside the kernel group's network namespace (always --json). */
export interface BenchKernelInnerLaunch {
  netnsInner: string;
  quick: boolean;
}

export function benchKernelInnerArgv(o: BenchKernelInnerLaunch): string[] {
  return ['bench', '--only', 'kernel', ...flag('--netns-inner', o.netnsInner), '--json', ...bool('--quick', o.quick)];
}
