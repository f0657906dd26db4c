/**
 * `ftcp soak`'s faults and the figures over them that both its summary lines (soak.ts) and
 * its report page (report/soak-model.ts) give: a leaf module, so the page does not load the
 * soak's cluster code.
 */
export const SOAK_FAULTS = ['kill-primary', 'kill-backup', 'pause-primary', 'pause-backup', 'arbiter-restart'] as const;
export type SoakFault = (typeof SOAK_FAULTS)[number];
/** Every kind a fault record has: the planned faults, and the pair restored after a failover no fault caused. */
export const SOAK_FAULT_KINDS = [...SOAK_FAULTS, 'false-failover'] as const;

/** How many faults of each kind, every known kind in order (0 too), then any other kind a record names. */
export function faultCounts(faults: ReadonlyArray<{ fault: string }>): Array<[string, number]> {
  const counts = new Map<string, number>(SOAK_FAULT_KINDS.map((k) => [k, 0]));
  for (const f of faults) counts.set(f.fault, (counts.get(f.fault) ?? 0) + 1);
  return [...counts];
}

/** Median and max of the faults' "restored after" (ms), over those that were restored; null when none was. */
export function restoredStats(faults: ReadonlyArray<{ restoredAfterMs: number | null }>): { medianMs: number; maxMs: number } | null {
  const ms = faults.map((f) => f.restoredAfterMs).filter((x): x is number => x !== null).sort((a, b) => a - b);
  return ms.length === 0 ? null : { medianMs: ms[Math.floor(ms.length / 2)]!, maxMs: ms[ms.length - 1]! };
}
