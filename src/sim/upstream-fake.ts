/**
 * A fake upstream app for cluster runs (DESIGN.md "Upstream apps"): one instance
 * per replica, driven by that replica's UpstreamEvents (open, client bytes, EOF, closed)
 * and answering through Replica.handleUpstream after a delay of virtual time, as a server
 * behind a socket would.
 *
 * Kinds: `echo`, `counter`, `kv` speak the built-in apps' protocols (src/proxy/app.ts), so
 * the cluster's client load checks them byte for byte; the counter is one per instance,
 * shared by every connection, which is what makes the order of client bytes matter.
 * `whoami` answers every line with its replica's name: deliberately nondeterministic
 * across replicas. Behaviour is configurable per replica (a slower one, a counter that
 * starts elsewhere, one that refuses, closes or resets connections).
 */
import { createApp, CounterApp, type App } from '../proxy/app.js';
import type { UpstreamAction, UpstreamEvent } from '../proxy/upstream.js';

export type FakeUpstreamKind = 'echo' | 'counter' | 'kv' | 'http' | 'whoami';

export interface FakeUpstreamBehaviour {
  kind: FakeUpstreamKind;
  /** Virtual time from a client byte (or a connect) to the app's answer, µs. Default 300. */
  delayUs?: number;
  /** counter: the value before the first INCR. Default 0. */
  counterStart?: number;
  /** Refuse every connection: the client gets RST. */
  refuse?: boolean;
  /** Close the connection (EOF) after this many answers. */
  closeAfter?: number;
  /** Reset the connection after this many answers. */
  resetAfter?: number;
}

export interface FakeUpstreamOptions {
  /** Every replica's app. */
  app: FakeUpstreamBehaviour;
  /** Overrides for one replica's instance, by replica name. */
  perReplica?: Record<string, Partial<FakeUpstreamBehaviour>>;
}

/** Where the fake schedules its answers and reports them (the cluster's ReplicaNode). */
export interface FakeUpstreamHost {
  readonly name: string;
  readonly alive: boolean;
  schedule(atUs: number, run: (nowUs: number) => void): void;
  report(nowUs: number, conn: number, action: UpstreamAction): void;
}

/** A fake app's per-connection input buffer and output queue; subclasses answer what came in. */
abstract class QueueApp implements Omit<App, 'name'> {
  private readonly conns = new Map<number, { buf: string; out: number[]; eof: boolean }>();
  /** Consume complete requests from `buf` (latin-1), return the rest and the answer text. */
  protected abstract answer(buf: string): { rest: string; text: string };
  open(conn: number): void {
    this.conns.set(conn, { buf: '', out: [], eof: false });
  }
  receive(conn: number, data: Uint8Array): void {
    const c = this.conns.get(conn);
    if (c === undefined) return;
    for (const b of data) c.buf += String.fromCharCode(b);
    const { rest, text } = this.answer(c.buf);
    c.buf = rest;
    for (let i = 0; i < text.length; i++) c.out.push(text.charCodeAt(i) & 0xff);
  }
  eof(conn: number): void {
    const c = this.conns.get(conn);
    if (c !== undefined) c.eof = true;
  }
  pull(conn: number, max: number): Uint8Array {
    const c = this.conns.get(conn);
    return c === undefined ? new Uint8Array(0) : Uint8Array.from(c.out.splice(0, max));
  }
  wantsClose(conn: number): boolean {
    const c = this.conns.get(conn);
    return c !== undefined && c.eof && c.out.length === 0;
  }
  closed(conn: number): void {
    this.conns.delete(conn);
  }
  snapshot(): unknown {
    return null;
  }
  // Not replicated (each replica runs its own instance): no digest of it either.
  connState(): unknown {
    return undefined;
  }
  sharedDigest(): number {
    return 0;
  }
}

/** `whoami`: every line is answered with the replica's name. */
class WhoamiApp extends QueueApp {
  constructor(private readonly who: string) {
    super();
  }
  protected answer(buf: string): { rest: string; text: string } {
    const lines = buf.split('\n');
    return { rest: lines.pop()!, text: lines.map(() => `${this.who}\n`).join('') };
  }
}

/** `http`: HTTP/1.1 keep-alive; each request is answered 200 with its path and a newline as the body. */
class HttpApp extends QueueApp {
  protected answer(buf: string): { rest: string; text: string } {
    let text = '';
    for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
      const path = /^\S+ (\S+) HTTP\/1\.1/.exec(buf)?.[1] ?? '/';
      buf = buf.slice(end + 4);
      const body = `${path}\n`;
      text += `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n${body}`;
    }
    return { rest: buf, text };
  }
}

export function fakeBehaviour(options: FakeUpstreamOptions, replica: string): FakeUpstreamBehaviour {
  return { ...options.app, ...options.perReplica?.[replica] };
}

export class FakeUpstream {
  readonly behaviour: FakeUpstreamBehaviour;
  private readonly app: Omit<App, 'name'>;
  private readonly answers = new Map<number, number>();
  private readonly open = new Set<number>();
  /** What the instance did, for tests: connections opened, bytes it received and answered. */
  readonly counts = { connections: 0, bytesIn: 0, bytesOut: 0, refused: 0, closed: 0, reset: 0 };

  constructor(
    private readonly host: FakeUpstreamHost,
    options: FakeUpstreamOptions,
  ) {
    this.behaviour = fakeBehaviour(options, host.name);
    const b = this.behaviour;
    if (b.kind === 'whoami') {
      this.app = new WhoamiApp(host.name);
    } else if (b.kind === 'http') {
      this.app = new HttpApp();
    } else {
      this.app = createApp(b.kind);
      if (this.app instanceof CounterApp) this.app.value = b.counterStart ?? 0;
    }
  }

  private get delayUs(): number {
    return this.behaviour.delayUs ?? 300;
  }

  /** One event of the replica's RSM. */
  handle(nowUs: number, e: UpstreamEvent): void {
    switch (e.type) {
      case 'open':
        this.counts.connections++;
        if (this.behaviour.refuse === true) {
          this.counts.refused++;
          this.later(nowUs, e.conn, () => [{ type: 'reset', reason: 'connection refused' }]);
          return;
        }
        this.open.add(e.conn);
        this.app.open(e.conn);
        return;
      case 'data':
        if (!this.open.has(e.conn)) return;
        this.counts.bytesIn += e.data.length;
        this.app.receive(e.conn, e.data);
        this.later(nowUs, e.conn, () => this.answer(e.conn));
        return;
      case 'eof':
        if (!this.open.has(e.conn)) return;
        this.app.eof(e.conn);
        this.later(nowUs, e.conn, () => this.answer(e.conn));
        return;
      case 'closed':
        if (this.open.delete(e.conn)) this.app.closed(e.conn);
        return;
    }
  }

  private later(nowUs: number, conn: number, actions: () => UpstreamAction[]): void {
    this.host.schedule(nowUs + this.delayUs, (atUs) => {
      if (!this.host.alive) return;
      for (const a of actions()) this.host.report(atUs, conn, a);
    });
  }

  /** Everything the app has for `conn` now, then its end if it wants one. */
  private answer(conn: number): UpstreamAction[] {
    if (!this.open.has(conn)) return [];
    const out: UpstreamAction[] = [];
    const data = this.app.pull(conn, 1 << 30);
    if (data.length > 0) {
      this.counts.bytesOut += data.length;
      out.push({ type: 'data', data });
      const n = (this.answers.get(conn) ?? 0) + 1;
      this.answers.set(conn, n);
      const b = this.behaviour;
      if (b.resetAfter !== undefined && n >= b.resetAfter) return this.finish(conn, out, { type: 'reset', reason: 'connection reset by the app' });
      if (b.closeAfter !== undefined && n >= b.closeAfter) return this.finish(conn, out, { type: 'end' });
    }
    if (this.app.wantsClose(conn)) return this.finish(conn, out, { type: 'end' });
    return out;
  }

  private finish(conn: number, out: UpstreamAction[], end: UpstreamAction): UpstreamAction[] {
    this.open.delete(conn);
    this.app.closed(conn);
    if (end.type === 'reset') this.counts.reset++;
    else this.counts.closed++;
    out.push(end);
    return out;
  }
}
