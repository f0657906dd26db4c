/**
 * One plain RESP connection to a Redis server (RESP 2): the state adapter of a replica's
 * Redis uses it, and so do the lab's launcher and load checks.
 */
import * as net from 'node:net';
import type { Endpoint } from './endpoint.js';
import { describeValue, encodeCommand, RespReplyParser, type RespValue } from './resp.js';

/** One connection to a Redis server; commands are answered in order. */
export class RedisConnection {
  private readonly parser = new RespReplyParser();
  private readonly waiting: Array<{ resolve: (v: RespValue) => void; reject: (e: Error) => void }> = [];
  private failure: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      let replies: RespValue[];
      try {
        replies = this.parser.push(new Uint8Array(d.buffer, d.byteOffset, d.length));
      } catch (error) {
        this.fail(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      for (const r of replies) this.waiting.shift()?.resolve(r);
    });
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static open(at: Endpoint, timeoutMs = 5000): Promise<RedisConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: at.host, port: at.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`redis at ${at.host}:${at.port}: no connection within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RedisConnection(socket));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`redis at ${at.host}:${at.port}: ${e.message}`));
      });
    });
  }

  /** Sends one command; resolves with its reply (an error reply is a value, not a rejection). */
  command(args: ReadonlyArray<string>): Promise<RespValue> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(encodeCommand(args));
    });
  }

  /** Like command(), but an error reply rejects. */
  async ok(args: ReadonlyArray<string>): Promise<RespValue> {
    const r = await this.command(args);
    if (r.type === 'error') throw new Error(`redis ${args.join(' ')}: ${describeValue(r)}`);
    return r;
  }

  /** `INFO <section>` as key -> value. */
  async info(section: string): Promise<Map<string, string>> {
    const r = await this.ok(['INFO', section]);
    const text = r.type === 'bulk' && r.value !== null ? Buffer.from(r.value).toString('latin1') : '';
    const out = new Map<string, string>();
    for (const line of text.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1));
    }
    return out;
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.splice(0)) w.reject(e);
  }
}
