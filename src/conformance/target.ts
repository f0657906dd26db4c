/**
 * The part of the Stack (src/tcp/stack.ts, contract in src/tcp/types.ts) the runner drives,
 * as an interface so tests can wrap or replace it.
 */
import type { ConnectOptions, ListenOptions, SocketId, SocketInfo, StackConfig, StackEvent } from '../tcp/types.js';

export interface ConformanceStack {
  handlePacket(nowUs: number, bytes: Uint8Array): unknown;
  handleTimeout(nowUs: number): unknown;
  pollTransmit(): Uint8Array | undefined;
  pollEvent(): StackEvent | undefined;
  pollTimeout(): number | undefined;
  listen(nowUs: number, options: ListenOptions): SocketId;
  accept(listener: SocketId): SocketId | undefined;
  connect(nowUs: number, options: ConnectOptions): SocketId;
  write(nowUs: number, socket: SocketId, bytes: Uint8Array): number;
  read(nowUs: number, socket: SocketId, max?: number): Uint8Array;
  shutdown(nowUs: number, socket: SocketId): unknown;
  close(nowUs: number, socket: SocketId): unknown;
  abort(nowUs: number, socket: SocketId): unknown;
  setNoDelay(socket: SocketId, on: boolean): unknown;
  setKeepAlive(socket: SocketId, on: boolean): unknown;
  info(socket: SocketId): SocketInfo;
}

export type ConformanceStackFactory = (config: StackConfig) => ConformanceStack;
