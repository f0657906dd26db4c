/**
 * The configuration file of `ftcp serve` (YAML): its schema and its validation, whole,
 * before anything starts. Pure: it reads the text it is given, never the file system.
 *
 * Every error is one line that names the file, the line and the key, e.g.
 *   ftcp.yaml:7: log.listn: unknown key (did you mean listen?)
 *
 *   name: a                      # this replica, unique in the cluster
 *   service: { address: 192.0.2.10, port: 7070, app: counter, seed: 1 }
 *   arbiter: 127.0.0.1:9400      # or etcd://HOST:PORT,HOST:PORT
 *   log: { listen: 0.0.0.0:9402, peers: [ { name: b, address: 10.0.0.2:9402 } ] }
 *   network: { switch: 127.0.0.1:9401 }   # or tap: { port, socat-port, prefix, mac, gateway }
 *   timing: { heartbeat-ms: 10, failure-timeout-ms: 50, rejoin-backoff-ms: 200 }   # failure-timeout-max-ms: Dmax (default D)
 *                                # failure-timeout-start-ms: S, the start-up bound (default max(500, Dmax))
 *                                # etcd-contact-timeout-ms: L of the etcd arbiter (default 1000)
 *   capture-dir: captures        # optional
 *   cluster-key-file: key.hex    # optional
 *   nice: -10                    # optional: scheduling priority it sets for itself (0: leave it)
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair } from 'yaml';
import { APP_NAMES, type AppName } from '../proxy/app.js';
import { STACK_PROFILES, type StackProfile } from '../tcp/types.js';
import { parseIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { ETCD_SCHEME } from './arbiter-etcd.js';
import { parseEndpoint, type Endpoint } from './endpoint.js';
import { DEFAULT_NICE, MAX_NICE, MIN_NICE } from './priority.js';

export interface ServePeer {
  name: string;
  address: Endpoint;
}

export interface ServeTap {
  port: number;
  socatPort: number;
  prefixLength: number;
  mac?: string;
  gateway?: Ipv4Addr;
}

export interface ServeConfig {
  name: string;
  service: { address: Ipv4Addr; port: number; app: AppName; seed: number; bulkBytes: number };
  arbiterAt: Endpoint;
  arbiterEtcd?: Endpoint[];
  logListen: Endpoint;
  peers: ServePeer[];
  switchAt?: Endpoint;
  tap?: ServeTap;
  heartbeatMs: number;
  failureTimeoutMs: number;
  /** Dmax of the failure detector (timing.failure-timeout-max-ms); none: D. */
  failureTimeoutMaxMs?: number;
  /** S, the detector's bound while a pair starts up (timing.failure-timeout-start-ms); none: the replica's default. */
  failureTimeoutStartMs?: number;
  /** With an etcd arbiter: how long after its last answered request a replica holds its output (timing.etcd-contact-timeout-ms); none: the arbiter's default. */
  etcdContactTimeoutMs?: number;
  rejoinBackoffMs: number;
  startTimeoutMs: number;
  captureDir?: string;
  clusterKeyFile?: string;
  mtu: number;
  /** Scheduling priority the process sets for itself at start (nice); 0 leaves it (src/net/priority.ts). */
  nice: number;
  /** The stack's choices where the RFCs allow more than one (StackConfig.profile); none: rfc. Every replica must agree. */
  profile?: StackProfile;
}

/** A config that is not valid: `message` is the whole line to print. */
export class ServeConfigError extends Error {}

const SCHEMA: Record<string, readonly string[] | null> = {
  '': ['name', 'service', 'arbiter', 'log', 'network', 'timing', 'capture-dir', 'cluster-key-file', 'mtu', 'nice', 'profile'],
  service: ['address', 'port', 'app', 'seed', 'bulk-bytes'],
  log: ['listen', 'peers'],
  'log.peers[]': ['name', 'address'],
  network: ['switch', 'tap'],
  'network.tap': ['port', 'socat-port', 'prefix', 'mac', 'gateway'],
  timing: ['heartbeat-ms', 'failure-timeout-ms', 'failure-timeout-max-ms', 'failure-timeout-start-ms', 'rejoin-backoff-ms', 'start-timeout-ms', 'etcd-contact-timeout-ms'],
};

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

export function nearestWord(word: string, words: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const w of words) {
    const d = distance(word.toLowerCase(), w);
    if (d < bestD) [best, bestD] = [w, d];
  }
  return bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

class Reader {
  private readonly lines = new LineCounter();
  constructor(private readonly file: string) {}

  parse(text: string): YamlNode | null {
    const doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    const first = doc.errors[0];
    if (first !== undefined) {
      const line = this.lines.linePos(first.pos[0]).line;
      throw new ServeConfigError(`${this.file}:${line}: not valid YAML: ${first.message.split('\n')[0]!}`);
    }
    return doc.contents as YamlNode | null;
  }

  line(node: YamlNode | null | undefined): number {
    return node?.range ? this.lines.linePos(node.range[0]).line : 1;
  }

  fail(node: YamlNode | null | undefined, key: string, message: string): never {
    throw new ServeConfigError(`${this.file}:${this.line(node)}: ${key === '' ? '' : `${key}: `}${message}`);
  }

  /** The pairs of a map at `path`, having rejected unknown keys. */
  map(node: YamlNode | null | undefined, path: string, schemaKey: string, at: YamlNode | null | undefined): Map<string, Pair<YamlNode, YamlNode | null>> {
    if (!isMap(node)) this.fail(node ?? at, path, 'must be a mapping (key: value lines)');
    const allowed = SCHEMA[schemaKey]!;
    const out = new Map<string, Pair<YamlNode, YamlNode | null>>();
    for (const pair of node.items as Pair<YamlNode, YamlNode | null>[]) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const full = path === '' ? key : `${path}.${key}`;
      if (!allowed.includes(key)) {
        const near = nearestWord(key, allowed);
        this.fail(pair.key, full, `unknown key${near !== undefined ? ` (did you mean ${near}?)` : ''}; known: ${allowed.join(', ')}`);
      }
      out.set(key, pair);
    }
    return out;
  }

  scalar(pair: Pair<YamlNode, YamlNode | null>, key: string): string {
    if (!isScalar(pair.value) || pair.value.value === null) this.fail(pair.value ?? pair.key, key, 'must be a single value');
    return String(pair.value.value);
  }
}

function req<T>(r: Reader, m: Map<string, Pair<YamlNode, YamlNode | null>>, key: string, full: string, at: YamlNode | null | undefined, read: (p: Pair<YamlNode, YamlNode | null>) => T): T {
  const p = m.get(key);
  if (p === undefined) r.fail(at, full, 'is required');
  return read(p);
}

function opt<T>(m: Map<string, Pair<YamlNode, YamlNode | null>>, key: string, read: (p: Pair<YamlNode, YamlNode | null>) => T): T | undefined {
  const p = m.get(key);
  return p === undefined ? undefined : read(p);
}

function endpointOf(r: Reader, p: Pair<YamlNode, YamlNode | null>, key: string, listen: boolean): Endpoint {
  try {
    return parseEndpoint(r.scalar(p, key), { allowPortZero: listen });
  } catch (e) {
    if (e instanceof ServeConfigError) throw e;
    return r.fail(p.value, key, `bad address: ${(e as Error).message}`);
  }
}

function intOf(r: Reader, p: Pair<YamlNode, YamlNode | null>, key: string, min: number, max: number): number {
  const t = r.scalar(p, key).trim();
  const n = /^-?\d+$/.test(t) ? Number(t) : NaN;
  if (!(n >= min && n <= max)) r.fail(p.value, key, `must be a whole number from ${min} to ${max}, got ${t}`);
  return n;
}

function ipv4Of(r: Reader, p: Pair<YamlNode, YamlNode | null>, key: string): Ipv4Addr {
  const t = r.scalar(p, key).trim();
  try {
    return parseIpv4Addr(t);
  } catch {
    return r.fail(p.value, key, `bad address: must be an IPv4 address such as 192.0.2.10, got ${t}`);
  }
}

function nameOf(r: Reader, p: Pair<YamlNode, YamlNode | null>, key: string): string {
  const t = r.scalar(p, key);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(t)) r.fail(p.value, key, `must be 1..64 letters, digits, '_', '.', '-', got ${JSON.stringify(t)}`);
  return t;
}

function readArbiter(r: Reader, p: Pair<YamlNode, YamlNode | null>): { arbiterAt: Endpoint; arbiterEtcd?: Endpoint[] } {
  const t = r.scalar(p, 'arbiter').trim();
  const fail = (msg: string): never => r.fail(p.value, 'arbiter', `bad address: ${msg}`);
  const one = (s: string): Endpoint => {
    try {
      return parseEndpoint(s, { allowPortZero: false });
    } catch (e) {
      return fail((e as Error).message);
    }
  };
  if (!t.toLowerCase().startsWith(ETCD_SCHEME)) return { arbiterAt: one(t) };
  const list = t.slice(ETCD_SCHEME.length);
  if (list === '') fail('etcd:// needs at least one HOST:PORT');
  const members = list.split(',').map(one);
  return { arbiterAt: members[0]!, arbiterEtcd: members };
}

function readPeers(r: Reader, p: Pair<YamlNode, YamlNode | null>): ServePeer[] {
  if (!isSeq(p.value) || p.value.items.length === 0) r.fail(p.value ?? p.key, 'log.peers', 'must be a list of { name, address } (the other replicas)');
  return (p.value.items as YamlNode[]).map((item, i) => {
    const key = `log.peers[${i}]`;
    const m = r.map(item, key, 'log.peers[]', p.value);
    return { name: req(r, m, 'name', `${key}.name`, item, (q) => nameOf(r, q, `${key}.name`)), address: req(r, m, 'address', `${key}.address`, item, (q) => endpointOf(r, q, `${key}.address`, false)) };
  });
}

function readNetwork(r: Reader, p: Pair<YamlNode, YamlNode | null>): { switchAt?: Endpoint; tap?: ServeTap } {
  const m = r.map(p.value, 'network', 'network', p.key);
  const sw = opt(m, 'switch', (q) => endpointOf(r, q, 'network.switch', false));
  const tapPair = m.get('tap');
  if ((sw === undefined) === (tapPair === undefined)) r.fail(p.key, 'network', 'needs exactly one of switch or tap');
  if (sw !== undefined) return { switchAt: sw };
  const t = r.map(tapPair!.value, 'network.tap', 'network.tap', tapPair!.key);
  const mac = opt(t, 'mac', (q) => {
    const s = r.scalar(q, 'network.tap.mac').trim().toLowerCase();
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(s) || (parseInt(s.slice(0, 2), 16) & 1) !== 0) r.fail(q.value, 'network.tap.mac', `must be a unicast MAC such as 02:66:c0:00:02:0a, got ${s}`);
    return s;
  });
  const gateway = opt(t, 'gateway', (q) => ipv4Of(r, q, 'network.tap.gateway'));
  return {
    tap: {
      port: req(r, t, 'port', 'network.tap.port', tapPair!.value, (q) => intOf(r, q, 'network.tap.port', 1, 65535)),
      socatPort: req(r, t, 'socat-port', 'network.tap.socat-port', tapPair!.value, (q) => intOf(r, q, 'network.tap.socat-port', 1, 65535)),
      prefixLength: opt(t, 'prefix', (q) => intOf(r, q, 'network.tap.prefix', 1, 32)) ?? 24,
      ...(mac !== undefined ? { mac } : {}),
      ...(gateway !== undefined ? { gateway } : {}),
    },
  };
}

/** Validate the whole config text of `file`; throws ServeConfigError (one line) at the first error. */
export function parseServeConfig(text: string, file: string): ServeConfig {
  const r = new Reader(file);
  const root = r.parse(text);
  const top = r.map(root, '', '', root);
  const svcPair = req(r, top, 'service', 'service', root, (p) => p);
  const svc = r.map(svcPair.value, 'service', 'service', svcPair.key);
  const app = opt(svc, 'app', (q) => {
    const a = r.scalar(q, 'service.app');
    if (!(APP_NAMES as readonly string[]).includes(a)) r.fail(q.value, 'service.app', `must be one of ${APP_NAMES.join(', ')}${nearestWord(a, APP_NAMES) !== undefined ? ` (did you mean ${nearestWord(a, APP_NAMES)}?)` : ''}, got ${a}`);
    return a as AppName;
  });
  const logPair = req(r, top, 'log', 'log', root, (p) => p);
  const log = r.map(logPair.value, 'log', 'log', logPair.key);
  const netPair = req(r, top, 'network', 'network', root, (p) => p);
  const timing = top.has('timing') ? r.map(top.get('timing')!.value, 'timing', 'timing', top.get('timing')!.key) : new Map<string, Pair<YamlNode, YamlNode | null>>();
  const ms = (key: string, dflt: number): number => opt(timing, key, (q) => intOf(r, q, `timing.${key}`, 1, 600_000)) ?? dflt;
  const heartbeatMs = ms('heartbeat-ms', 10);
  const failureTimeoutMs = ms('failure-timeout-ms', 50);
  if (failureTimeoutMs <= heartbeatMs) r.fail(timing.get('failure-timeout-ms')?.value ?? root, 'timing.failure-timeout-ms', `(${failureTimeoutMs}) must be longer than timing.heartbeat-ms (${heartbeatMs})`);
  const failureTimeoutMaxMs = opt(timing, 'failure-timeout-max-ms', (q) => intOf(r, q, 'timing.failure-timeout-max-ms', 1, 600_000));
  if (failureTimeoutMaxMs !== undefined && failureTimeoutMaxMs < failureTimeoutMs) r.fail(timing.get('failure-timeout-max-ms')!.value ?? root, 'timing.failure-timeout-max-ms', `(${failureTimeoutMaxMs}) must be at least timing.failure-timeout-ms (${failureTimeoutMs})`);
  const failureTimeoutStartMs = opt(timing, 'failure-timeout-start-ms', (q) => intOf(r, q, 'timing.failure-timeout-start-ms', 1, 600_000));
  const atLeast = failureTimeoutMaxMs !== undefined && failureTimeoutMaxMs > failureTimeoutMs ? ['failure-timeout-max-ms', failureTimeoutMaxMs] as const : ['failure-timeout-ms', failureTimeoutMs] as const;
  if (failureTimeoutStartMs !== undefined && failureTimeoutStartMs < atLeast[1]) r.fail(timing.get('failure-timeout-start-ms')!.value ?? root, 'timing.failure-timeout-start-ms', `(${failureTimeoutStartMs}) must be at least timing.${atLeast[0]} (${atLeast[1]})`);
  const etcdContactTimeoutMs = opt(timing, 'etcd-contact-timeout-ms', (q) => intOf(r, q, 'timing.etcd-contact-timeout-ms', 100, 600_000));
  const name = req(r, top, 'name', 'name', root, (p) => nameOf(r, p, 'name'));
  const peers = req(r, log, 'listen', 'log.listen', logPair.value, () => readPeersOrEmpty(r, log));
  for (const peer of peers) if (peer.name === name) r.fail(log.get('peers')!.value, 'log.peers', `names this replica itself (${name}); list the other replicas`);
  const captureDir = opt(top, 'capture-dir', (q) => r.scalar(q, 'capture-dir'));
  const clusterKeyFile = opt(top, 'cluster-key-file', (q) => r.scalar(q, 'cluster-key-file'));
  const profile = opt(top, 'profile', (q) => {
    const p = r.scalar(q, 'profile');
    if (!(STACK_PROFILES as readonly string[]).includes(p)) r.fail(q.value, 'profile', `must be ${STACK_PROFILES.join(' or ')}, got ${p}`);
    return p as StackProfile;
  });
  return {
    name,
    service: {
      address: req(r, svc, 'address', 'service.address', svcPair.value, (q) => ipv4Of(r, q, 'service.address')),
      port: opt(svc, 'port', (q) => intOf(r, q, 'service.port', 1, 65535)) ?? 7070,
      app: app ?? 'counter',
      seed: opt(svc, 'seed', (q) => intOf(r, q, 'service.seed', 0, 0xffff_ffff)) ?? 1,
      bulkBytes: opt(svc, 'bulk-bytes', (q) => intOf(r, q, 'service.bulk-bytes', 1, Number.MAX_SAFE_INTEGER)) ?? 1_000_000,
    },
    ...req(r, top, 'arbiter', 'arbiter', root, (p) => readArbiter(r, p)),
    logListen: endpointOf(r, log.get('listen')!, 'log.listen', true),
    peers,
    ...readNetwork(r, netPair),
    heartbeatMs,
    failureTimeoutMs,
    ...(failureTimeoutMaxMs !== undefined ? { failureTimeoutMaxMs } : {}),
    ...(failureTimeoutStartMs !== undefined ? { failureTimeoutStartMs } : {}),
    ...(etcdContactTimeoutMs !== undefined ? { etcdContactTimeoutMs } : {}),
    rejoinBackoffMs: ms('rejoin-backoff-ms', 200),
    startTimeoutMs: ms('start-timeout-ms', 5000),
    mtu: opt(top, 'mtu', (q) => intOf(r, q, 'mtu', 68, 65000)) ?? 65000,
    nice: opt(top, 'nice', (q) => intOf(r, q, 'nice', MIN_NICE, MAX_NICE)) ?? DEFAULT_NICE,
    ...(captureDir !== undefined ? { captureDir } : {}),
    ...(clusterKeyFile !== undefined ? { clusterKeyFile } : {}),
    ...(profile !== undefined ? { profile } : {}),
  };
}

function readPeersOrEmpty(r: Reader, log: Map<string, Pair<YamlNode, YamlNode | null>>): ServePeer[] {
  const p = log.get('peers');
  return p === undefined ? [] : readPeers(r, p);
}
