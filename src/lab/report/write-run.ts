/**
 * What `ftcp demo failover`, `ftcp scenario run` and `ftcp chaos` do after a run: keep the
 * verdict beside the captures (report.json) and draw the page (report.html), printing its
 * path; `ftcp soak` keeps its own result (soak.json) and draws its page the same way. A page
 * that cannot be drawn is one warning line: the run's own verdict stands.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabIo } from '../io.js';
import { writeReport } from './html.js';

/** Writes `dir`/report.json (`verdict`) and `dir`/report.html; the path goes to stderr when stdout carries JSON. */
export function writeRunReport(dir: string, verdict: unknown, io: LabIo, json: boolean): void {
  try {
    writeFileSync(join(dir, 'report.json'), `${JSON.stringify(verdict)}\n`);
  } catch (error) {
    warnNoPage(dir, error, io);
    return;
  }
  writeRunPage(dir, io, json);
}

/** Writes `dir`/report.html from what the run left in `dir` (as `ftcp report` does) and prints its path. */
export function writeRunPage(dir: string, io: LabIo, json: boolean): void {
  try {
    const path = writeReport(dir);
    (json ? io.stderr : io.stdout).call(io, `report: ${path}\n`);
  } catch (error) {
    warnNoPage(dir, error, io);
  }
}

function warnNoPage(dir: string, error: unknown, io: LabIo): void {
  io.stderr(`warning: no report page for ${dir}: ${error instanceof Error ? error.message : String(error)}\n`);
}
