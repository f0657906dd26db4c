/**
 * The part of the Stack's public contract (src/tcp/types.ts, src/tcp/stack.ts) that the
 * simulator drives. Written as an interface so the simulator can also drive test doubles
 * and wrappers (MirroredStack) with the same code.
 */
import type { Ipv4Addr } from '../tcp/wire/addr.js';
import type { ConnectOptions, ListenOptions, SocketId, SocketInfo, StackEvent, StackStats } from '../tcp/types.js';

/** The sans-I/O loop: inputs in, outputs polled. */
export interface SansIoStack {
  handlePacket(nowUs: number, bytes: Uint8Array): unknown;
  handleTimeout(nowUs: number): unknown;
  pollTransmit(): Uint8Array | undefined;
  pollEvent(): StackEvent | undefined;
  /** Next deadline (absolute µs), or undefined when no timer is armed. */
  pollTimeout(): number | undefined;
}

/** Socket calls and inspection, as the scenarios use them. */
export interface StackApi extends SansIoStack {
  listen(nowUs: number, options: ListenOptions): SocketId;
  accept(listener: SocketId): SocketId | undefined;
  connect(nowUs: number, options: ConnectOptions): SocketId;
  write(nowUs: number, socket: SocketId, bytes: Uint8Array): number;
  read(nowUs: number, socket: SocketId, max?: number): Uint8Array;
  shutdown(nowUs: number, socket: SocketId): unknown;
  close(nowUs: number, socket: SocketId): unknown;
  info(socket: SocketId): SocketInfo;
  stats(): StackStats;
  snapshot(): Uint8Array;
}

export type { Ipv4Addr };
