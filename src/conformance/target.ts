/**
 * The part of the Stack (src/tcp/stack.ts, contract in src/tcp/types.ts) the runner drives,
 * as an interface so tests can wrap or replace it.
 */
import type { StackConfig, TcpStack } from '../tcp/types.js';

export type ConformanceStack = Pick<
  TcpStack,
  | 'handlePacket' | 'handleTimeout' | 'pollTransmit' | 'pollEvent' | 'pollTimeout'
  | 'listen' | 'accept' | 'connect' | 'write' | 'read' | 'shutdown' | 'close' | 'abort'
  | 'setNoDelay' | 'setKeepAlive' | 'setSocketOptions' | 'socketOptions' | 'info'
>;

export type ConformanceStackFactory = (config: StackConfig) => ConformanceStack;
