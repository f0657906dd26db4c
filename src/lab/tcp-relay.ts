/**
 * A TCP relay that can be cut: put between a backup and its primary's log channel, it is
 * how tests and scenarios partition the log channel (the replicas' own sockets are left
 * alone, as a network fault would leave them).
 *
 *   cut()   destroys every relayed connection and, until heal(), destroys new ones at once
 *   heal()  lets connections through again
 */
import * as net from 'node:net';
import { describeListenError, type Endpoint } from '../net/endpoint.js';
import { LinkError } from '../net/udp-link.js';

export class TcpRelay {
  readonly local: Endpoint;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private isCut = false;
  connections = 0;
  refused = 0;

  private constructor(
    private readonly server: net.Server,
    readonly target: Endpoint,
  ) {
    const a = server.address() as net.AddressInfo;
    this.local = { host: a.address, port: a.port };
    server.on('connection', (socket) => this.relay(socket));
  }

  static async start(listen: Endpoint, target: Endpoint): Promise<TcpRelay> {
    const server = net.createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new LinkError(describeListenError(error, listen, '--relay'))));
      server.listen({ host: listen.host, port: listen.port }, () => resolve());
    });
    server.on('error', () => {});
    return new TcpRelay(server, target);
  }

  get cutNow(): boolean {
    return this.isCut;
  }

  cut(): void {
    this.isCut = true;
    for (const [x, y] of this.pairs) {
      x.destroy();
      y.destroy();
    }
    this.pairs.clear();
  }

  heal(): void {
    this.isCut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(inbound: net.Socket): void {
    if (this.isCut) {
      this.refused++;
      inbound.destroy();
      return;
    }
    this.connections++;
    const outbound = net.connect({ host: this.target.host, port: this.target.port, noDelay: true });
    const pair: [net.Socket, net.Socket] = [inbound, outbound];
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    for (const s of pair) {
      s.on('error', end);
      s.on('close', end);
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  }
}
