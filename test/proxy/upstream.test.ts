// The upstream bridge (src/proxy/upstream.ts) inside the RSM: a primary RSM and a follower
// applying the same entries, with `app` entries made by the test from a scripted upstream.
import { describe, expect, it } from 'vitest';
import { UpstreamBridge, type UpstreamEvent } from '../../src/proxy/upstream.js';
import { Rsm, type RsmConfig } from '../../src/replica/rsm.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import type { StackEvent } from '../../src/tcp/types.js';
import { PORT, RsmLoop, SERVICE } from '../replica/rsm-harness.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function upstreamConfig(): RsmConfig {
  // A small send buffer, so that logged bytes have to wait for room.
  return { stack: { addresses: [SERVICE], seed: 1234, sendBufferBytes: 64 * 1024 }, servicePort: PORT, app: 'upstream', digestEvery: 4 };
}

/** Called with each upstream event of the primary, and with undefined once per 100 µs step. */
type Script = (loop: RsmLoop, e: UpstreamEvent | undefined) => void;

/**
 * One client connection: sends `requests`, reads everything; the primary's upstream events
 * go to `script` (which appends `app` entries); the follower's events are recorded to compare.
 */
function drive(requests: string[], script: Script, opts: { untilUs?: number; readFromUs?: number; followers?: number } = {}) {
  const loop = new RsmLoop(upstreamConfig(), opts.followers ?? 1);
  const s = loop.client.connect(loop.nowUs, { remoteAddress: SERVICE, remotePort: PORT });
  loop.drainClient();
  const primaryEvents: UpstreamEvent[] = [];
  const followerEvents: UpstreamEvent[] = [];
  const clientEvents: StackEvent[] = [];
  let got: number[] = [];
  let sent = 0;
  let maxQueued = 0;
  loop.run(opts.untilUs ?? 3_000_000, () => {
    for (let e = loop.followers[0]?.pollUpstream(); e !== undefined; e = loop.followers[0]?.pollUpstream()) followerEvents.push(e);
    for (let e = loop.primary.pollUpstream(); e !== undefined; e = loop.primary.pollUpstream()) {
      primaryEvents.push(e);
      script(loop, e);
    }
    script(loop, undefined);
    for (const c of loop.primary.connections()) maxQueued = Math.max(maxQueued, loop.primary.upstreamQueued(c));
    for (let e = loop.client.pollEvent(); e; e = loop.client.pollEvent()) clientEvents.push(e);
    let st: string;
    try {
      st = loop.client.info(s).state;
    } catch {
      return;
    }
    if (loop.nowUs >= (opts.readFromUs ?? 0)) for (let d = loop.client.read(loop.nowUs, s); d.length > 0; d = loop.client.read(loop.nowUs, s)) got = got.concat([...d]);
    if (st === 'ESTABLISHED' && sent < requests.length) loop.client.write(loop.nowUs, s, enc.encode(requests[sent++]!));
    else if (st === 'ESTABLISHED' && sent === requests.length) {
      loop.client.shutdown(loop.nowUs, s);
      sent++;
    }
  });
  return { loop, got: Uint8Array.from(got), primaryEvents, followerEvents, clientEvents, maxQueued };
}

const upper: Script = (loop, e) => {
  if (e === undefined) return;
  if (e.type === 'data') loop.applyEntry({ kind: 'app', socket: e.conn, op: 'write', data: enc.encode(dec.decode(e.data).toUpperCase()) });
  if (e.type === 'eof') loop.applyEntry({ kind: 'app', socket: e.conn, op: 'close' });
};

function closedError(events: StackEvent[]): string | undefined | null {
  const c = events.find((e) => e.type === 'closed');
  return c === undefined ? null : c.type === 'closed' ? c.error : null;
}

describe('upstream bridge', () => {
  it('exposes what the client sent, identically on every replica, and sends exactly the logged bytes', () => {
    const r = drive(['hello\n', 'world\n'], upper);
    expect(dec.decode(r.got)).toBe('HELLO\nWORLD\n');
    const types = r.primaryEvents.map((e) => e.type);
    expect(types[0]).toBe('open');
    expect(types).toContain('eof');
    expect(types.at(-1)).toBe('closed');
    expect(dec.decode(Uint8Array.from(r.primaryEvents.flatMap((e) => (e.type === 'data' ? [...e.data] : []))))).toBe('hello\nworld\n');
    // The follower applied the same entries: same events, same state, same packets.
    expect(r.followerEvents).toEqual(r.primaryEvents);
    expect(r.loop.mismatches).toEqual([]);
    expect(r.loop.outputDiffs).toEqual([]);
    expect(r.clientEvents.some((e) => e.type === 'eof')).toBe(true);
    expect(closedError(r.clientEvents)).toBeNull();
    expect(r.loop.entries.filter((e) => e.kind === 'app').length).toBe(3);
  });

  it('an upstream that refuses the connection: RST to the client, the same packets on both replicas', () => {
    const r = drive(['hello\n'], (loop, e) => {
      if (e?.type === 'open') loop.applyEntry({ kind: 'app', socket: e.conn, op: 'abort' });
    });
    expect(closedError(r.clientEvents)).toBe('ECONNRESET');
    expect(r.got.length).toBe(0);
    expect(r.loop.outputDiffs).toEqual([]);
    expect(r.loop.mismatches).toEqual([]);
    expect(r.primaryEvents.at(-1)?.type).toBe('closed');
  });

  it('an upstream that answers then resets: RST to the client, identical on both replicas', () => {
    let answered = false;
    const r = drive(['a\n', 'b\n', 'c\n'], (loop, e) => {
      if (e?.type !== 'data' || answered) return;
      answered = true;
      loop.applyEntry({ kind: 'app', socket: e.conn, op: 'write', data: enc.encode('A\n') });
      loop.applyEntry({ kind: 'app', socket: e.conn, op: 'abort' });
    });
    expect(closedError(r.clientEvents)).toBe('ECONNRESET');
    expect(r.loop.outputDiffs).toEqual([]);
    expect(r.loop.mismatches).toEqual([]);
  });

  it('an upstream that closes after its answer: the client reads the answer, then EOF (FIN, no RST)', () => {
    const r = drive(['one\n', 'two\n'], (loop, e) => {
      if (e?.type !== 'data') return;
      loop.applyEntry({ kind: 'app', socket: e.conn, op: 'write', data: enc.encode('bye\n') });
      loop.applyEntry({ kind: 'app', socket: e.conn, op: 'close' });
    });
    expect(dec.decode(r.got).startsWith('bye\n')).toBe(true);
    expect(r.clientEvents.some((e) => e.type === 'eof')).toBe(true);
    expect(closedError(r.clientEvents)).not.toBe('ECONNRESET');
    expect(r.loop.outputDiffs).toEqual([]);
  });

  it('a slow upstream: nothing moves until the app answers, then exactly its bytes', () => {
    let pending: { at: number; conn: number; data: Uint8Array } | undefined;
    let dataAtUs = 0;
    const r = drive(['slow\n'], (loop, e) => {
      if (e?.type === 'data') {
        dataAtUs = loop.nowUs;
        pending = { at: loop.nowUs + 800_000, conn: e.conn, data: e.data };
      }
      if (e === undefined && pending !== undefined && pending.at <= loop.nowUs) {
        loop.applyEntry({ kind: 'app', socket: pending.conn, op: 'write', data: enc.encode(dec.decode(pending.data).toUpperCase()) });
        pending = undefined;
      }
    });
    expect(dec.decode(r.got)).toBe('SLOW\n');
    const write = r.loop.entries.find((e) => e.kind === 'app');
    expect(write!.timeUs - dataAtUs).toBeGreaterThanOrEqual(800_000);
    expect(closedError(r.clientEvents)).not.toBe('ECONNRESET');
    expect(r.loop.outputDiffs).toEqual([]);
  });

  it('logged bytes beyond the send buffer wait in the replicated queue and all arrive, in order', () => {
    const big = new Uint8Array(600_000).map((_, i) => (i * 7) & 0xff);
    const r = drive(
      ['go\n'],
      (loop, e) => {
        if (e?.type !== 'data') return;
        for (let at = 0; at < big.length; at += 16_384) loop.applyEntry({ kind: 'app', socket: e.conn, op: 'write', data: big.subarray(at, at + 16_384) });
        loop.applyEntry({ kind: 'app', socket: e.conn, op: 'close' });
      },
      { untilUs: 2_500_000, readFromUs: 200_000 },
    );
    expect(r.maxQueued).toBeGreaterThan(0);
    expect(r.got.length).toBe(big.length);
    expect(Buffer.from(r.got).equals(Buffer.from(big))).toBe(true);
    expect(r.loop.mismatches).toEqual([]);
    expect(r.loop.outputDiffs).toEqual([]);
  });

  it('a snapshot carries the queue of logged bytes: a restored RSM sends the same packets', () => {
    const a = Rsm.create(upstreamConfig(), stackFactory);
    const bridgeSnap = new UpstreamBridge();
    bridgeSnap.open(3);
    bridgeSnap.logWrite(3, enc.encode('queued'));
    bridgeSnap.logClose(3);
    const back = UpstreamBridge.restore(JSON.parse(JSON.stringify(bridgeSnap.snapshot())));
    expect(dec.decode(back.pull(3, 100))).toBe('queued');
    expect(back.wantsClose(3)).toBe(true);
    const restored = Rsm.restore(a.snapshot(), stackFactory);
    expect(restored.appName).toBe('upstream');
    expect(restored.digest()).toBe(a.digest());
  });
});
