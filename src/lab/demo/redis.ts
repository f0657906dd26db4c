/**
 * `ftcp demo failover --app redis`: one real redis-server per replica (Debian's,
 * persistence off, src/lab/redis-server.ts), each replica's `--upstream` pointing at its
 * own, with `--upstream-app redis` (one command at a time, in log order). The client speaks
 * RESP (src/lab/redis-load.ts). After the run the surviving replica's Redis is asked
 * directly, on a connection of its own, for what the client last saw: the shared counter,
 * every connection's own counter and every key it set (the lecture's `a+1=11`, done right).
 */
import { spawnSync } from 'node:child_process';
import { REDIS_CLI_INSTALL_HINT } from '../redis-cli-load.js';
import { RedisServer, redisVersion, REDIS_INSTALL_HINT } from '../redis-server.js';
import { REDIS_COUNTER_KEY, type RedisConnState } from '../redis-load.js';

export interface RedisReport {
  version: string | null;
  servers: Record<string, { port: number; pid: number }>;
  /** INCR of the shared counter: replies seen by the client, and whether they are exactly 1..N. */
  incr: { replies: number; exactly1toN: boolean };
  /** Per connection: own-counter INCRs (each the previous reply plus one) and SET/GET pairs, as the client checked them. */
  perConnection: { incrs: number; setGets: number; connections: number };
  /** The surviving replica's Redis, asked directly after the run. */
  survivor: { replica: string; counter: number | null; clientLast: number; agree: boolean; keysChecked: number; keysDiffering: number } | null;
}

/** Why --app redis cannot run here (with redis-cli as the client: `kernel`), or undefined. */
export function redisMissing(kernel: boolean): string | undefined {
  if (redisVersion() === null) return REDIS_INSTALL_HINT;
  if (kernel && spawnSync(process.env['REDIS_CLI'] || 'redis-cli', ['--version'], { timeout: 30_000 }).status !== 0) return REDIS_CLI_INSTALL_HINT;
  return undefined;
}

/** One redis-server per replica name. Servers started before a failure are stopped again. */
export async function startRedisUpstreams(names: readonly string[]): Promise<Record<string, RedisServer>> {
  const started = await Promise.allSettled(names.map((n) => RedisServer.start(n)));
  const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(ok.map((s) => s.stop()));
    throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  }
  return Object.fromEntries(ok.map((s) => [s.name, s]));
}

/**
 * Compares what the client saw (its result line) with the surviving Redis. Returns the
 * report's `redis` part and the problems found (none when all agrees).
 */
export async function checkRedisRun(
  servers: Record<string, RedisServer>,
  survivor: string | undefined,
  clientResult: Record<string, unknown> | undefined,
): Promise<{ report: RedisReport; problems: string[] }> {
  const problems: string[] = [];
  const counter = clientResult?.['counter'] as { count: number; consecutive: boolean } | undefined;
  const conns = ((clientResult?.['redis'] as { conns: RedisConnState[] } | undefined)?.conns ?? []);
  const report: RedisReport = {
    version: redisVersion(),
    servers: Object.fromEntries(Object.entries(servers).map(([n, s]) => [n, { port: s.port, pid: s.pid }])),
    incr: { replies: counter?.count ?? 0, exactly1toN: counter?.consecutive ?? false },
    perConnection: { incrs: conns.reduce((n, c) => n + c.incrs, 0), setGets: conns.reduce((n, c) => n + c.setGets, 0), connections: conns.length },
    survivor: null,
  };
  if (counter !== undefined && !counter.consecutive) problems.push(`redis: the INCR ${REDIS_COUNTER_KEY} replies are not exactly 1..${counter.count} (a gap or a repeat)`);
  if (counter !== undefined && counter.count === 0) problems.push('redis: the client saw no INCR reply');
  const server = survivor !== undefined ? servers[survivor] : undefined;
  if (server === undefined || clientResult === undefined) return { report, problems };
  try {
    // What the client last saw of each key: the shared counter, each connection's own counter and every key it set.
    const want = new Map<string, string>();
    for (const conn of conns) {
      if (conn.counter > 0) want.set(conn.counterKey, String(conn.counter));
      for (const [k, v] of Object.entries(conn.keys)) want.set(k, v);
    }
    const keys = [...want.keys()];
    const [value, ...got] = await server.mget([REDIS_COUNTER_KEY, ...keys]);
    const clientLast = counter?.count ?? 0;
    const stored = value === null || value === undefined ? null : Number(value);
    let differing = 0;
    keys.forEach((key, i) => {
      if (got[i] === want.get(key)) return;
      differing++;
      if (differing <= 5) problems.push(`redis: the surviving Redis (${survivor}) holds ${key} = ${got[i] === null ? '$nil' : `$${JSON.stringify(got[i]?.slice(0, 40))}`}, the client last saw ${JSON.stringify(want.get(key))}`);
    });
    report.survivor = { replica: survivor!, counter: stored, clientLast, agree: stored === clientLast, keysChecked: keys.length, keysDiffering: differing };
    if (stored !== clientLast) problems.push(`redis: the surviving Redis (${survivor}) holds ${REDIS_COUNTER_KEY} = ${value ?? 'nil'}, the client last saw ${clientLast}`);
  } catch (error) {
    problems.push(`redis: could not ask the surviving Redis (${survivor}): ${error instanceof Error ? error.message : String(error)}`);
  }
  return { report, problems };
}

/** The human lines of the report's `redis` part. */
export function describeRedis(r: RedisReport): string[] {
  const s = r.survivor;
  return [
    `  redis (${r.version ?? 'redis-server'}; ${Object.entries(r.servers).map(([n, v]) => `${n}: port ${v.port}, pid ${v.pid}`).join('; ')}):`,
    `    INCR ${REDIS_COUNTER_KEY}: ${r.incr.replies} replies, ${r.incr.exactly1toN ? `exactly 1..${r.incr.replies}, no gap, no repeat` : 'NOT exactly 1..N'}`,
    `    per connection: ${r.perConnection.incrs} INCRs of its own counter (each the previous reply plus one) and ${r.perConnection.setGets} SET/GET pairs, checked by the client`,
    s === null
      ? '    the surviving Redis was not asked'
      : `    the surviving Redis (${s.replica}'s), asked directly: ${REDIS_COUNTER_KEY} = ${s.counter ?? 'nil'}, the client last saw ${s.clientLast}: ${s.agree ? 'they agree' : 'THEY DIFFER'}; ${s.keysChecked - s.keysDiffering}/${s.keysChecked} other keys as the client last saw them`,
  ];
}
