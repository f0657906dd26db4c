/**
 * The in-process client of `ftcp bench`: an ftcp stack on a virtual client
 * address behind a UdpLink to the switch (as `ftcp client`, src/lab/load-client.ts), with
 * the few measuring loads the benchmarks need and no byte checking (the checking load is
 * `ftcp client`, which the failover trials use):
 *
 *   bulk(upload)           one bulk connection: upload `upload` bytes and half-close,
 *                          read the server's stream to its end; wall time of the whole
 *   counterLoop(n)         one counter connection, closed loop (one INCR in flight): the
 *                          round trip of each request, µs
 *   openIdle(n, window)    n idle connections, at most `window` handshakes at once, from
 *                          each address in turn (explicit ports: more than one address's
 *                          ephemeral range)
 *   probe(sockets, cmd)    one request on every connection; how many answered (rightly)
 */
import { Stack } from '../tcp/stack.js';
import type { SocketId, StackEvent } from '../tcp/types.js';
import type { Ipv4Addr } from '../wire/addr.js';
import { ProcessClock } from '../net/clock.js';
import type { Endpoint } from '../net/endpoint.js';
import { RealHost } from './real-host.js';
import type { ClusterKey } from '../net/cluster-key.js';
import { UdpLink } from '../net/udp-link.js';

type Handler = (e: StackEvent) => void;

/** The local end of a connection openIdle() opens. */
export interface LocalEnd {
  localAddress: Ipv4Addr;
  localPort: number;
}

/** Ports openIdle() uses on each address: 1024.., ENDS_PER_ADDRESS of them. */
export const ENDS_PER_ADDRESS = 60_000;
const FIRST_PORT = 1024;

export interface BenchClientOptions {
  switchAt: Endpoint;
  address: Ipv4Addr;
  /** More client addresses, announced to the switch too (openIdle spreads its connections over all). */
  moreAddresses?: readonly Ipv4Addr[];
  service: Ipv4Addr;
  servicePort: number;
  seed: number;
  maxConnections?: number;
  /** the cluster key of its registration with the switch. */
  clusterKey?: ClusterKey | undefined;
}

export class BenchClient {
  private readonly handlers = new Map<SocketId, Handler>();

  private constructor(
    readonly opts: BenchClientOptions,
    readonly link: UdpLink,
    readonly host: RealHost,
  ) {
    host.onEvent = (_h, e) => this.handlers.get(e.socket)?.(e);
  }

  static async open(opts: BenchClientOptions): Promise<BenchClient> {
    const link = await UdpLink.open({ peer: opts.switchAt, clusterKey: opts.clusterKey });
    try {
      const all = [opts.address, ...(opts.moreAddresses ?? [])];
      for (const a of all) link.announce(a, 0);
      for (const a of all) await link.whenRegistered(a, 5000);
    } catch (error) {
      await link.close();
      throw error;
    }
    const stack = new Stack({ addresses: [opts.address, ...(opts.moreAddresses ?? [])], seed: opts.seed, maxConnections: opts.maxConnections ?? 20_000, mtu: link.mtu });
    return new BenchClient(opts, link, new RealHost(stack, link, new ProcessClock()));
  }

  async close(): Promise<void> {
    this.host.stop();
    await this.link.close();
  }

  /** Opens a connection; `on` gets its later events. Resolves when ESTABLISHED. */
  connect(on: Handler = () => undefined, timeoutMs = 10_000, local?: LocalEnd): Promise<SocketId> {
    return new Promise((resolve, reject) => {
      let s: SocketId;
      const timer = setTimeout(() => reject(new Error('bench client: connect timed out')), timeoutMs);
      try {
        s = this.host.act((st, now) => st.connect(now, { remoteAddress: this.opts.service, remotePort: this.opts.servicePort, ...local }));
      } catch (error) {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      this.handlers.set(s, (e) => {
        if (e.type === 'connected') {
          clearTimeout(timer);
          this.handlers.set(s, on);
          resolve(s);
        } else if (e.type === 'closed') {
          clearTimeout(timer);
          this.handlers.delete(s);
          reject(new Error(`bench client: connection closed during the handshake (${e.error ?? 'no error'})`));
        }
      });
    });
  }

  /** Reads everything readable on `s`; returns the byte count (and the bytes, when `keep`). */
  private drainRead(s: SocketId, keep: boolean): { n: number; bytes: Uint8Array[] } {
    const bytes: Uint8Array[] = [];
    let n = 0;
    this.host.act((st, now) => {
      for (let r = st.read(now, s); r.length > 0; r = st.read(now, s)) {
        n += r.length;
        if (keep) bytes.push(r);
      }
    });
    return { n, bytes };
  }

  /**
   * bulk app: uploads `upload` bytes and half-closes, reads the server's stream to EOF.
   * Resolves with the bytes each way and the seconds from the first SYN to EOF.
   */
  async bulk(upload: number, timeoutMs: number): Promise<{ uploaded: number; downloaded: number; seconds: number }> {
    const start = performance.now();
    const chunk = new Uint8Array(64 * 1024).fill(0x62);
    let uploaded = 0;
    let downloaded = 0;
    let eof = false;
    let shut = false;
    return new Promise((resolve, reject) => {
      let s: SocketId | undefined;
      const timer = setTimeout(() => reject(new Error(`bench client: bulk transfer not done in ${timeoutMs} ms (${uploaded} up, ${downloaded} down)`)), timeoutMs);
      const pump = () => {
        if (s === undefined) return;
        const sock = s;
        while (uploaded < upload) {
          const n = this.host.act((st, now) => st.write(now, sock, chunk.subarray(0, Math.min(chunk.length, upload - uploaded))));
          if (n === 0) break;
          uploaded += n;
        }
        if (uploaded >= upload && !shut) {
          shut = true;
          this.host.act((st, now) => st.shutdown(now, sock));
        }
      };
      const finish = () => {
        if (!(eof && shut)) return;
        clearTimeout(timer);
        resolve({ uploaded, downloaded, seconds: (performance.now() - start) / 1000 });
      };
      const on: Handler = (e) => {
        if (s === undefined) return;
        if (e.type === 'readable' || e.type === 'eof') downloaded += this.drainRead(s, false).n;
        if (e.type === 'eof') eof = true;
        if (e.type === 'writable') pump();
        if (e.type === 'closed' && e.error !== undefined) {
          clearTimeout(timer);
          reject(new Error(`bench client: bulk connection ended: ${e.error}`));
          return;
        }
        finish();
      };
      this.connect(on).then((sock) => {
        s = sock;
        downloaded += this.drainRead(sock, false).n;
        pump();
      }, (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  /** counter app, one connection, closed loop: `n` INCRs one at a time; each round trip in µs. */
  async counterLoop(n: number, timeoutMs: number): Promise<number[]> {
    const rtts: number[] = [];
    const incr = new TextEncoder().encode('INCR\n');
    let sentAt = 0;
    let pending = '';
    return new Promise((resolve, reject) => {
      let s: SocketId | undefined;
      const timer = setTimeout(() => reject(new Error(`bench client: counter loop not done in ${timeoutMs} ms (${rtts.length}/${n})`)), timeoutMs);
      const send = () => {
        const sock = s!;
        sentAt = performance.now();
        this.host.act((st, now) => st.write(now, sock, incr));
      };
      const on: Handler = (e) => {
        if (s === undefined) return;
        if (e.type === 'closed') {
          clearTimeout(timer);
          reject(new Error(`bench client: counter connection ended (${e.error ?? 'closed'})`));
          return;
        }
        if (e.type !== 'readable') return;
        for (const b of this.drainRead(s, true).bytes) pending += Buffer.from(b).toString('latin1');
        while (pending.includes('\n')) {
          pending = pending.slice(pending.indexOf('\n') + 1);
          rtts.push((performance.now() - sentAt) * 1000);
          if (rtts.length >= n) {
            clearTimeout(timer);
            const sock = s;
            this.host.act((st, now) => st.close(now, sock));
            resolve(rtts);
            return;
          }
          send();
        }
      };
      this.connect(on).then((sock) => {
        s = sock;
        send();
      }, (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  /** Opens `n` idle connections, at most `window` handshakes at a time; resolves with those ESTABLISHED. */
  async openIdle(n: number, window: number, onProgress?: (open: number) => void, perAddress = ENDS_PER_ADDRESS): Promise<SocketId[]> {
    const open: SocketId[] = [];
    const addresses = [this.opts.address, ...(this.opts.moreAddresses ?? [])];
    if (n > addresses.length * perAddress || perAddress > ENDS_PER_ADDRESS) throw new Error(`bench client: ${n} connections at ${perAddress} per address need ${Math.ceil(n / perAddress)} client addresses, it has ${addresses.length}`);
    let next = 0;
    let failed = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        // One address after the other, each port once: a connection never reuses a 4-tuple.
        const local = { localAddress: addresses[Math.floor(i / perAddress)]!, localPort: FIRST_PORT + (i % perAddress) };
        try {
          open.push(await this.connect(() => undefined, 30_000, local));
          if (open.length % 1000 === 0) onProgress?.(open.length);
        } catch {
          failed++;
          if (failed > n / 10 + 10) return;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, window) }, () => worker()));
    return open;
  }

  /**
   * Sends `request` on each socket (at most `window` outstanding) and counts the sockets that
   * answered with a line within `timeoutMs` of their request (and, given `right`, a line it
   * accepts).
   */
  async probe(sockets: readonly SocketId[], request: string, window: number, timeoutMs: number, right?: (line: string) => boolean): Promise<number> {
    const bytes = new TextEncoder().encode(request);
    let answered = 0;
    let next = 0;
    const one = (s: SocketId) =>
      new Promise<boolean>((resolve) => {
        let got = '';
        const timer = setTimeout(() => {
          this.handlers.set(s, () => undefined);
          resolve(false);
        }, timeoutMs);
        this.handlers.set(s, (e) => {
          if (e.type === 'closed') {
            clearTimeout(timer);
            resolve(false);
          } else if (e.type === 'readable') {
            for (const b of this.drainRead(s, true).bytes) got += Buffer.from(b).toString('latin1');
            const nl = got.indexOf('\n');
            if (nl < 0) return;
            clearTimeout(timer);
            this.handlers.set(s, () => undefined);
            resolve(right === undefined || right(got.slice(0, nl)));
          }
        });
        try {
          this.host.act((st, now) => st.write(now, s, bytes));
        } catch {
          clearTimeout(timer);
          resolve(false);
        }
      });
    const worker = async () => {
      while (next < sockets.length) {
        const s = sockets[next++]!;
        if (await one(s)) answered++;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, window) }, () => worker()));
    return answered;
  }
}
