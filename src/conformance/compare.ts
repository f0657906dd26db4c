/**
 * Where two targets differ on one script (`ftcp conformance --target both`): each target's
 * trace (what it did at each line it reached: `sent S. 0:0(0) ...`, `returned = 3`) and
 * its result, compared line by line up to the first line where either one stopped.
 */
import type { RunResult } from './runner.js';

export interface TargetRun {
  name: string;
  /** Per script line, what the target did there. */
  lines: Map<number, string>;
  result: RunResult;
}

export interface Difference {
  line: number;
  /** What each target did at the line, by target name. */
  actual: Record<string, string>;
}

/** What `run` did at `line`: its trace, else the failure reported there, else that it never got there. */
function actualAt(run: TargetRun, line: number): string {
  const traced = run.lines.get(line);
  if (traced !== undefined) return traced;
  const f = run.result.failure;
  if (f !== undefined && f.line === line) return f.kind === 'mismatch' ? `failed (${f.actual})` : `could not run it (${f.expected})`;
  if (f !== undefined && f.line < line) return `stopped at line ${f.line}`;
  return f === undefined ? 'nothing' : `no result before it stopped at line ${f.line}`;
}

export function differences(a: TargetRun, b: TargetRun): Difference[] {
  const stops = [a.result.failure?.line, b.result.failure?.line].filter((l): l is number => l !== undefined);
  const last = stops.length === 0 ? Infinity : Math.min(...stops);
  const lines = [...new Set([...a.lines.keys(), ...b.lines.keys(), ...stops])].filter((l) => l <= last).sort((x, y) => x - y);
  const out: Difference[] = [];
  for (const line of lines) {
    const x = actualAt(a, line);
    const y = actualAt(b, line);
    if (x !== y) out.push({ line, actual: { [a.name]: x, [b.name]: y } });
  }
  return out;
}

/** `line 12: ftcp sent S. 0:0(0) ..., linux sent S. 0:0(0) ...` */
export function formatDifference(d: Difference): string {
  return `line ${d.line}: ${Object.entries(d.actual)
    .map(([name, text]) => `${name} ${text}`)
    .join(', ')}`;
}
