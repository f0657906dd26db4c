/**
 * The Redis state adapter (upstream-adapter.ts): a joining backup's redis-server
 * becomes a copy of the primary's by Redis's own replication, as of the join snapshot's
 * index k. The reasoning about the cut is in docs/decisions.md ("Redis join: the cut").
 *
 *   primary, paused and idle  exportState: where its Redis is, its master_repl_offset and
 *                             its sync_full count at the cut;
 *   joiner                    importState: REPLICAOF host port on its own Redis; wait for
 *                             master_link_status:up, no sync in progress, and the replica
 *                             offset at or past the cut's; then REPLICAOF NO ONE;
 *   primary, after the snapshot  released: waits until a full sync has happened since the
 *                             cut and no replica is attached any more (the joiner's copy has
 *                             detached); only then may its Redis take new writes, or they
 *                             would reach the copy too and be applied twice.
 */
import type { Endpoint } from './endpoint.js';
import { RedisConnection } from './redis-connection.js';
import type { UpstreamStateAdapter } from './upstream-adapter.js';

interface RedisExport {
  host: string;
  port: number;
  /** master_repl_offset of the primary's Redis at the cut. */
  offset: number;
  /** sync_full of the primary's Redis at the cut (a full sync since then is the joiner's). */
  syncFull: number;
}

const POLL_MS = 20;

async function withConnection<T>(at: Endpoint, fn: (c: RedisConnection) => Promise<T>): Promise<T> {
  const c = await RedisConnection.open(at);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

function num(info: Map<string, string>, key: string): number {
  const v = Number(info.get(key) ?? NaN);
  if (!Number.isFinite(v)) throw new Error(`redis INFO has no ${key}`);
  return v;
}

/** Polls `check` every POLL_MS until it returns true; rejects after `timeoutMs` with `what`. */
async function until(timeoutMs: number, what: () => string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(what());
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export class RedisStateAdapter implements UpstreamStateAdapter {
  readonly name = 'redis';

  constructor(private readonly timeoutMs = 30_000) {}

  exportState(primaryApp: Endpoint): Promise<Uint8Array> {
    return withConnection(primaryApp, async (c) => {
      const repl = await c.info('replication');
      const stats = await c.info('stats');
      const e: RedisExport = { host: primaryApp.host, port: primaryApp.port, offset: num(repl, 'master_repl_offset'), syncFull: num(stats, 'sync_full') };
      return new TextEncoder().encode(JSON.stringify(e));
    });
  }

  released(primaryApp: Endpoint, exported: Uint8Array): Promise<void> {
    const e = JSON.parse(new TextDecoder().decode(exported)) as RedisExport;
    let last = '';
    return withConnection(primaryApp, (c) =>
      until(this.timeoutMs, () => `the joiner's Redis did not copy and detach from ${e.host}:${e.port} within ${this.timeoutMs} ms (${last})`, async () => {
        const syncFull = num(await c.info('stats'), 'sync_full');
        const replicas = num(await c.info('replication'), 'connected_slaves');
        last = `full syncs since the cut: ${syncFull - e.syncFull}, replicas attached: ${replicas}`;
        return syncFull > e.syncFull && replicas === 0;
      }),
    );
  }

  importState(localApp: Endpoint, exported: Uint8Array): Promise<void> {
    const e = JSON.parse(new TextDecoder().decode(exported)) as RedisExport;
    let last = '';
    return withConnection(localApp, async (c) => {
      await c.ok(['REPLICAOF', e.host, String(e.port)]);
      await until(this.timeoutMs, () => `no full copy from ${e.host}:${e.port} within ${this.timeoutMs} ms (${last})`, async () => {
        const r = await c.info('replication');
        last = `master_link_status:${r.get('master_link_status') ?? '?'}, master_sync_in_progress:${r.get('master_sync_in_progress') ?? '?'}, slave_repl_offset:${r.get('slave_repl_offset') ?? '?'}, the cut's offset ${e.offset}`;
        return r.get('master_link_status') === 'up' && r.get('master_sync_in_progress') === '0' && Number(r.get('slave_repl_offset') ?? -1) >= e.offset;
      });
      await c.ok(['REPLICAOF', 'NO', 'ONE']);
    });
  }
}
