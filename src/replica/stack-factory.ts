/** The real stack (src/tcp/stack.ts) as the RSM's stack factory. */
import { Stack } from '../tcp/stack.js';
import type { RsmStackFactory } from './rsm.js';

export const stackFactory: RsmStackFactory = {
  create: (config) => new Stack(config),
  restore: (snapshot) => Stack.restore(snapshot),
};
