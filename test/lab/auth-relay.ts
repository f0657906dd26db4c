// A man in the middle for the cluster-key tests: a TCP relay that forwards the client's
// stream to the server frame by frame (envelopes cut by the length at offset 4), records
// every frame, and can rewrite, drop or inject frames between them.
import * as net from 'node:net';
import { FrameReader } from '../../src/net/frames.js';

export interface Mitm {
  port: number;
  /** Client -> server frames seen, per connection (index 0 the first connection). */
  frames: Uint8Array[][];
  /** Rewrites (or drops, with undefined) the next client -> server frame for which it returns other than the frame. */
  rewrite: ((frame: Uint8Array, index: number) => Uint8Array | undefined) | undefined;
  /** Writes bytes to the server on the newest connection, between two frames. */
  inject: (bytes: Uint8Array) => void;
  close: () => Promise<void>;
}

export async function mitm(target: { host: string; port: number }): Promise<Mitm> {
  const sockets = new Set<net.Socket>();
  let newestUp: net.Socket | undefined;
  const m: Mitm = {
    port: 0,
    frames: [],
    rewrite: undefined,
    inject: (bytes) => newestUp?.write(bytes),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = net.createServer((down) => {
    const up = net.connect(target.port, target.host);
    newestUp = up;
    const seen: Uint8Array[] = [];
    m.frames.push(seen);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        down.destroy();
        up.destroy();
      });
    }
    const reader = new FrameReader({ lengthOffset: 4, minBytes: 8, maxBytes: 1 << 20 });
    down.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(new Uint8Array(chunk)).frames) {
        seen.push(frame);
        const out = m.rewrite === undefined ? frame : m.rewrite(frame, seen.length - 1);
        if (out !== undefined) up.write(out);
      }
    });
    up.pipe(down);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  m.port = (server.address() as net.AddressInfo).port;
  return m;
}

/** The envelope type byte: 1 hello, 2 proof, 3 data. */
export const envelopeType = (f: Uint8Array): number => f[2]!;
