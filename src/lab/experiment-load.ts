/**
 * The load of `ftcp experiment modes --real`: an in-process client stack (bench-client.ts)
 * on the switch, so that the experiment can read each connection's sequence numbers at the
 * kill (what the client holds, to compare with what the survivor had) and time each request.
 *
 *   counter  N connections, each a closed loop of INCR requests: every answer's latency,
 *            every answer (repeats and gaps after a failover);
 *   upload   N connections of the bulk app, each uploading without pause until finish()
 *            then half-closing and reading the server's stream to its end.
 *
 * finish() stops new requests and waits for what is outstanding: a counter connection still
 * waiting for its answer, or an upload without the server's end of stream, is broken.
 */
import type { SocketId } from '../tcp/types.js';
import type { BenchClient } from './bench-client.js';

export type ModesLoadWorkload = 'counter' | 'upload';

/** One connection's sequence numbers, as its client stack has them. */
export interface ConnSnapshot {
  localPort: number;
  state: string;
  /** Sequence space received in order (RCV.NXT - IRS) and acknowledged by the server (SND.UNA - ISS). */
  got: number;
  acked: number;
  /** RCV.NXT and SND.UNA themselves. */
  rcvNxt: number;
  sndUna: number;
}

interface Conn {
  socket: SocketId | undefined;
  /** counter: when the outstanding request went out (performance.now()), or undefined. */
  sentAt: number | undefined;
  pending: string;
  uploaded: number;
  downloaded: number;
  eof: boolean;
  shut: boolean;
  error: string | undefined;
}

const INCR = new TextEncoder().encode('INCR\n');
const CHUNK = new Uint8Array(16 * 1024).fill(0x75);

export class ModesLoad {
  readonly answers: number[] = [];
  /** Request latencies in µs, while `measuring`. */
  readonly latenciesUs: number[] = [];
  measuring = false;
  resets = 0;
  private running = true;
  private readonly conns: Conn[] = [];

  constructor(
    private readonly client: BenchClient,
    readonly workload: ModesLoadWorkload,
    readonly connections: number,
  ) {}

  /** Opens every connection and starts its loop. */
  async start(): Promise<void> {
    for (let i = 0; i < this.connections; i++) {
      const c: Conn = { socket: undefined, sentAt: undefined, pending: '', uploaded: 0, downloaded: 0, eof: false, shut: false, error: undefined };
      this.conns.push(c);
      c.socket = await this.client.connect((e) => {
        if (e.type === 'closed') {
          if (e.error !== undefined) {
            c.error = e.error;
            if (e.error === 'ECONNRESET') this.resets++;
          }
          return;
        }
        if (e.type === 'readable' || e.type === 'eof') this.read(c);
        if (e.type === 'eof') c.eof = true;
        if (e.type === 'writable' && this.workload === 'upload') this.pump(c);
      });
      if (this.workload === 'counter') this.send(c);
      else this.pump(c);
    }
  }

  private send(c: Conn): void {
    const s = c.socket!;
    c.sentAt = performance.now();
    this.client.host.act((st, now) => st.write(now, s, INCR));
  }

  private pump(c: Conn): void {
    const s = c.socket!;
    while (this.running && c.error === undefined) {
      const n = this.client.host.act((st, now) => st.write(now, s, CHUNK));
      if (n === 0) return;
      c.uploaded += n;
    }
    if (!this.running && !c.shut && c.error === undefined) {
      c.shut = true;
      this.client.host.act((st, now) => st.shutdown(now, s));
    }
  }

  private read(c: Conn): void {
    const s = c.socket!;
    const chunks: Uint8Array[] = [];
    this.client.host.act((st, now) => {
      for (let r = st.read(now, s); r.length > 0; r = st.read(now, s)) chunks.push(r);
    });
    for (const b of chunks) {
      c.downloaded += b.length;
      if (this.workload === 'counter') c.pending += Buffer.from(b).toString('latin1');
    }
    if (this.workload !== 'counter') return;
    while (c.pending.includes('\n')) {
      const line = c.pending.slice(0, c.pending.indexOf('\n'));
      c.pending = c.pending.slice(line.length + 1);
      const n = Number(line.trim());
      if (Number.isInteger(n)) this.answers.push(n);
      if (this.measuring && c.sentAt !== undefined) this.latenciesUs.push((performance.now() - c.sentAt) * 1000);
      c.sentAt = undefined;
      if (this.running && c.error === undefined) this.send(c);
    }
  }

  /** Every open connection's sequence numbers now. */
  snapshot(): ConnSnapshot[] {
    const out: ConnSnapshot[] = [];
    for (const c of this.conns) {
      if (c.socket === undefined) continue;
      const s = c.socket;
      try {
        const i = this.client.host.act((st) => st.info(s));
        if (i.kind !== 'connection') continue;
        out.push({ localPort: i.localPort, state: i.state, got: (i.rcvNxt - i.irs) >>> 0, acked: (i.sndUna - i.iss) >>> 0, rcvNxt: i.rcvNxt, sndUna: i.sndUna });
      } catch {
        // gone from the stack: closed
      }
    }
    return out;
  }

  /** Payload moved both ways so far (for throughput): answers and downloads read, uploads acknowledged. */
  bytes(): number {
    return this.snapshot().reduce((n, s) => n + s.got + s.acked, 0);
  }

  /**
   * Stops new requests, lets each connection finish (counter: its outstanding answer;
   * upload: half-close, the server's end of stream) until nothing has moved for `settleMs`;
   * returns how many did and how many did not.
   */
  async finish(settleMs: number): Promise<{ intact: number; broken: number; problems: string[] }> {
    this.running = false;
    for (const c of this.conns) if (this.workload === 'upload' && c.socket !== undefined) this.pump(c);
    const done = (c: Conn) => c.error === undefined && (this.workload === 'counter' ? c.sentAt === undefined : c.eof);
    // An upload drains its send buffer first: a connection is stuck only when it stops moving.
    let moved = this.bytes();
    let lastMove = performance.now();
    const giveUp = performance.now() + 20 * settleMs;
    while (!this.conns.every((c) => done(c) || c.error !== undefined) && performance.now() - lastMove < settleMs && performance.now() < giveUp) {
      await new Promise((r) => setTimeout(r, 20));
      const now = this.bytes();
      if (now !== moved) [moved, lastMove] = [now, performance.now()];
    }
    const problems: string[] = [];
    this.conns.forEach((c, i) => {
      if (done(c)) return;
      problems.push(`connection ${i}: ${c.error !== undefined ? `ended with ${c.error}` : this.workload === 'counter' ? `no answer to its last request, nothing moving for ${settleMs} ms` : `no end of the server's stream, nothing moving for ${settleMs} ms (${c.uploaded} bytes uploaded)`}`);
    });
    for (const c of this.conns) {
      const s = c.socket;
      if (s === undefined || c.error !== undefined) continue;
      try {
        this.client.host.act((st, now) => st.close(now, s));
      } catch {
        // already gone
      }
    }
    return { intact: this.conns.filter(done).length, broken: this.conns.filter((c) => !done(c)).length, problems };
  }
}
