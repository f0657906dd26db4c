// A toy stand-in for the TCP stack, to test the simulator's plumbing (hosts, the transfer
// driver, mirroring, failure reports) independently of the real stack. One connection per
// stack, no retransmission, no checksums: on a clean network it moves bytes; on a faulty
// one it fails, which is what some tests want to see.
//
// Packet: a 20-byte IPv4-shaped header (src at 12..15, dst at 16..19), then a type byte,
// then the payload.
import type { ConnectOptions, ListenOptions, SocketId, SocketInfo, StackConfig, StackEvent, StackStats } from '../../src/tcp/types.js';
import type { StackApi } from '../../src/sim/stack-api.js';
import type { StackFactory } from '../../src/sim/transfer.js';

const SYN = 1;
const SYNACK = 2;
const DATA = 3;
const FIN = 4;
const MSS = 1400;
const BUDGET = 10 * MSS;

interface FakeState {
  address: number;
  peer: number;
  listener?: SocketId;
  conn?: SocketId;
  pendingAccept: boolean;
  finSent: boolean;
  finReceived: boolean;
  closedEmitted: boolean;
  recv: number[];
  tx: number[][];
  events: StackEvent[];
  sentSegments: number;
  /** Bytes write() may still take; refilled every millisecond by the timer. */
  budget: number;
  deadlineUs?: number;
}

export class FakeStack implements StackApi {
  constructor(private s: FakeState) {}

  static create(config: StackConfig): FakeStack {
    return new FakeStack({ address: config.addresses[0]!, peer: 0, pendingAccept: false, finSent: false, finReceived: false, closedEmitted: false, recv: [], tx: [], events: [], sentSegments: 0, budget: BUDGET });
  }

  static restore(bytes: Uint8Array): FakeStack {
    return new FakeStack(JSON.parse(new TextDecoder().decode(bytes)) as FakeState);
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.s));
  }

  private emit(type: number, payload: Uint8Array = new Uint8Array(0)): void {
    const p = new Uint8Array(21 + payload.length);
    const v = new DataView(p.buffer);
    p[0] = 0x45;
    v.setUint32(12, this.s.address);
    v.setUint32(16, this.s.peer);
    p[20] = type;
    p.set(payload, 21);
    this.s.tx.push([...p]);
    this.s.sentSegments++;
  }

  handlePacket(_nowUs: number, bytes: Uint8Array): void {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const type = bytes[20];
    if (type === SYN && this.s.listener !== undefined) {
      this.s.peer = v.getUint32(12);
      this.s.pendingAccept = true;
      this.s.events.push({ type: 'incoming', socket: this.s.listener });
    } else if (type === SYNACK && this.s.conn !== undefined) {
      this.s.events.push({ type: 'connected', socket: this.s.conn });
    } else if (type === DATA && this.s.conn !== undefined) {
      this.s.recv.push(...bytes.subarray(21));
      this.s.events.push({ type: 'readable', socket: this.s.conn });
    } else if (type === FIN && this.s.conn !== undefined) {
      this.s.finReceived = true;
      this.s.events.push({ type: 'eof', socket: this.s.conn });
      this.maybeClosed();
    }
  }

  private maybeClosed(): void {
    if (this.s.finSent && this.s.finReceived && !this.s.closedEmitted && this.s.conn !== undefined) {
      this.s.closedEmitted = true;
      this.s.events.push({ type: 'closed', socket: this.s.conn });
    }
  }

  handleTimeout(nowUs: number): void {
    if (this.s.deadlineUs === undefined || nowUs < this.s.deadlineUs) return;
    delete this.s.deadlineUs;
    this.s.budget = BUDGET;
    if (this.s.conn !== undefined) this.s.events.push({ type: 'writable', socket: this.s.conn });
  }

  pollTransmit(): Uint8Array | undefined {
    const p = this.s.tx.shift();
    return p === undefined ? undefined : Uint8Array.from(p);
  }

  pollEvent(): StackEvent | undefined {
    return this.s.events.shift();
  }

  pollTimeout(): number | undefined {
    return this.s.deadlineUs;
  }

  listen(_nowUs: number, _options: ListenOptions): SocketId {
    this.s.listener = 1;
    return 1;
  }

  accept(_listener: SocketId): SocketId | undefined {
    if (!this.s.pendingAccept) return undefined;
    this.s.pendingAccept = false;
    this.s.conn = 2;
    this.emit(SYNACK);
    return 2;
  }

  connect(_nowUs: number, options: ConnectOptions): SocketId {
    this.s.peer = options.remoteAddress;
    this.s.conn = 3;
    this.emit(SYN);
    return 3;
  }

  write(nowUs: number, _socket: SocketId, bytes: Uint8Array): number {
    // Takes 10 segments per millisecond, so senders see a full buffer and wait for 'writable'.
    const n = Math.min(bytes.length, this.s.budget);
    for (let at = 0; at < n; at += MSS) this.emit(DATA, bytes.subarray(at, Math.min(n, at + MSS)));
    this.s.budget -= n;
    if (this.s.budget === 0) this.s.deadlineUs = nowUs + 1000;
    return n;
  }

  read(_nowUs: number, _socket: SocketId, max?: number): Uint8Array {
    const n = Math.min(max ?? Infinity, this.s.recv.length);
    return Uint8Array.from(this.s.recv.splice(0, n));
  }

  shutdown(_nowUs: number, _socket: SocketId): void {
    this.s.finSent = true;
    this.emit(FIN);
    this.maybeClosed();
  }

  close(): void {}

  info(socket: SocketId): SocketInfo {
    return {
      id: socket, kind: 'connection', state: this.s.closedEmitted ? 'CLOSED' : 'ESTABLISHED', localAddress: this.s.address, localPort: 1,
      remoteAddress: this.s.peer, remotePort: 1, iss: 0, irs: 0, sndUna: 0, sndNxt: 0, sndWnd: 0, rcvNxt: 0, rcvWnd: 0,
      readable: this.s.recv.length, unacked: 0, writable: 0, rtoMs: 1000, srttMs: undefined, mss: MSS,
    };
  }

  stats(): StackStats {
    return {
      packetsIn: 0, packetsOut: this.s.sentSegments, segmentsIn: 0, segmentsOut: this.s.sentSegments, bytesIn: 0, bytesOut: 0,
      retransmits: 0, timeouts: 0, duplicateSegments: 0, outOfOrderSegments: 0, resetsSent: 0, resetsReceived: 0,
      connectionsOpened: 0, connectionsActive: 0, connectionsPassive: 0, connectionsReset: 0, connectionsTimedOut: 0, drops: {},
    };
  }
}

export const fakeStackFactory: StackFactory = {
  create: (config) => FakeStack.create(config),
  restore: (snapshot) => FakeStack.restore(snapshot),
};
