/**
 * The part of the Stack's public contract (src/tcp/types.ts, src/tcp/stack.ts) that the
 * simulator drives. Written as an interface so the simulator can also drive test doubles
 * and wrappers (MirroredStack) with the same code.
 */
import type { Ipv4Addr } from '../wire/addr.js';
import type { TcpStack } from '../tcp/types.js';

/** The sans-I/O loop: inputs in, outputs polled. */
export type SansIoStack = Pick<TcpStack, 'handlePacket' | 'handleTimeout' | 'pollTransmit' | 'pollEvent' | 'pollTimeout'>;

/** Socket calls and inspection, as the scenarios use them. */
export type StackApi = SansIoStack &
  Pick<TcpStack, 'listen' | 'accept' | 'connect' | 'write' | 'read' | 'shutdown' | 'close' | 'info' | 'stats' | 'snapshot'>;

export type { Ipv4Addr };
