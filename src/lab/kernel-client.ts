/**
 * The kernel as the client: a load generator on real kernel sockets (Node's
 * `net`), run inside the project's network namespace, where the kernel routes the service
 * address through the TUN device to the replicas. It speaks the built-in apps' protocols
 * (src/proxy/app.ts) and checks every byte, like the ftcp client (load-client.ts):
 *
 * - counter: `INCR\n` per request; across all connections the answers are exactly 1..K;
 * - echo: random bytes, each request read back whole and compared;
 * - kv: `SET k v` then `GET k` per request, answered OK and v;
 * - bulk: uploads a seeded stream and half-closes, while reading the server's seeded
 *   download, recognised from its first bytes (bulkConnFromHead) and checked byte by byte;
 *   reports the upload's SHA-256 per server connection, to compare with the server app's.
 *
 * A connection the kernel reports reset (ECONNRESET) counts as reset.
 */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import type { AppName } from '../proxy/app.js';
import { streamBytes, streamMismatch } from '../proxy/stream.js';
import { BULK_HEAD_BYTES, bulkConnFromHead } from '../sim/cluster-load.js';
import { deriveSeed } from '../tcp/seed.js';
import { Prng } from '../tcp/prng.js';

export interface KernelLoadOptions {
  host: string;
  port: number;
  app: AppName;
  connections: number;
  seed: number;
  requests: [number, number];
  thinkMs: [number, number];
  bulkBytes: number;
  uploadBytes: [number, number];
}

export interface KernelConnResult {
  index: number;
  localPort: number | null;
  intact: boolean;
  reset: boolean;
  bytesReceived: number;
  requests: number;
  error?: string;
}

class StreamReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private waiter: (() => void) | undefined;
  ended = false;
  error: Error | undefined;

  push(d: Buffer): void {
    this.chunks.push(d);
    this.length += d.length;
    this.wake();
  }

  end(error?: Error): void {
    this.ended = true;
    this.error ??= error;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private take(n: number): Buffer {
    const all = Buffer.concat(this.chunks);
    this.chunks = [all.subarray(n)];
    this.length -= n;
    return all.subarray(0, n);
  }

  private async more(what: string): Promise<void> {
    if (this.ended) throw this.error ?? new Error(`the server closed before ${what}`);
    await new Promise<void>((r) => (this.waiter = r));
  }

  async exactly(n: number): Promise<Buffer> {
    while (this.length < n) await this.more(`${n} bytes`);
    return this.take(n);
  }

  async line(): Promise<string> {
    for (;;) {
      const all = Buffer.concat(this.chunks);
      this.chunks = [all];
      const nl = all.indexOf(0x0a);
      if (nl >= 0) return this.take(nl + 1).toString('latin1').replace(/\r?\n$/, '');
      await this.more('a line');
    }
  }

  /** Waits for the server's FIN; what arrived before it must be nothing. */
  async eof(): Promise<number> {
    while (!this.ended) await this.more('its FIN');
    if (this.error !== undefined) throw this.error;
    return this.length;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class KernelLoad {
  readonly counterAnswers: number[] = [];
  readonly results: KernelConnResult[] = [];
  readonly uploads: Array<{ conn: number | null; bytes: number; sha256: string | null }> = [];
  bytesReceived = 0;
  settled = 0;
  private watch: (() => void) | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Connections not finished yet, for a result taken early (a timeout). */
  private readonly open = new Map<number, KernelConnResult>();
  private readonly bulkSeed: number;

  constructor(readonly o: KernelLoadOptions) {
    this.bulkSeed = deriveSeed(o.seed, 'bulk');
  }

  /** Calls `fn` once, at the first byte read after this call. */
  watchReads(fn: () => void): void {
    this.watch = fn;
  }

  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.o.connections }, (_, i) => sleep(i * 10).then(() => this.runConn(i))));
  }

  private async runConn(index: number): Promise<void> {
    const rng = new Prng(deriveSeed(this.o.seed, 'kernel-conn', index));
    const range = ([lo, hi]: [number, number]) => lo + (hi > lo ? rng.nextU32() % (hi - lo + 1) : 0);
    const r: KernelConnResult = { index, localPort: null, intact: false, reset: false, bytesReceived: 0, requests: 0 };
    this.open.set(index, r);
    const reader = new StreamReader();
    // Half-open: a server that has sent its whole download half-closes while the upload still
    // runs (the kernel server does); Node would otherwise end this side at its FIN.
    const socket = net.connect({ host: this.o.host, port: this.o.port, allowHalfOpen: true });
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      r.bytesReceived += d.length;
      this.bytesReceived += d.length;
      const w = this.watch;
      this.watch = undefined;
      w?.();
      reader.push(d);
    });
    socket.on('end', () => reader.end());
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET') r.reset = true;
      reader.end(e);
    });
    const write = (b: Buffer | string) => new Promise<void>((resolve, reject) => socket.write(b, (e) => (e ? reject(e) : resolve())));
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      r.localPort = socket.localPort ?? null;
      if (this.o.app === 'bulk') {
        await this.bulk(index, socket, reader, r);
      } else {
        const n = range(this.o.requests);
        let last = 0;
        for (let i = 0; i < n; i++) {
          if (this.o.app === 'counter') {
            await write('INCR\n');
            const line = await reader.line();
            const v = /^\d+$/.test(line) ? Number(line) : NaN;
            if (!(v > last)) throw new Error(`counter: answer ${JSON.stringify(line)} after ${last}`);
            last = v;
            this.counterAnswers.push(v);
          } else if (this.o.app === 'echo') {
            const req = Buffer.from(Array.from({ length: range([1, 2000]) }, () => rng.nextU32() & 0xff));
            await write(req);
            const back = await reader.exactly(req.length);
            if (!back.equals(req)) throw new Error(`echo: request ${i} came back different`);
          } else {
            const key = `k${index}-${i}`;
            const value = `v${rng.nextU32().toString(16)}`;
            await write(`SET ${key} ${value}\nGET ${key}\n`);
            const ok = await reader.line();
            const got = await reader.line();
            if (ok !== 'OK' || got !== value) throw new Error(`kv: SET/GET ${key} answered ${JSON.stringify(ok)}, ${JSON.stringify(got)} (want OK, ${value})`);
          }
          r.requests++;
          await sleep(range(this.o.thinkMs));
        }
        socket.end();
        const extra = await reader.eof();
        if (extra > 0) throw new Error(`${extra} unexpected bytes before the server's FIN`);
      }
      r.intact = true;
    } catch (error) {
      r.error = error instanceof Error ? error.message : String(error);
    } finally {
      socket.destroy();
      this.sockets.delete(socket);
      this.open.delete(index);
      this.results.push(r);
      this.settled++;
    }
  }

  private async bulk(index: number, socket: net.Socket, reader: StreamReader, r: KernelConnResult): Promise<void> {
    const rng = new Prng(deriveSeed(this.o.seed, 'kernel-upload', index));
    const [lo, hi] = this.o.uploadBytes;
    const total = lo + (hi > lo ? rng.nextU32() % (hi - lo + 1) : 0);
    const upSeed = deriveSeed(this.o.seed, 'kernel-upload-stream', index);
    const hash = createHash('sha256');
    const upload = (async () => {
      for (let off = 0; off < total; off += 65536) {
        const chunk = Buffer.from(streamBytes(upSeed, off, Math.min(65536, total - off)));
        hash.update(chunk);
        if (!socket.write(chunk)) await new Promise<void>((res) => socket.once('drain', res));
      }
      socket.end();
    })();
    upload.catch(() => undefined); // its error also ends the reader
    const upload$ = { conn: null as number | null, bytes: total, sha256: null as string | null };
    this.uploads.push(upload$);
    const head = await reader.exactly(Math.min(BULK_HEAD_BYTES, this.o.bulkBytes));
    const conn = bulkConnFromHead(this.bulkSeed, head, 4 * this.o.connections + 64);
    if (conn === undefined) throw new Error('bulk: the download matches no server connection\'s stream');
    upload$.conn = conn;
    const seed = (this.bulkSeed + conn) >>> 0;
    if (streamMismatch(seed, 0, head) >= 0) throw new Error('bulk: the first bytes differ');
    let offset = head.length;
    while (offset < this.o.bulkBytes) {
      const chunk = await reader.exactly(Math.min(65536, this.o.bulkBytes - offset));
      const bad = streamMismatch(seed, offset, chunk);
      if (bad >= 0) throw new Error(`bulk: download byte ${offset + bad} differs`);
      offset += chunk.length;
    }
    await upload;
    upload$.sha256 = hash.digest('hex');
    const extra = await reader.eof();
    if (extra > 0) throw new Error(`bulk: ${extra} bytes beyond the ${this.o.bulkBytes} of the download`);
    r.requests = 1;
  }

  /** Destroys the connections still open (a timeout). */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** The result line's fields (the ftcp client's, with the kernel's counters unknown here). */
  result(): { ok: boolean; streams: { intact: number; broken: number }; resets: number; counter?: { count: number; consecutive: boolean }; uploads?: KernelLoad['uploads']; problems: string[]; bytesReceived: number; conns: KernelConnResult[] } {
    const unfinished = [...this.open.values()].map((c) => ({ ...c, error: `stalled: not finished after ${c.requests} request(s), ${c.bytesReceived} bytes received` }));
    const conns = [...this.results, ...unfinished].sort((a, b) => a.index - b.index);
    for (let i = 0; i < this.o.connections; i++) if (!conns.some((c) => c.index === i)) conns.push({ index: i, localPort: null, intact: false, reset: false, bytesReceived: 0, requests: 0, error: 'stalled: never started' });
    const problems = conns.filter((c) => !c.intact).map((c) => `connection ${c.index} (client port ${c.localPort ?? '?'}): ${c.error ?? 'not intact'}`);
    const intact = conns.filter((c) => c.intact).length;
    const out: ReturnType<KernelLoad['result']> = { ok: false, streams: { intact, broken: conns.length - intact }, resets: conns.filter((c) => c.reset).length, problems, bytesReceived: this.bytesReceived, conns };
    if (this.o.app === 'counter') {
      const sorted = [...this.counterAnswers].sort((x, y) => x - y);
      const consecutive = sorted.every((v, i) => v === i + 1);
      out.counter = { count: sorted.length, consecutive };
      if (!consecutive) problems.push(`counter: the answers are not exactly 1..${sorted.length}`);
    }
    if (this.o.app === 'bulk') out.uploads = this.uploads;
    out.ok = problems.length === 0;
    return out;
  }
}

/**
 * The kernel as the server: echo, or bulk the way the replicas' bulk app does it (connection
 * n, the n-th accepted from 1, gets bytes [0, bulkBytes) of the stream seeded bulkSeed + n;
 * the upload is hashed and reported at the client's FIN), so the ftcp client's bulk check
 * (bulkConnFromHead) works against it unchanged.
 */
export class KernelServer {
  accepted = 0;
  onUpload: ((u: { conn: number; bytes: number; sha256: string }) => void) | undefined;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly bulkSeed: number;

  constructor(readonly o: { app: 'echo' | 'bulk'; seed: number; bulkBytes: number }) {
    this.bulkSeed = deriveSeed(o.seed, 'bulk');
  }

  listen(host: string, port: number): Promise<void> {
    // Half-open: a client that has uploaded everything half-closes while the download still
    // runs; Node would otherwise end this side at the client's FIN, cutting the download short.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => this.serve(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  private serve(socket: net.Socket): void {
    const conn = ++this.accepted;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (this.o.app === 'echo') {
      socket.pipe(socket);
      return;
    }
    const hash = createHash('sha256');
    let received = 0;
    socket.on('data', (d: Buffer) => {
      hash.update(d);
      received += d.length;
    });
    socket.on('end', () => this.onUpload?.({ conn, bytes: received, sha256: hash.digest('hex') }));
    void (async () => {
      const seed = (this.bulkSeed + conn) >>> 0;
      for (let off = 0; off < this.o.bulkBytes && !socket.destroyed; off += 65536) {
        if (!socket.write(Buffer.from(streamBytes(seed, off, Math.min(65536, this.o.bulkBytes - off))))) await new Promise<void>((r) => socket.once('drain', r));
      }
      socket.end();
    })();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server === undefined ? r() : this.server.close(() => r())));
  }
}
