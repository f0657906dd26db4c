/**
 * Step one of a cluster run (cluster.ts): the plan. From the options alone, with no world
 * yet: the addresses, the seeded fault plan (planFaults), the time limit, the replicated
 * state machine's configuration and the client load. Everything here is a pure function
 * of the options; the seeds are derived from the run seed (src/tcp/seed.ts).
 */
import type { AppName } from '../proxy/app.js';
import type { ClusterCaptureMode } from '../pcap/vantage.js';
import type { OutputMode } from '../replica/output-mode.js';
import type { RsmConfig, RsmStackFactory } from '../replica/rsm.js';
import { Prng } from '../tcp/prng.js';
import { deriveSeed } from '../tcp/seed.js';
import type { StackProfile } from '../tcp/types.js';
import { parseIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import type { LoadApp, LoadOptions } from './cluster-load.js';
import type { LinkParams } from './network.js';
import type { FakeUpstreamOptions } from './upstream-fake.js';

export const CLUSTER_CLIENT = parseIpv4Addr('192.0.2.1');
export const CLUSTER_ARBITER = parseIpv4Addr('192.0.2.2');
export const CLUSTER_SERVICE = parseIpv4Addr('192.0.2.10');
export const CLUSTER_REPLICAS: Record<string, Ipv4Addr> = {
  a: parseIpv4Addr('192.0.2.11'),
  b: parseIpv4Addr('192.0.2.12'),
  c: parseIpv4Addr('192.0.2.13'),
};
/** Not a port Wireshark dissects as some protocol (7000 decodes as "gryphon" and shows malformed packets). */
export const CLUSTER_SERVICE_PORT = 7070;
/** The switch learns an announcement this long after it is made (the gratuitous ARP's flight). */
export const ANNOUNCE_DELAY_US = 200;
/** A join (or the kill that waits for it) that finds no live replica (or a joiner still catching up) tries again this much later. */
export const JOIN_RETRY_US = 20_000;

/** Every fault of a run, derived from its seed (planFaults) and overridable piece by piece. */
export interface FaultPlan {
  /** Both directions between the client and the service (whichever replica serves it). */
  clientLink: Pick<LinkParams, 'delayUs' | 'loss' | 'duplicate' | 'reorder' | 'reorderDelayUs'> & { corrupt?: number };
  /** One-way delay of the log channel between replicas. */
  logDelayUs: number;
  /** The log channel between a and b is down during [fromUs, toUs). */
  logPartition?: { fromUs: number; toUs: number };
  /**
   * The live demo's in-flight kill moment (src/lab/demo/in-flight.ts) on the log channel:
   * the backup b's frames to the primary a sent during [fromUs, toUs) are held and arrive at
   * toUs (the primary's outputs wait for those acknowledgements, the output rule); with
   * `thenLose`, a's frames to b are lost from toUs on (b is never told r again).
   */
  logHold?: { fromUs: number; toUs: number; thenLose?: boolean };
  /** One-way delay between a replica and the arbiter (a slow arbiter: tens of ms). */
  arbiterDelayUs: number;
  /** When the primary is killed; undefined: never. */
  crashAtUs?: number;
  /** The arbiter is down (crashed) during [fromUs, toUs) and answers nothing; it restarts with the flags it had granted (its state file). */
  arbiterOutage?: { fromUs: number; toUs: number };
  /**
   * The end of the safety phase (TigerBeetle's VOPR): from here the client links carry no
   * more faults and the log channel is up; the run must converge (every stream settled)
   * before `maxUs`.
   */
  healAtUs?: number;
}

export interface ClusterOptions {
  seed: number;
  /** The built-in app and the load's protocol; 'http' only with `upstream`. */
  app: LoadApp;
  connections: number;
  /** Fault plan overrides; the rest comes from planFaults(seed). */
  faults?: Partial<FaultPlan>;
  /** No kill at all (the seeded crash time is ignored). */
  noCrash?: boolean;
  /**
   * Kill the primary at the first moment at or after the crash time when it has just
   * released data to a client and not yet told the backup (r is stale): the backup must
   * re-emit segments the client already has.
   */
  crashAfterRelease?: boolean;
  /**
   * With crashAtUs: kill the primary at its n-th kill point from crashAtUs on (0: at
   * crashAtUs itself). A kill point is the moment just after the primary put client
   * packets on the wire while handling one input (before the backup hears of the
   * release), or just after it finished handling one input. Counting them enumerates the
   * distinct instants at which the primary can die (the close-time campaign, close-sweep.ts).
   */
  crashAtPoint?: number;
  /**
   * Replica c joins the live replica at `atUs`; the live replica is killed at
   * `secondCrashAtUs`; c itself is killed at `joinerCrashAtUs` (a crash during or after the join).
   */
  join?: { atUs: number; secondCrashAtUs?: number; joinerCrashAtUs?: number };
  /** Kill the backup instead of the primary at the crash time (the primary must win the arbiter and serve alone). */
  killBackup?: boolean;
  /** The unsafe teaching mode: no output rule (and a log partition just before the kill, so it shows). */
  unsafeNoOutputRule?: boolean;
  /** When output waits for the backup (src/replica/output-mode.ts), for `ftcp experiment modes`; no fault of its own. Default: the output rule. */
  outputMode?: OutputMode;
  heartbeatMs?: number;
  failureTimeoutMs?: number;
  digestEvery?: number;
  /** Load shape overrides. */
  load?: Partial<Omit<LoadOptions, 'app' | 'connections' | 'seed' | 'service' | 'port' | 'bulkSeed'>>;
  /** Virtual time limit. Default 30 s. */
  maxUs?: number;
  capture?: ClusterCaptureMode;
  stackFactory?: RsmStackFactory;
  /**
   * the service is an upstream app outside the RSM, one fake instance per replica
   * (src/sim/upstream-fake.ts); `app` is then the client load's protocol (echo, counter, kv).
   */
  upstream?: FakeUpstreamOptions;
  /** The replicas' stack profile (StackConfig.profile); none: rfc. */
  profile?: StackProfile;
}

/** The seeded fault plan of a run. */
export function planFaults(seed: number): FaultPlan {
  const rng = new Prng(deriveSeed(seed, 'faults'));
  const clientLink = {
    delayUs: 5_000 + rng.below(10_001),
    loss: rng.below(31) / 1000,
    duplicate: rng.below(21) / 1000,
    reorder: rng.below(31) / 1000,
    reorderDelayUs: 5_000 + rng.below(15_001),
  };
  const logDelayUs = 200 + rng.below(1_801);
  const arbiterDelayUs = rng.below(4) === 0 ? 20_000 + rng.below(130_001) : 300 + rng.below(1_701);
  const crashAtUs = 150_000 + rng.below(500_001);
  const plan: FaultPlan = { clientLink, logDelayUs, arbiterDelayUs, crashAtUs };
  const kind = rng.below(100);
  // Partitions stay shorter than the failure timeout while both replicas live (a longer one
  // is a failover of its own, tested separately), or start just before the kill.
  if (kind >= 60 && kind < 80) {
    const fromUs = 20_000 + rng.below(crashAtUs + 100_000 - 20_000);
    plan.logPartition = { fromUs, toUs: fromUs + 5_000 + rng.below(15_001) };
  } else if (kind >= 80) {
    const fromUs = crashAtUs - 5_000 - rng.below(25_001);
    plan.logPartition = { fromUs, toUs: crashAtUs + 1_000_000 };
  }
  return plan;
}

/** The command that reproduces a run. */
export function clusterCommandLine(o: Pick<ClusterOptions, 'seed' | 'app' | 'connections' | 'unsafeNoOutputRule'>): string {
  return `ftcp demo failover --sim --seed ${o.seed} --app ${o.app} --connections ${o.connections}${o.unsafeNoOutputRule ? ' --unsafe-no-output-rule' : ''}`;
}

/** What a run is made of, decided before the world is built. */
export interface ClusterPlan {
  options: ClusterOptions;
  seed: number;
  app: LoadApp;
  connections: number;
  /** The unsafe teaching mode (no output rule). */
  unsafe: boolean;
  faults: FaultPlan;
  /** Virtual time limit. */
  maxUs: number;
  /** Every replica's clock starts here. */
  startUs: number;
  rsm: RsmConfig;
  load: LoadOptions;
}

/** Checks the options and plans the run: faults, time limit, RSM configuration, load. */
export function planCluster(options: ClusterOptions): ClusterPlan {
  const { seed, app, connections } = options;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new RangeError(`seed must be a u32, got ${seed}`);
  if (!Number.isInteger(connections) || connections < 1 || connections > 1000) throw new RangeError(`connections must be 1..1000, got ${connections}`);
  if (options.upstream !== undefined && app === 'bulk') throw new RangeError('an upstream app run needs a request/response load: echo, counter, kv or http');
  if (options.upstream === undefined && app === 'http') throw new RangeError("the 'http' load needs an upstream app (options.upstream)");
  const unsafe = options.unsafeNoOutputRule === true;
  const faults: FaultPlan = { ...planFaults(seed), ...options.faults };
  if (options.noCrash) delete faults.crashAtUs;
  if (unsafe && faults.crashAtUs !== undefined && options.faults?.logPartition === undefined) {
    // So the teaching mode shows its failure: the last entries before the kill never reach the backup.
    faults.logPartition = { fromUs: Math.max(0, faults.crashAtUs - 30_000), toUs: faults.crashAtUs + 1_000_000 };
  }
  // An unsafe run that breaks can leave two desynchronised stacks exchanging ACKs: bound it sooner.
  const maxUs = options.maxUs ?? (unsafe ? 5_000_000 : 30_000_000);
  const rsm: RsmConfig = {
    stack: { addresses: [CLUSTER_SERVICE], seed: deriveSeed(seed, 'service-stack'), ...(options.profile !== undefined ? { profile: options.profile } : {}) },
    servicePort: CLUSTER_SERVICE_PORT,
    app: options.upstream !== undefined ? 'upstream' : (app as AppName),
    appOptions: { bulkBytes: options.load?.bulkBytes ?? 400_000, seed: deriveSeed(seed, 'bulk') },
    digestEvery: options.digestEvery ?? 1024,
  };
  const load: LoadOptions = {
    app,
    connections,
    seed,
    service: CLUSTER_SERVICE,
    port: CLUSTER_SERVICE_PORT,
    requests: options.load?.requests ?? [30, 60],
    thinkUs: options.load?.thinkUs ?? [2_000, 15_000],
    startSpreadUs: options.load?.startSpreadUs ?? 50_000,
    bulkSeed: rsm.appOptions!.seed!,
    bulkBytes: rsm.appOptions!.bulkBytes!,
    uploadBytes: options.load?.uploadBytes ?? [50_000, 150_000],
    ...(options.load?.closeAfterLastRequest === true ? { closeAfterLastRequest: true } : {}),
    ...(options.load?.kvKeyPrefix !== undefined ? { kvKeyPrefix: options.load.kvKeyPrefix } : {}),
    ...(options.load?.kvDeleteAtEnd === true ? { kvDeleteAtEnd: true } : {}),
  };
  return { options, seed, app, connections, unsafe, faults, maxUs, startUs: 0, rsm, load };
}
