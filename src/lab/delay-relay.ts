/**
 * A TCP relay that delays every byte by a fixed time, each way, keeping order: the lab's
 * stand-in for netem on the log channel between two replica hosts when the kernel has no
 * netem (`--link-delay-ms`). It runs as a process of its own in the backup host's
 * namespace (delay-relay-main.ts), listening on that namespace's loopback and connecting
 * across the LAN to the primary's log address, so the delayed bytes still cross the bridge.
 *
 * A chunk read at time t is written at t + delayMs; a later chunk never overtakes an
 * earlier one (one timer queue per direction). Either side closing ends both, after what
 * was already read has been written.
 */
import * as net from 'node:net';

export interface DelayRelayOptions {
  listenHost: string;
  listenPort: number;
  targetHost: string;
  targetPort: number;
  delayMs: number;
}

/** Writes each chunk delayMs after it was read, in order; end() after the last one. */
function delayedPipe(from: net.Socket, to: net.Socket, delayMs: number): void {
  let pending = 0;
  let ended = false;
  from.on('data', (chunk: Buffer) => {
    pending++;
    setTimeout(() => {
      pending--;
      if (!to.destroyed) to.write(chunk);
      if (ended && pending === 0) to.end();
    }, delayMs);
  });
  from.on('end', () => {
    ended = true;
    if (pending === 0) to.end();
  });
}

export async function startDelayRelay(o: DelayRelayOptions): Promise<net.Server> {
  const server = net.createServer({ noDelay: true }, (inbound) => {
    const outbound = net.connect({ host: o.targetHost, port: o.targetPort, noDelay: true });
    const end = () => {
      inbound.destroy();
      outbound.destroy();
    };
    for (const s of [inbound, outbound]) {
      s.on('error', end);
      s.on('close', end);
    }
    delayedPipe(inbound, outbound, o.delayMs);
    delayedPipe(outbound, inbound, o.delayMs);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: o.listenHost, port: o.listenPort }, () => resolve());
  });
  return server;
}
