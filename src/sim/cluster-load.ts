/**
 * Client load for a cluster run: N connections from one client host (an ftcp stack) to
 * the service address, each driving one built-in app and checking every byte it gets:
 *
 *   echo     random binary requests; the answer must be exactly the request
 *   counter  `INCR` lines; each answer must be a number above the last one on this
 *            connection, and across all connections the answers must be exactly 1..K
 *   kv       SET/GET on keys of its own; every answer must match the client's model
 *   bulk     uploads a seeded stream then half-closes; the download must be exactly the
 *            server's seeded stream for that connection (the upload's SHA-256 is compared
 *            with the server app's digest at the end of the run)
 *
 * Requests are paced: one outstanding request per connection, a seeded think time between
 * answers, so that the primary's crash lands in the middle of the conversation.
 */
import { createHash } from 'node:crypto';
import { APP_NAMES, type AppName } from '../proxy/app.js';
import { streamBytes } from '../proxy/stream.js';
import { Prng } from '../tcp/prng.js';
import type { Stack } from '../tcp/stack.js';
import type { SocketId, StackEvent } from '../tcp/types.js';
import type { Ipv4Addr } from '../wire/addr.js';
import { deriveSeed } from '../tcp/seed.js';
import type { SimTask } from './world.js';

/**
 * What the load needs of its surroundings, so that the same load runs in the simulator
 * (Simulator + Host) and in a real process (src/lab/real-host.ts): tasks at a time, and
 * a host that owns the client stack and drains it after every socket call.
 */
export interface LoadScheduler {
  schedule(timeUs: number, task: SimTask): void;
}
export interface LoadHost {
  readonly stack: Stack;
  readonly nowUs: number;
  act<R>(fn: (stack: Stack, nowUs: number) => R): R;
  onEvent: ((host: never, event: StackEvent) => void) | undefined;
}

/**
 * What a load speaks: a built-in app's protocol, HTTP/1.1 keep-alive (an upstream HTTP
 * server), or RESP to a real redis-server (real processes only; its
 * connections are made by src/lab/redis-load.ts through ClientLoad's `makeConn`).
 */
export type LoadApp = AppName | 'http' | 'redis';
export const LOAD_APPS: readonly LoadApp[] = [...APP_NAMES, 'http', 'redis'];

export interface LoadOptions {
  app: LoadApp;
  connections: number;
  /** The run seed; every connection's randomness is derived from it. */
  seed: number;
  service: Ipv4Addr;
  port: number;
  /** Requests per line-app connection: uniform in [min, max]. */
  requests: [number, number];
  /** Think time between an answer and the next request, µs: uniform in [min, max]. */
  thinkUs: [number, number];
  /** Connections start at a uniform time in [0, startSpreadUs]. */
  startSpreadUs: number;
  /** bulk: the server app's seed and download size; the upload size range. */
  bulkSeed: number;
  bulkBytes: number;
  uploadBytes: [number, number];
  /**
   * Request/response loads: the client shuts its side down a think time after its last
   * request, answered or not (by default it waits for the answer, then thinks). Against a
   * server that closes after the last answer, the two FINs cross: a simultaneous close.
   */
  closeAfterLastRequest?: boolean;
  /**
   * kv: prefix of every key this load uses (default none). Loads that follow one another
   * against one server (the soak's rounds) each take their own, so a round's model of the
   * store starts empty and is right.
   */
  kvKeyPrefix?: string;
  /**
   * kv: after its planned requests each connection deletes every key it set (a DEL per key,
   * each answer checked), so that loads following one another against one server (the
   * soak's rounds) leave the store as they found it instead of growing it by every round.
   */
  kvDeleteAtEnd?: boolean;
}

export interface ConnResult {
  index: number;
  localPort: number | undefined;
  /** Every expected byte arrived, in order, the checks passed, and EOF came. */
  intact: boolean;
  reset: boolean;
  error?: string;
  requests: number;
  bytesReceived: number;
}

type Outcome = { kind: 'ok' } | { kind: 'broken'; why: string };

export abstract class ClientConn {
  socket: SocketId | undefined;
  localPort: number | undefined;
  eof = false;
  closeCalled = false;
  reset = false;
  error: string | undefined;
  bytesReceived = 0;
  requestsDone = 0;
  protected shutDown = false;
  protected pendingWrite: Uint8Array | undefined;
  protected readonly rng: Prng;

  constructor(
    readonly index: number,
    protected readonly load: ClientLoad,
    seed: number,
  ) {
    this.rng = new Prng(seed);
  }

  get settled(): boolean {
    return this.error !== undefined || this.reset || (this.eof && this.closeCalled);
  }

  fail(why: string): void {
    this.error ??= why;
  }

  onEvent(event: StackEvent): void {
    const stack = this.load.host.stack;
    const now = this.load.host.nowUs;
    switch (event.type) {
      case 'connected':
        this.localPort = stack.info(event.socket).localPort;
        this.onOpen();
        return;
      case 'writable':
        this.flushWrite();
        if (this.pendingWrite === undefined) this.onWritable();
        return;
      case 'readable':
      case 'eof': {
        for (let d = stack.read(now, event.socket); d.length > 0; d = stack.read(now, event.socket)) {
          this.load.onRead(now, this.bytesReceived);
          this.bytesReceived += d.length;
          if (this.error === undefined) this.onData(d);
        }
        if (event.type === 'eof') {
          this.eof = true;
          const o = this.onEof();
          if (o.kind === 'broken') this.fail(o.why);
          if (!this.closeCalled) {
            this.closeCalled = true;
            stack.close(now, event.socket);
          }
        }
        return;
      }
      case 'closed':
        if (event.error !== undefined) {
          if (event.error === 'ECONNRESET') this.reset = true;
          this.fail(`connection ended with ${event.error}`);
        } else if (!this.eof) {
          this.fail('connection closed before EOF');
        }
        return;
      case 'incoming':
        return;
    }
  }

  /** Write `bytes` (buffered if the send buffer is full). */
  protected send(bytes: Uint8Array): void {
    if (this.socket === undefined) return;
    const n = this.load.host.stack.write(this.load.host.nowUs, this.socket, bytes);
    this.pendingWrite = n < bytes.length ? bytes.subarray(n) : undefined;
  }

  private flushWrite(): void {
    if (this.pendingWrite !== undefined) this.send(this.pendingWrite);
  }

  protected shutdown(): void {
    // A server that closed first: the client closed on its EOF, nothing is left to shut down.
    if (this.shutDown || this.socket === undefined || this.closeCalled) return;
    this.shutDown = true;
    this.load.host.stack.shutdown(this.load.host.nowUs, this.socket);
  }

  /** Run `fn` after a seeded think time, as a socket call on the client host. */
  protected later(fn: () => void): void {
    const [lo, hi] = this.load.options.thinkUs;
    const at = this.load.host.nowUs + lo + this.rng.below(hi - lo + 1);
    this.load.sim.schedule(at, {
      kind: 'client',
      target: `client conn ${this.index}`,
      run: () => {
        if (this.error !== undefined || this.reset) return;
        this.load.host.act(() => fn());
      },
    });
  }

  protected abstract onOpen(): void;
  protected onWritable(): void {}
  protected abstract onData(data: Uint8Array): void;
  protected abstract onEof(): Outcome;
}

/** Request/response over lines (counter, kv) or raw bytes (echo). */
export abstract class RequestConn extends ClientConn {
  protected total: number;
  protected answered = 0;
  constructor(index: number, load: ClientLoad, seed: number) {
    super(index, load, seed);
    const [lo, hi] = load.options.requests;
    this.total = lo + this.rng.below(hi - lo + 1);
  }
  protected onOpen(): void {
    this.next();
  }
  private sentAtUs = 0;
  protected next(): void {
    if (this.requestsDone >= this.total) {
      this.shutdown();
      return;
    }
    this.requestsDone++;
    this.sentAtUs = this.load.host.nowUs;
    this.send(this.request());
    if (this.requestsDone >= this.total && this.load.options.closeAfterLastRequest === true) this.later(() => this.shutdown());
  }
  /** One answer complete: think, then the next request. */
  protected answeredOne(): void {
    this.answered++;
    this.load.latenciesUs.push(this.load.host.nowUs - this.sentAtUs);
    this.later(() => this.next());
  }
  protected abstract request(): Uint8Array;
  protected onEof(): Outcome {
    if (this.answered < this.total) return { kind: 'broken', why: `EOF after ${this.answered} of ${this.total} answers` };
    return { kind: 'ok' };
  }
}

class EchoConn extends RequestConn {
  private expected: Uint8Array = new Uint8Array(0);
  private got = 0;
  protected request(): Uint8Array {
    const n = 1 + this.rng.below(3000);
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.rng.below(256);
    this.expected = b;
    this.got = 0;
    return b;
  }
  protected onData(data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      if (this.got >= this.expected.length) return this.fail(`echo: ${data.length - i} unexpected extra bytes after request ${this.requestsDone}`);
      if (data[i] !== this.expected[this.got]) {
        return this.fail(`echo: request ${this.requestsDone} byte ${this.got} is 0x${data[i]!.toString(16)}, sent 0x${this.expected[this.got]!.toString(16)}`);
      }
      this.got++;
    }
    if (this.got === this.expected.length && this.expected.length > 0) {
      this.expected = new Uint8Array(0);
      this.answeredOne();
    }
  }
}

abstract class LineConn extends RequestConn {
  private buf = '';
  protected onData(data: Uint8Array): void {
    for (const b of data) this.buf += String.fromCharCode(b);
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0 && this.error === undefined) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (this.answered >= this.requestsDone) return this.fail(`unsolicited line ${JSON.stringify(line)}`);
      const why = this.check(line);
      if (why !== undefined) return this.fail(why);
      this.answeredOne();
    }
  }
  protected override onEof(): Outcome {
    if (this.buf !== '') return { kind: 'broken', why: `EOF after a partial line ${JSON.stringify(this.buf)}` };
    return super.onEof();
  }
  protected abstract check(line: string): string | undefined;
}

class CounterConn extends LineConn {
  private last = 0;
  protected request(): Uint8Array {
    return new TextEncoder().encode('INCR\n');
  }
  protected check(line: string): string | undefined {
    const v = /^\d+$/.test(line) ? Number(line) : NaN;
    if (!(v > this.last)) return `counter: answer ${JSON.stringify(line)} after ${this.last} (answers must increase)`;
    this.last = v;
    this.load.counterAnswers.push(v);
    return undefined;
  }
}

class KvConn extends LineConn {
  private readonly model = new Map<string, string>();
  private expect = '';
  /** kvDeleteAtEnd: the planned requests are done; each further one deletes a key this connection set. */
  private deleting = false;
  protected override next(): void {
    if (this.load.options.kvDeleteAtEnd === true && this.requestsDone >= this.total && this.model.size > 0) {
      this.total++;
      this.deleting = true;
    }
    super.next();
  }
  protected request(): Uint8Array {
    if (this.deleting) {
      const key = this.model.keys().next().value as string;
      this.model.delete(key);
      this.expect = '1';
      return new TextEncoder().encode(`DEL ${key}\n`);
    }
    const key = `${this.load.options.kvKeyPrefix ?? ''}c${this.index}k${this.rng.below(5)}`;
    if (this.rng.below(2) === 0) {
      const value = `v${this.rng.nextU32().toString(36)}`;
      this.model.set(key, value);
      this.expect = 'OK';
      return new TextEncoder().encode(`SET ${key} ${value}\n`);
    }
    this.expect = this.model.get(key) ?? 'NIL';
    return new TextEncoder().encode(`GET ${key}\n`);
  }
  protected check(line: string): string | undefined {
    return line === this.expect ? undefined : `kv: request ${this.requestsDone} answered ${JSON.stringify(line)}, expected ${JSON.stringify(this.expect)}`;
  }
}

/**
 * HTTP/1.1 keep-alive: request r of connection c is `GET /c<c>/r<r>`; the upstream server
 * answers 200 with the body `/c<c>/r<r>\n` (src/lab/upstream-servers.ts, the simulator's
 * fake). Every response must come once, whole, in order: its body names its request.
 */
class HttpConn extends RequestConn {
  private buf = '';
  private path = '';
  protected request(): Uint8Array {
    this.path = `/c${this.index}/r${this.requestsDone}`;
    return new TextEncoder().encode(`GET ${this.path} HTTP/1.1\r\nHost: ftcp\r\n\r\n`);
  }
  protected onData(data: Uint8Array): void {
    for (const b of data) this.buf += String.fromCharCode(b);
    for (;;) {
      const head = this.buf.indexOf('\r\n\r\n');
      if (head < 0 || this.error !== undefined) return;
      const lines = this.buf.slice(0, head).split('\r\n');
      const length = Number(/^content-length:\s*(\d+)$/im.exec(lines.slice(1).join('\n'))?.[1] ?? NaN);
      if (!/^HTTP\/1\.1 200 /.test(lines[0] ?? '')) return this.fail(`http: request ${this.requestsDone}: status line ${JSON.stringify(lines[0])}`);
      if (!Number.isSafeInteger(length)) return this.fail(`http: request ${this.requestsDone}: no Content-Length`);
      if (this.buf.length < head + 4 + length) return;
      const body = this.buf.slice(head + 4, head + 4 + length);
      this.buf = this.buf.slice(head + 4 + length);
      if (this.answered >= this.requestsDone) return this.fail(`http: an unsolicited response ${JSON.stringify(body)}`);
      if (body !== `${this.path}\n`) return this.fail(`http: request ${this.requestsDone} (${this.path}) answered ${JSON.stringify(body)}`);
      this.answeredOne();
    }
  }
  protected override onEof(): Outcome {
    if (this.buf !== '') return { kind: 'broken', why: `http: EOF after a partial response ${JSON.stringify(this.buf.slice(0, 60))}` };
    return super.onEof();
  }
}

class BulkConn extends ClientConn {
  readonly uploadBytes: number;
  readonly uploadSeed: number;
  uploaded = 0;
  readonly uploadHash = createHash('sha256');
  uploadSha256: string | undefined;
  private downloaded = 0;
  constructor(index: number, load: ClientLoad, seed: number) {
    super(index, load, seed);
    const [lo, hi] = load.options.uploadBytes;
    this.uploadBytes = lo + this.rng.below(hi - lo + 1);
    this.uploadSeed = deriveSeed(seed, 'upload');
  }
  protected onOpen(): void {
    this.pump();
  }
  protected override onWritable(): void {
    this.pump();
  }
  private pump(): void {
    while (this.uploaded < this.uploadBytes && this.pendingWrite === undefined) {
      const n = Math.min(16_384, this.uploadBytes - this.uploaded);
      const chunk = streamBytes(this.uploadSeed, this.uploaded, n);
      this.uploadHash.update(chunk);
      this.uploaded += n;
      this.send(chunk);
    }
    if (this.uploaded >= this.uploadBytes && this.pendingWrite === undefined && !this.shutDown) {
      this.uploadSha256 = this.uploadHash.digest('hex');
      this.requestsDone = 1;
      this.shutdown();
    }
  }
  private head: Uint8Array | undefined;
  private conn: number | undefined;
  /** The server connection this download comes from, once known. */
  get serverConn(): number | undefined {
    return this.conn;
  }
  protected onData(data: Uint8Array): void {
    if (this.conn === undefined) {
      // Wait for BULK_HEAD_BYTES (or EOF) to know which server stream this is.
      const head = concatBytes(this.head, data);
      this.head = head;
      if (head.length < BULK_HEAD_BYTES && head.length < this.load.options.bulkBytes) return;
      this.checkDownload();
      return;
    }
    this.checkDownload(data);
  }
  /** Checks `data` (or the held head, once the stream is known) against the server's stream. */
  private checkDownload(data?: Uint8Array): void {
    if (this.conn === undefined) {
      const head = this.head ?? new Uint8Array(0);
      this.head = undefined;
      this.conn = this.localPort === undefined ? undefined : this.load.serverConnOf(this.localPort, head);
      if (this.conn === undefined) return this.fail('bulk: data from a server connection no replica accepted');
      data = head;
    }
    const conn = this.conn;
    data ??= new Uint8Array(0);
    const want = streamBytes((this.load.options.bulkSeed + conn) >>> 0, this.downloaded, data.length);
    for (let i = 0; i < data.length; i++) {
      if (this.downloaded + i >= this.load.options.bulkBytes) return this.fail('bulk: more bytes than the server sends');
      if (data[i] !== want[i]) return this.fail(`bulk: download byte ${this.downloaded + i} differs from the server's stream`);
    }
    this.downloaded += data.length;
  }
  protected onEof(): Outcome {
    if (this.head !== undefined && this.error === undefined) this.checkDownload();
    if (this.downloaded !== this.load.options.bulkBytes) return { kind: 'broken', why: `bulk: EOF after ${this.downloaded} of ${this.load.options.bulkBytes} bytes` };
    return { kind: 'ok' };
  }
}

/** Bytes of a bulk download a real client looks at to recognise its server stream. */
export const BULK_HEAD_BYTES = 32;

function concatBytes(a: Uint8Array | undefined, b: Uint8Array): Uint8Array {
  if (a === undefined || a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * The server connection number whose bulk stream starts with `head` (the bulk app sends
 * connection n the stream of seed + n), searched among 1..maxConn; undefined if none or
 * more than one match.
 */
export function bulkConnFromHead(bulkSeed: number, head: Uint8Array, maxConn: number): number | undefined {
  let found: number | undefined;
  for (let conn = 1; conn <= maxConn; conn++) {
    const want = streamBytes((bulkSeed + conn) >>> 0, 0, head.length);
    let same = true;
    for (let i = 0; i < head.length && same; i++) same = want[i] === head[i];
    if (!same) continue;
    if (found !== undefined) return undefined;
    found = conn;
  }
  return found;
}

export class ClientLoad {
  readonly conns: ClientConn[] = [];
  /** Every counter answer, in arrival order. */
  readonly counterAnswers: number[] = [];
  /** Request/response loads: each answer's latency, µs from the request's write to its last byte read. */
  readonly latenciesUs: number[] = [];
  private readonly bySocket = new Map<SocketId, ClientConn>();
  /** "Client resumed": called once, on the first client read after watchReads() was called. */
  private resumed: ((nowUs: number, offset: number) => void) | undefined;
  /** Called at every client read (any connection): a real client's record of its reads (src/lab/read-gaps.ts). */
  everyRead: ((nowUs: number) => void) | undefined;

  constructor(
    readonly sim: LoadScheduler,
    readonly host: LoadHost,
    readonly options: LoadOptions,
    /**
     * The server's connection number for a client port (it seeds the bulk download). A
     * real client cannot ask the server: it passes `head`, the first bytes of the
     * download, to recognise the stream (bulkConnFromHead).
     */
    readonly serverConnOf: (clientPort: number, head: Uint8Array) => number | undefined,
    /** Makes the connections of a load whose protocol lives outside src/sim (redis). */
    makeConn?: (index: number, load: ClientLoad, seed: number) => ClientConn,
  ) {
    if (options.app === 'redis' && makeConn === undefined) throw new Error('the redis load needs its connections from src/lab/redis-load.ts (real processes only)');
    for (let i = 0; i < options.connections; i++) {
      const seed = deriveSeed(options.seed, 'client-conn', i);
      const conn =
        makeConn !== undefined
          ? makeConn(i, this, seed)
          : options.app === 'echo'
          ? new EchoConn(i, this, seed)
          : options.app === 'counter'
            ? new CounterConn(i, this, seed)
            : options.app === 'kv'
              ? new KvConn(i, this, seed)
              : options.app === 'http'
                ? new HttpConn(i, this, seed)
                : new BulkConn(i, this, seed);
      this.conns.push(conn);
    }
    host.onEvent = (_h, event) => this.bySocket.get(event.socket)?.onEvent(event);
  }

  /** Schedule each connection's connect() at its seeded start time. */
  start(): void {
    const rng = new Prng(deriveSeed(this.options.seed, 'client-starts'));
    for (const conn of this.conns) {
      const at = this.host.nowUs + rng.below(this.options.startSpreadUs + 1);
      this.sim.schedule(at, {
        kind: 'client',
        target: `client conn ${conn.index} connect`,
        run: () =>
          this.host.act((stack, now) => {
            conn.socket = stack.connect(now, { remoteAddress: this.options.service, remotePort: this.options.port });
            this.bySocket.set(conn.socket, conn);
          }),
      });
    }
  }

  /** A client read whose first byte is at `offset` of its connection's stream. */
  onRead(nowUs: number, offset: number): void {
    this.everyRead?.(nowUs);
    const f = this.resumed;
    this.resumed = undefined;
    f?.(nowUs, offset);
  }

  /** Call `fn` at the next client read (any connection), with the stream offset of its first byte. */
  watchReads(fn: (nowUs: number, offset: number) => void): void {
    this.resumed = fn;
  }

  get allSettled(): boolean {
    return this.conns.every((c) => c.settled);
  }

  results(): ConnResult[] {
    return this.conns.map((c) => {
      const r: ConnResult = {
        index: c.index,
        localPort: c.localPort,
        intact: c.error === undefined && !c.reset && c.eof && c.closeCalled,
        reset: c.reset,
        requests: c.requestsDone,
        bytesReceived: c.bytesReceived,
      };
      const error = c.error ?? (c.settled ? undefined : `stalled: the stream never finished (${this.describe(c)})`);
      if (error !== undefined) r.error = error;
      return r;
    });
  }

  private describe(c: ClientConn): string {
    if (c.socket === undefined) return 'never connected';
    try {
      const i = this.host.stack.info(c.socket);
      return `client ${i.state}, read ${c.bytesReceived} B${c.eof ? ' + EOF' : ''}, sndUna ${i.sndUna} sndNxt ${i.sndNxt} rcvNxt ${i.rcvNxt} sndWnd ${i.sndWnd} rcvWnd ${i.rcvWnd} unacked ${i.unacked} readable ${i.readable}`;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  /** Bulk uploads: (server connection, sha256 of what the client sent), for comparison with the server app. */
  uploads(): Array<{ index: number; localPort: number | undefined; conn: number | undefined; bytes: number; sha256: string | undefined }> {
    return this.conns
      .filter((c): c is BulkConn => c instanceof BulkConn)
      .map((c) => ({ index: c.index, localPort: c.localPort, conn: c.serverConn, bytes: c.uploaded, sha256: c.uploadSha256 }));
  }
}
