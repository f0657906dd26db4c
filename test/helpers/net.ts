// Small helpers for the socket tests of src/net and src/lab.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { buildTcpPacket, TCP_ACK } from '../../src/wire/index.js';

/** A valid IPv4/TCP packet with a patterned payload of `payloadBytes`. */
export function tcpPacket(src: number, dst: number, payloadBytes: number, seq = 1): Uint8Array {
  const payload = new Uint8Array(payloadBytes).map((_, i) => (i * 7 + seq) & 0xff);
  return buildTcpPacket({ src, dst, id: seq & 0xffff, dontFragment: true }, { srcPort: 40000, dstPort: 7, seq, ack: 1, flags: TCP_ACK, window: 1000, payload });
}

/** Polls `cond` every 5 ms until it holds; throws after timeoutMs. */
export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * What a socket test opened, closed in teardown:
 * `const sockets = openSockets(); afterEach(() => sockets.closeAll());`
 */
export function openSockets() {
  const open: Array<{ close: () => unknown }> = [];
  return {
    /** Newest last: a test may pop() and close one early. */
    open,
    track<T extends { close: () => unknown }>(x: T): T {
      open.push(x);
      return x;
    },
    /** A plain dgram socket on 127.0.0.1, a free port. */
    async rawSocket(): Promise<dgram.Socket> {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      open.push({ close: () => new Promise<void>((r) => s.close(() => r())) });
      return s;
    },
    async closeAll(): Promise<void> {
      for (const x of open.splice(0)) await x.close();
    },
  };
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function freeTcpPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}
