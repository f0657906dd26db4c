/** --cpu-hogs N: busy processes beside a run of real processes (src/lab/cpu-hogs.ts). */
import { MAX_CPU_HOGS } from '../lab/cpu-hogs.js';
import { parseIntegerFlag } from './validate.js';

export function parseCpuHogs(text: string): number {
  return parseIntegerFlag('--cpu-hogs', text, 0, MAX_CPU_HOGS);
}
