/** The real stack (src/tcp/stack.ts) as the scenarios' StackFactory. */
import { Stack } from '../tcp/stack.js';
import type { StackFactory } from './transfer.js';

export const defaultStackFactory: StackFactory = {
  create: (config) => new Stack(config),
  restore: (snapshot) => Stack.restore(snapshot),
};
