// A replica's arbiter client keeps its connection open before anything is asked
// (ArbiterClient.keepConnected), so a test-and-set is one round trip. What must hold: the
// request goes over the connection already open; background attempts that fail are counted
// and never reported (no arbiter-error line while nothing was asked) and never delay a
// request (their backoff is their own); a request's own failure is still reported, once.
// In-process server and clients; no assertion on a duration.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ArbiterClient, type ArbiterClientOptions } from '../../src/net/arbiter-client.js';
import { ArbiterServer } from '../../src/net/arbiter-server.js';
import { freeTcpPort, until } from '../helpers/net.js';

const SERVICE = '192.0.2.10';
const dir = mkdtempSync(join(tmpdir(), 'ftcp-arbiter-kept-'));
let n = 0;
const freshPath = () => join(dir, `state-${++n}`, 'arbiter.json');

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function server(port = 0, statePath = freshPath(), init = true): Promise<ArbiterServer> {
  const s = await ArbiterServer.start({ listen: { host: '127.0.0.1', port }, statePath, init });
  closers.push(() => s.close());
  return s;
}

function kept(port: number, extra: Partial<ArbiterClientOptions> = {}): { c: ArbiterClient; errors: string[] } {
  const c = new ArbiterClient({ server: { host: '127.0.0.1', port }, service: SERVICE, ...extra });
  closers.push(() => c.close());
  const errors: string[] = [];
  c.onError((m) => errors.push(m));
  c.keepConnected();
  return { c, errors };
}

describe('arbiter client, kept connected', () => {
  it('is connected before anything is asked, and the test-and-set goes over that connection', async () => {
    const s = await server();
    const { c, errors } = kept(s.local.port);
    await until(() => c.connected, 5000, 'the kept connection');
    expect(c.stats.requestsSent).toBe(0);
    expect(s.stats.connections).toBe(1);
    const r = await c.testAndSet(1, 'b', { timeoutMs: 5000 });
    expect(r.winner).toBe('b');
    expect(c.stats.connects).toBe(1);
    expect(s.stats.connections).toBe(1);
    expect(c.answeredRequestSentAtMs()).toBeTypeOf('number');
    expect(errors).toEqual([]);
  });

  it('arbiter down at start: background failures are counted, not reported, and a request once it is up does not wait for their backoff', async () => {
    const port = await freeTcpPort();
    // A background backoff of a minute: a request that waited for it would time out below.
    const { c, errors } = kept(port, { reconnectDelayMs: 60_000, reconnectMaxMs: 60_000 });
    await until(() => c.stats.backgroundFailures >= 1, 5000, 'the first background attempt failing');
    expect(c.connected).toBe(false);
    expect(errors).toEqual([]);
    await server(port);
    const r = await c.testAndSet(1, 'b', { timeoutMs: 10_000, retryMs: 10_000 });
    expect(r.winner).toBe('b');
    expect(c.connected).toBe(true);
    expect(errors).toEqual([]);
  });

  it('a request while the arbiter is down is still reported, in the line a request always got', async () => {
    const port = await freeTcpPort();
    const { c, errors } = kept(port, { reconnectDelayMs: 60_000, reconnectMaxMs: 60_000 });
    await until(() => c.stats.backgroundFailures >= 1, 5000, 'the first background attempt failing');
    await expect(c.testAndSet(1, 'b', { timeoutMs: 2000, retryMs: 2000 })).rejects.toThrow(/^nothing is listening at 127\.0\.0\.1:\d+; start the arbiter first, or point --arbiter at it$/);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(/^nothing is listening at 127\.0\.0\.1:\d+/);
  });

  it('a kept connection the arbiter closes (a restart) is reopened in the background, silently', async () => {
    const statePath = freshPath();
    const s = await server(0, statePath);
    const port = s.local.port;
    const { c, errors } = kept(port, { reconnectDelayMs: 10, reconnectMaxMs: 50 });
    await until(() => c.connected, 5000, 'the kept connection');
    await s.close();
    await until(() => !c.connected, 5000, 'the connection closing');
    await server(port, statePath, false);
    await until(() => c.connected, 10_000, 'the connection reopened');
    expect(c.stats.connects).toBeGreaterThanOrEqual(2);
    expect(errors).toEqual([]);
    expect((await c.testAndSet(1, 'b', { timeoutMs: 5000 })).winner).toBe('b');
  });

  it('an idle connection is replaced by the client before the arbiter times it out', async () => {
    const s = await server();
    const { c, errors } = kept(s.local.port, { idleRecycleMs: 40 });
    await until(() => c.stats.recycled >= 2 && c.connected, 10_000, 'two idle connections replaced');
    expect(c.stats.disconnects).toBe(0);
    expect(errors).toEqual([]);
    expect((await c.testAndSet(1, 'b', { timeoutMs: 5000 })).winner).toBe('b');
  });

  it('close() ends the background attempts', async () => {
    const port = await freeTcpPort();
    const { c } = kept(port, { reconnectDelayMs: 10, reconnectMaxMs: 10 });
    await until(() => c.stats.backgroundFailures >= 1, 5000, 'a background attempt failing');
    c.close();
    const before = c.stats.backgroundFailures;
    await server(port);
    await new Promise((r) => setTimeout(r, 100));
    expect(c.connected).toBe(false);
    expect(c.stats.backgroundFailures).toBe(before);
  });
});
