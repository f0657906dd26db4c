/**
 * The configuration both replicas of a pair must share, exchanged in a `hello` frame on
 * every log-channel connection (src/replica/channel.ts) and compared before any entry
 * flows. Replicas started with different apps, seeds or MTUs used to be accepted, and the
 * backup died at the first connection with "replication fault (a determinism bug)"; now the
 * difference is one line at connect time.
 */

import { formatMac } from '../wire/ethernet.js';
import { formatIpv4Addr } from '../wire/addr.js';
import { DEFAULT_MTU } from './udp-link.js';
import { DEFAULT_MAX_CONNECTIONS } from './replica-options.js';
import type { Endpoint } from './endpoint.js';
import { RedisConnection } from './redis-connection.js';
import type { ReplicaProcessOptions } from './replica-options.js';

/** Keys in the order they are shown, each with the flag that sets it. */
const KEYS: ReadonlyArray<readonly [key: string, flag: string]> = [
  ['app', '--app / --upstream'],
  ['upstream', '--upstream-app / --upstream-stateless'],
  ['seed', '--seed'],
  ['mtu', '--mtu'],
  ['max-connections', '--max-connections'],
  ['profile', '--profile'],
  ['service', '--service'],
  ['port', '--port'],
  ['bulk-bytes', '--bulk-bytes'],
  ['output-rule', '--unsafe-no-output-rule'],
  ['network', '--tap-port / --switch'],
];

/** Fields added after the first builds: what a hello without them means. */
const ABSENT_MEANS: Readonly<Record<string, string>> = { profile: 'rfc' };

export type HelloFields = Record<string, string>;

/**
 * What this replica must agree on with its peer, as text fields; `upstreamId` names its
 * upstream app's instance where the app can tell (Redis's run_id), which must differ.
 */
export function helloFields(o: Pick<ReplicaProcessOptions, 'name' | 'app' | 'upstream' | 'upstreamApp' | 'seed' | 'mtu' | 'maxConnections' | 'service' | 'servicePort' | 'bulkBytes' | 'outputRule' | 'tap' | 'profile'>, upstreamId?: string): HelloFields {
  return {
    ...(upstreamId !== undefined ? { 'upstream-id': upstreamId } : {}),
    name: o.name,
    app: o.upstream !== undefined ? 'upstream' : o.app,
    upstream: o.upstream === undefined ? 'none' : o.upstreamApp === 'stateless' ? 'generic, stateless' : (o.upstreamApp ?? 'generic'),
    seed: String(o.seed),
    mtu: String(o.mtu ?? DEFAULT_MTU),
    'max-connections': String(o.maxConnections ?? DEFAULT_MAX_CONNECTIONS),
    profile: o.profile ?? 'rfc',
    service: formatIpv4Addr(o.service),
    port: String(o.servicePort),
    'bulk-bytes': String(o.bulkBytes),
    'output-rule': o.outputRule ? 'on' : 'off',
    network: o.tap === undefined ? 'switch' : `ethernet /${o.tap.prefixLength}${o.tap.mac !== undefined ? ` ${formatMac(o.tap.mac)}` : ''}`,
  };
}

export function encodeHello(fields: HelloFields): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${v.replace(/\n/g, ' ')}`)
    .join('\n');
}

export function decodeHello(text: string): HelloFields {
  const out: HelloFields = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/**
 * The differences between our fields and the peer's, one phrase each (empty: they agree).
 * `expectPeer`: the name this replica was told its peer has (--peer), checked when given.
 */
export function compareHello(mine: HelloFields, theirs: HelloFields, expectPeer?: string): string[] {
  const me = mine['name'] ?? '?';
  const them = theirs['name'] ?? '?';
  const out: string[] = [];
  if (expectPeer !== undefined && them !== expectPeer) out.push(`--peer names ${expectPeer}, but the replica at --log-peer is ${them}`);
  for (const [key, flag] of KEYS) {
    // A peer whose hello has no such field (an older build) has its default.
    const a = mine[key] ?? ABSENT_MEANS[key];
    const b = theirs[key] ?? ABSENT_MEANS[key];
    if (a !== b) out.push(`${key} (${flag}): ${me} has ${a ?? 'nothing'}, ${them} has ${b ?? 'nothing'}`);
  }
  const id = mine['upstream-id'];
  if (id !== undefined && id === theirs['upstream-id']) {
    out.push(`${me} and ${them} use one upstream instance (${id}): every command would be applied twice; give each replica its own (--upstream)`);
  }
  return out;
}

/** The run_id of the Redis at `at` (`INFO server`), or undefined when it cannot be had. */
export async function redisRunId(at: Endpoint, timeoutMs: number): Promise<string | undefined> {
  let conn: RedisConnection | undefined;
  try {
    conn = await RedisConnection.open(at, timeoutMs);
    const id = (await conn.info('server')).get('run_id');
    return id === undefined ? undefined : `redis run_id ${id}`;
  } catch {
    return undefined; // unreachable: the upstream check at the first connection says so
  } finally {
    conn?.close();
  }
}
