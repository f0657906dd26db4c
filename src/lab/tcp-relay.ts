/**
 * A TCP relay that can be cut: put between a backup and its primary's log channel, it is
 * how tests and scenarios partition the log channel (the replicas' own sockets are left
 * alone, as a network fault would leave them).
 *
 *   cut()   destroys every relayed connection and, until heal(), destroys new ones at once
 *           (both ends see the connection close, as when a process at either end dies)
 *   partition()  closes nothing: every byte waits until heal() (a network partition)
 *   heal()  lets connections and bytes through again
 *   gate(direction, mode)  per direction, on the open connections: pass the bytes, hold
 *           them (until the next 'pass', which sends them on in order) or drop them
 */
import * as net from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { describeListenError, type Endpoint } from '../net/endpoint.js';
import { LinkError } from '../net/udp-link.js';

/** Which way bytes go: from the connecting side to the target, or back. */
export type RelayDirection = 'toTarget' | 'fromTarget';
export type GateMode = 'pass' | 'hold' | 'drop';

/** A stream in one direction of the relay that passes, holds or drops what goes through. */
class Gate extends Transform {
  private mode: GateMode = 'pass';
  private held: Buffer[] = [];

  set(mode: GateMode): void {
    this.mode = mode;
    if (mode === 'drop') this.held = [];
    if (mode !== 'pass') return;
    for (const chunk of this.held) this.push(chunk);
    this.held = [];
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.mode === 'pass') this.push(chunk);
    else if (this.mode === 'hold') this.held.push(chunk);
    done();
  }
}

export class TcpRelay {
  readonly local: Endpoint;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private readonly gates = new Map<RelayDirection, Set<Gate>>([
    ['toTarget', new Set()],
    ['fromTarget', new Set()],
  ]);
  private isCut = false;
  private isPartitioned = false;
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

  /**
   * A partition as a network makes one: nothing is closed or reset, so neither end learns of
   * it but by silence. The bytes of open connections (and of new ones) wait until heal(),
   * as TCP's retransmissions would deliver them after a partition shorter than its timeout.
   * cut() instead closes every connection, as the death of a process at either end would.
   */
  partition(): void {
    this.isPartitioned = true;
    this.gate('toTarget', 'hold');
    this.gate('fromTarget', 'hold');
  }

  heal(): void {
    this.isCut = false;
    if (!this.isPartitioned) return;
    this.isPartitioned = false;
    this.gate('toTarget', 'pass');
    this.gate('fromTarget', 'pass');
  }

  /** Pass, hold or drop the bytes of every open connection going `direction`; returns how many connections it applied to. */
  gate(direction: RelayDirection, mode: GateMode): number {
    const gates = this.gates.get(direction)!;
    for (const g of gates) g.set(mode);
    return gates.size;
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
    const toTarget = new Gate();
    const fromTarget = new Gate();
    this.gates.get('toTarget')!.add(toTarget);
    this.gates.get('fromTarget')!.add(fromTarget);
    if (this.isPartitioned) for (const g of [toTarget, fromTarget]) g.set('hold');
    const end = () => {
      this.pairs.delete(pair);
      this.gates.get('toTarget')!.delete(toTarget);
      this.gates.get('fromTarget')!.delete(fromTarget);
      inbound.destroy();
      outbound.destroy();
    };
    for (const s of pair) {
      s.on('error', end);
      s.on('close', end);
    }
    inbound.pipe(toTarget).pipe(outbound);
    outbound.pipe(fromTarget).pipe(inbound);
  }
}
