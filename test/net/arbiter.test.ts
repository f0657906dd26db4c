// The embedded arbiter: test-and-set over TCP with a persisted state file. In-process for the
// protocol and the state file; as `node bin/ftcp.js arbiter` child processes, killed with
// SIGKILL and restarted, for "a restarted arbiter never grants an epoch twice".
import * as net from 'node:net';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ArbiterClient } from '../../src/net/arbiter-client.js';
import { ArbiterServer } from '../../src/net/arbiter-server.js';
import { ArbiterState, ArbiterStateError } from '../../src/net/arbiter-state.js';
import { decodeArbiterFrame, encodeArbiterFrame } from '../../src/net/arbiter-wire.js';
import { decodeArbiter, type ArbiterResponse } from '../../src/replica/arbiter.js';
import { crc32 } from '../../src/wire/crc32.js';
import { until } from '../helpers/net.js';
import { describeWithDist, killAll, startCli, stopProc } from '../helpers/process.js';

const SERVICE = '192.0.2.10';
const dir = mkdtempSync(join(tmpdir(), 'ftcp-arbiter-'));
let n = 0;
const freshPath = () => join(dir, `state-${++n}`, 'arbiter.json');

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await killAll();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function server(statePath = freshPath(), init = true): Promise<ArbiterServer> {
  const s = await ArbiterServer.start({ listen: { host: '127.0.0.1', port: 0 }, statePath, init });
  closers.push(() => s.close());
  return s;
}

function client(at: { host: string; port: number }, extra: Partial<ConstructorParameters<typeof ArbiterClient>[0]> = {}): ArbiterClient {
  const c = new ArbiterClient({ server: at, service: SERVICE, ...extra });
  closers.push(() => c.close());
  return c;
}

describe('arbiter protocol and server', () => {
  it('frames round-trip and a flipped bit is caught', () => {
    const f = encodeArbiterFrame(SERVICE, { type: 'request', id: 7, epoch: 3, replica: 'b' });
    const d = decodeArbiterFrame(f);
    expect(d).toMatchObject({ ok: true, frame: { service: SERVICE, message: { type: 'request', id: 7, epoch: 3, replica: 'b' } } });
    for (let i = 0; i < f.length * 8; i += 5) {
      const g = Uint8Array.from(f);
      g[i >> 3]! ^= 1 << (i & 7);
      expect(decodeArbiterFrame(g).ok, `bit ${i}`).toBe(false);
    }
  });

  it('grants each epoch to exactly one of several clients asking at once, and tells the others who won', async () => {
    const s = await server();
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const clients = names.map(() => client(s.local));
    const epochs = Array.from({ length: 25 }, (_, i) => i + 1);
    const answers = await Promise.all(clients.flatMap((c, i) => epochs.map((e) => c.testAndSet(e, names[i]!))));
    for (const e of epochs) {
      const forEpoch = answers.filter((a) => a.epoch === e);
      expect(forEpoch.length).toBe(names.length);
      const winners = new Set(forEpoch.map((a) => a.winner));
      expect(winners.size, `epoch ${e}`).toBe(1);
      expect(forEpoch.filter((a) => a.replica === a.winner).length, `epoch ${e}`).toBe(1);
    }
    // Slow answers may be asked for again (testAndSet retries): those are repeats or losses, never grants.
    expect(s.stats).toMatchObject({ granted: 25, malformedFrames: 0 });
    expect(s.stats.requests).toBeGreaterThanOrEqual(150);
    expect(s.stats.lost).toBeGreaterThanOrEqual(125);
    // Asking again changes nothing: the winner is told it won, the others that they lost.
    const again = await clients[0]!.testAndSet(1, 'a');
    expect(again.winner).toBe(answers.find((x) => x.epoch === 1)!.winner);
    // Every flag is on disk.
    expect(ArbiterState.open(s.state.path).all().length).toBe(25);
  });

  it('implements the replica interface: send(request) in, response bytes out for Replica.handleArbiter', async () => {
    const s = await server();
    const c = client(s.local);
    const got: Array<{ bytes: Uint8Array; r: ArbiterResponse }> = [];
    c.onResponse((bytes, r) => got.push({ bytes, r }));
    c.send({ type: 'request', id: 1, epoch: 4, replica: 'b' });
    c.send({ type: 'request', id: 2, epoch: 4, replica: 'a' });
    await until(() => got.length === 2, 5000, 'two answers');
    expect(got.map((g) => decodeArbiter(g.bytes))).toEqual([
      { type: 'response', id: 1, epoch: 4, replica: 'b', winner: 'b' },
      { type: 'response', id: 2, epoch: 4, replica: 'a', winner: 'b' },
    ]);
    expect(c.stats).toMatchObject({ requestsSent: 2, responses: 2, connects: 1 });
  });

  it('counts a malformed frame, closes that connection, and keeps serving', async () => {
    const s = await server();
    const bad = encodeArbiterFrame(SERVICE, { type: 'request', id: 1, epoch: 1, replica: 'x' });
    bad[bad.length - 1]! ^= 0xff; // CRC
    const closedAfter = async (bytes: Uint8Array) => {
      const sock = net.connect(s.local.port, '127.0.0.1');
      closers.push(() => sock.destroy());
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write(bytes);
      await new Promise<void>((r) => sock.once('close', () => r()));
    };
    await closedAfter(bad);
    await closedAfter(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3)); // absurd length
    await closedAfter(encodeArbiterFrame(SERVICE, { type: 'response', id: 1, epoch: 1, replica: 'x', winner: 'x' })); // not a request
    expect(s.stats.malformedFrames).toBe(3);
    expect(s.stats.granted).toBe(0);
    const ok = await client(s.local).testAndSet(1, 'y');
    expect(ok.winner).toBe('y');
  });

  it('a client with no arbiter to talk to reports it in one line, then connects once it is there', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const c = client({ host: '127.0.0.1', port }, { reconnectDelayMs: 10, reconnectMaxMs: 50 });
    const errors: string[] = [];
    c.onError((m) => errors.push(m));
    await expect(c.testAndSet(1, 'a', { timeoutMs: 300, retryMs: 50 })).rejects.toThrow(/^nothing is listening at 127\.0\.0\.1:\d+; start the arbiter first, or point --arbiter at it$/);
    expect(errors.length).toBeGreaterThan(0);
    expect(c.stats.connectFailures).toBeGreaterThan(0);
    // The arbiter comes up on that port: the same client gets through.
    const s = await ArbiterServer.start({ listen: { host: '127.0.0.1', port }, statePath: freshPath(), init: true });
    closers.push(() => s.close());
    expect((await c.testAndSet(1, 'a', { timeoutMs: 3000, retryMs: 50 })).winner).toBe('a');
  });

  it('a client whose request goes unanswered times out and reconnects', async () => {
    // A server that accepts and never answers.
    const mute = net.createServer((sock) => sock.on('data', () => {}));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
    closers.push(() => new Promise<void>((r) => mute.close(() => r())));
    const sockets: net.Socket[] = [];
    mute.on('connection', (s) => sockets.push(s));
    closers.push(() => sockets.forEach((s) => s.destroy()));
    const port = (mute.address() as net.AddressInfo).port;
    const c = client({ host: '127.0.0.1', port }, { requestTimeoutMs: 100 });
    await expect(c.testAndSet(1, 'a', { timeoutMs: 600, retryMs: 150 })).rejects.toThrow(/did not answer within 100 ms/);
    expect(c.stats.timeouts).toBeGreaterThan(0);
    expect(c.stats.connects).toBeGreaterThan(1);
  });
});

describe('arbiter state file', () => {
  it('refuses a missing file without --init, and --init over an existing one', () => {
    const path = freshPath();
    expect(() => ArbiterState.open(path)).toThrow(/does not exist; for a new arbiter add --init/);
    ArbiterState.open(path, { init: true });
    expect(() => ArbiterState.open(path, { init: true })).toThrow(/already exists; drop --init/);
    expect(ArbiterState.open(path).size).toBe(0);
  });

  it('refuses a corrupt file, saying what is wrong, and never resets it', () => {
    const path = freshPath();
    const st = ArbiterState.open(path, { init: true });
    st.grant({ service: SERVICE, epoch: 1, winner: 'b', grantedAt: 'x' });
    st.grant({ service: SERVICE, epoch: 2, winner: 'a', grantedAt: 'y' });
    st.close();
    const good = readFileSync(path, 'utf8');
    expect(good.split('\n').length).toBe(4); // header, two flags, and the final '\n'
    expect(ArbiterState.open(path).get(SERVICE, 2)?.winner).toBe('a');
    const lines = good.split('\n');
    const cases: Array<[string, RegExp]> = [
      [good.replace('"winner":"a"', '"winner":"b"'), /line 3: CRC-32 is/],
      // A complete line that is cut is corruption, not a torn write: only the unterminated last line is.
      [[lines[0], lines[1]!.slice(0, 20), lines[2], ''].join('\n'), /line 2: not JSON/],
      ['', /empty/],
      [lines[0]!, /no complete header line/],
      [good.replace('"version":2', '"version":3'), /line 1: "version" 3 is not 2/],
      [good.replace('"format":"ftcp-arbiter-state"', '"format":"x"'), /line 1: "format" is not/],
      [`${good}${lines[1]}\n`, /epoch 1 of 192\.0\.2\.10 appears twice/],
      // A version 1 document (read for compatibility) is checked as before.
      ['{\n  "format": "ftcp-arbiter-state",\n  "version": 1,\n  "flags": [],\n  "crc32": "00000001"\n}\n', /CRC-32 is "00000001"/],
    ];
    for (const [text, re] of cases) {
      writeFileSync(path, text);
      let error: unknown;
      try {
        ArbiterState.open(path);
      } catch (e) {
        error = e;
      }
      expect(error, re.source).toBeInstanceOf(ArbiterStateError);
      expect((error as ArbiterStateError).code).toBe('ARBITER_STATE_CORRUPT');
      expect((error as Error).message).toMatch(re);
      expect((error as Error).message).toMatch(/refusing to start/);
      expect(readFileSync(path, 'utf8')).toBe(text); // untouched
    }
  });

  it('appends one line per grant; a torn last line (a grant never answered) is dropped at start-up and the file compacted', () => {
    const path = freshPath();
    const st = ArbiterState.open(path, { init: true });
    for (let e = 1; e <= 3; e++) {
      const before = readFileSync(path, 'utf8');
      st.grant({ service: SERVICE, epoch: e, winner: e === 2 ? 'a' : 'b', grantedAt: 't' });
      const after = readFileSync(path, 'utf8');
      expect(after.startsWith(before)).toBe(true); // appended, nothing rewritten
      expect(after.slice(before.length)).toMatch(/^\{"service":"192\.0\.2\.10","epoch":\d,"winner":"[ab]","grantedAt":"t","crc32":"[0-9a-f]{8}"\}\n$/);
    }
    st.close();
    const intact = readFileSync(path, 'utf8');
    // A crash in the middle of the fourth grant's write: part of its line, no '\n'.
    const torn = '{"service":"192.0.2.10","epoch":4,"winn';
    writeFileSync(path, intact + torn);
    const reopened = ArbiterState.open(path);
    expect(reopened.tornBytes).toBe(torn.length);
    expect(reopened.compacted).toBe(true);
    expect(reopened.all().map((f) => `${f.epoch}:${f.winner}`)).toEqual(['1:b', '2:a', '3:b']);
    expect(reopened.get(SERVICE, 4)).toBeUndefined(); // never answered, so free
    expect(readFileSync(path, 'utf8')).toBe(intact); // the tail is gone before anything is appended
    reopened.grant({ service: SERVICE, epoch: 4, winner: 'a', grantedAt: 't' });
    reopened.close();
    const third = ArbiterState.open(path);
    expect(third.compacted).toBe(false);
    expect(third.all().map((f) => `${f.epoch}:${f.winner}`)).toEqual(['1:b', '2:a', '3:b', '4:a']);
    third.close();
    // Torn anywhere in the line, even right after the header: the flags before it stay, the tail goes.
    for (const cut of [1, 10, 30]) {
      writeFileSync(path, intact.slice(0, intact.indexOf('\n') + 1) + torn.slice(0, cut));
      const s = ArbiterState.open(path);
      expect(s.size).toBe(0);
      expect(s.tornBytes).toBe(cut);
      s.close();
    }
  });

  it('reads a version 1 state file and converts it to the append-only format at start-up', () => {
    const path = freshPath();
    const flags = [{ service: SERVICE, epoch: 7, winner: 'a', grantedAt: 'then' }];
    const crc = crc32(new TextEncoder().encode(JSON.stringify(flags))).toString(16).padStart(8, '0');
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, `${JSON.stringify({ format: 'ftcp-arbiter-state', version: 1, flags, crc32: crc }, null, 2)}\n`);
    const st = ArbiterState.open(path);
    expect(st.compacted).toBe(true);
    expect(st.get(SERVICE, 7)?.winner).toBe('a');
    st.grant({ service: SERVICE, epoch: 8, winner: 'b', grantedAt: 'now' });
    st.close();
    expect(readFileSync(path, 'utf8').split('\n')[0]).toBe('{"format":"ftcp-arbiter-state","version":2}');
    expect(ArbiterState.open(path).all().map((f) => `${f.epoch}:${f.winner}`)).toEqual(['7:a', '8:b']);
  });

  it('a state file that cannot be written stops the server without answering', async () => {
    const path = freshPath();
    const s = await server(path);
    const events: string[] = [];
    s.onEvent((e) => events.push(e.type));
    // The state file's directory vanishes: the next grant cannot be persisted.
    rmSync(join(path, '..'), { recursive: true, force: true });
    const c = client(s.local, { requestTimeoutMs: 200 });
    await expect(c.testAndSet(1, 'a', { timeoutMs: 500 })).rejects.toThrow();
    expect(events).toContain('fatal');
    expect(s.fatal).toMatch(/cannot write state file/);
    expect(s.stats.granted).toBe(0);
  });
});

describeWithDist('ftcp arbiter (process)', ['cli/arbiter', 'net/arbiter-server', 'net/arbiter-state', 'net/arbiter-wire'], () => {
  it('after SIGKILL and a restart from its state file, never grants an epoch twice', async () => {
    const state = join(dir, 'proc', 'arbiter.json');
    const first = startCli(['arbiter', '--listen', '127.0.0.1:0', '--state', state, '--init']);
    const port = Number((await first.waitFor(/listening on 127\.0\.0\.1:(\d+), state .* \(0 flags, new\)/))[1]);
    const c1 = client({ host: '127.0.0.1', port });
    const won: ArbiterResponse[] = [];
    for (let e = 1; e <= 5; e++) won.push(await c1.testAndSet(e, e % 2 === 0 ? 'a' : 'b'));
    expect(won.map((w) => w.winner)).toEqual(['b', 'a', 'b', 'a', 'b']);
    // Killed without warning, right after answering.
    expect(await stopProc(first, 'SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    c1.close();

    // Restarted (no --init) on the same port: the same answers to everyone, and new epochs still free.
    const second = startCli(['arbiter', '--listen', `127.0.0.1:${port}`, '--state', state]);
    await second.waitFor(/listening on 127\.0\.0\.1:\d+, state .* \(5 flags\)/);
    const c2 = client({ host: '127.0.0.1', port });
    for (let e = 1; e <= 5; e++) {
      const other = won[e - 1]!.winner === 'a' ? 'b' : 'a';
      const r = await c2.testAndSet(e, other);
      expect(r.winner, `epoch ${e}`).toBe(won[e - 1]!.winner);
    }
    expect((await c2.testAndSet(6, 'a')).winner).toBe('a');
    expect(await stopProc(second, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect(second.stdout()).toMatch(/answered epoch 3 of 192\.0\.2\.10 to a: lost, won by b/);
    expect(second.stdout()).toMatch(/requests 6: granted 1, lost 5, repeats 0/);
    expect(ArbiterState.open(state).all().map((f) => `${f.epoch}:${f.winner}`)).toEqual(['1:b', '2:a', '3:b', '4:a', '5:b', '6:a']);
  });

  it('killed with SIGKILL between grants, its file then given a torn last line, restarts with every answered grant and no other', async () => {
    const state = join(dir, 'proc-torn', 'arbiter.json');
    const first = startCli(['arbiter', '--listen', '127.0.0.1:0', '--state', state, '--init']);
    const port = Number((await first.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    const c1 = client({ host: '127.0.0.1', port });
    const won: string[] = [];
    for (let e = 1; e <= 4; e++) won.push((await c1.testAndSet(e, e % 2 === 0 ? 'a' : 'b')).winner);
    expect(await stopProc(first, 'SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    c1.close();
    // As if the kernel had kept part of a fifth grant's write when the process died mid-append.
    const tail = '{"service":"192.0.2.10","epoch":5,"winner":"b","grantedAt":"2026-';
    appendFileSync(state, tail);

    const second = startCli(['arbiter', '--listen', `127.0.0.1:${port}`, '--state', state]);
    await second.waitFor(new RegExp(`\\(4 flags\\), its torn last line \\(${tail.length} B of a grant never answered\\) dropped`));
    const c2 = client({ host: '127.0.0.1', port });
    for (let e = 1; e <= 4; e++) expect((await c2.testAndSet(e, won[e - 1] === 'a' ? 'b' : 'a')).winner, `epoch ${e}`).toBe(won[e - 1]);
    // Epoch 5 was never answered: it is free, and goes to whoever asks first now.
    expect((await c2.testAndSet(5, 'a')).winner).toBe('a');
    expect(await stopProc(second, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect(second.stdout()).toMatch(/requests 5: granted 1, lost 4, repeats 0/);
    expect(readFileSync(state, 'utf8')).not.toContain('"grantedAt":"2026-\n');
    expect(ArbiterState.open(state).all().map((f) => `${f.epoch}:${f.winner}`)).toEqual(['1:b', '2:a', '3:b', '4:a', '5:a']);
  });

  it('killed with SIGKILL in the middle of a stream of requests, keeps every answer it gave after the restart', async () => {
    const state = join(dir, 'proc-stream', 'arbiter.json');
    const first = startCli(['arbiter', '--listen', '127.0.0.1:0', '--state', state, '--init']);
    const port = Number((await first.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    // Two replicas race for epochs 1..200 through the fire-and-forget interface, like Replica.pollArbiter().
    const answered = new Map<number, string>();
    const racers = ['a', 'b'].map((name) => {
      const c = client({ host: '127.0.0.1', port }, { reconnectDelayMs: 1000 });
      c.onResponse((_bytes, r) => {
        const seen = answered.get(r.epoch);
        if (seen !== undefined && seen !== r.winner) throw new Error(`epoch ${r.epoch} answered ${seen} and ${r.winner}`);
        answered.set(r.epoch, r.winner);
      });
      return { name, c };
    });
    // Connected first (requests made while connecting wait in a small bounded queue).
    for (const { name, c } of racers) await c.testAndSet(1000, name);
    for (let e = 1; e <= 200; e++) for (const { name, c } of racers) c.send({ type: 'request', id: e, epoch: e, replica: name });
    await until(() => answered.size >= 30, 10_000, 'some answers');
    await stopProc(first, 'SIGKILL');
    for (const { c } of racers) c.close();
    answered.delete(1000); // the warm-up
    const before = new Map(answered);
    expect(before.size).toBeGreaterThan(0);

    const second = startCli(['arbiter', '--listen', `127.0.0.1:${port}`, '--state', state]);
    await second.waitFor(/listening on/);
    const c = client({ host: '127.0.0.1', port });
    await c.testAndSet(1001, 'c'); // connected first, as above
    // A third replica asks for every epoch: wherever an answer went out, it names the same winner.
    const after = await Promise.all(Array.from({ length: 200 }, (_, i) => c.testAndSet(i + 1, 'c', { timeoutMs: 20_000, retryMs: 10_000 })));
    for (const r of after) {
      const was = before.get(r.epoch);
      if (was !== undefined) expect(r.winner, `epoch ${r.epoch}`).toBe(was);
    }
    const granted = ArbiterState.open(state).all();
    const persistedBeforeKill = granted.filter((f) => f.winner !== 'c' && f.epoch <= 200).length;
    expect(persistedBeforeKill).toBeGreaterThanOrEqual(before.size);
    await stopProc(second, 'SIGTERM');
    console.log(`arbiter killed mid-stream: ${before.size} answers seen, ${persistedBeforeKill} flags on disk at the kill, all ${before.size} kept`);
  });

  it('refuses a corrupt state file, a missing one and a port in use with one line each and a non-zero exit', async () => {
    const corrupt = join(dir, 'proc-corrupt.json');
    writeFileSync(corrupt, '{"format":"ftcp-arbiter-state","version":1,"flags":[],"crc32":"00000000"}');
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    closers.push(() => new Promise<void>((r) => busy.close(() => r())));
    const busyPort = (busy.address() as net.AddressInfo).port;
    const okState = join(dir, 'proc-ok.json');
    const cases: Array<[string[], number, RegExp]> = [
      [['arbiter', '--listen', '127.0.0.1:0', '--state', corrupt], 1, /^error: ftcp arbiter: state file .* is corrupt \(CRC-32 is "00000000", the flags give "[0-9a-f]{8}"\); refusing to start/],
      [['arbiter', '--listen', '127.0.0.1:0', '--state', join(dir, 'nope.json')], 2, /^error: ftcp arbiter: state file .*nope\.json does not exist; for a new arbiter add --init/],
      [['arbiter', '--listen', `127.0.0.1:${busyPort}`, '--state', okState, '--init'], 4, /^error: ftcp arbiter: 127\.0\.0\.1:\d+ is already in use/],
      [['arbiter', '--listen', '127.0.0.1'], 2, /^error: --listen: expected HOST:PORT/],
      [['arbiter', '--bogus'], 2, /^error: unknown option '--bogus'/],
    ];
    const runs = cases.map(([args]) => startCli(args));
    const exits = await Promise.all(runs.map((p) => p.exited));
    cases.forEach(([args, code, re], i) => {
      const stderr = runs[i]!.stderr();
      expect(exits[i]!.code, `${args.join(' ')}: ${stderr}`).toBe(code);
      expect(stderr.split('\n')[0]).toMatch(re);
    });
    // One line, apart from commander's own "(add --help for usage)" after an unknown option.
    for (const p of runs.slice(0, 4)) expect(p.stderr().trim().split('\n').length, p.stderr()).toBe(1);
    expect(readFileSync(corrupt, 'utf8')).toMatch(/"crc32":"00000000"/); // not reset
    expect(existsSync(okState)).toBe(false); // a failed start leaves no fresh state file behind, so --init works next time
  });
});
