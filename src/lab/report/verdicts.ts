/**
 * The verdict a scenario run and a chaos trial keep beside their captures (report.json), in
 * the fields the report page reads (model.ts: ok, streams, resets, splitBrain, failover with
 * the killed replica, problems), with the run's own result under `run`.
 */
import type { TrialResult } from '../chaos-trial.js';
import type { ScenarioResult } from '../scenario.js';

/** The first replica a scenario killed with kill -9, from its timeline. */
function killedInTimeline(timeline: ReadonlyArray<{ text: string }>): string | undefined {
  for (const t of timeline) {
    const m = /^kill -9 replica (\S+) /.exec(t.text);
    if (m !== null) return m[1];
  }
  return undefined;
}

export function scenarioVerdict(r: ScenarioResult): Record<string, unknown> {
  const killed = killedInTimeline(r.timeline);
  const problems = [...r.checks.filter((c) => !c.ok).map((c) => `step ${c.step}: expected ${c.check}, but ${c.detail}`), ...(r.error !== undefined ? [r.error] : [])];
  return { ok: r.ok, ...(killed !== undefined ? { failover: { killed } } : {}), problems, run: r };
}

/** Which replica a chaos fault kills last (pauses kill nobody). */
function killedByFault(fault: TrialResult['plan']['fault']): string | undefined {
  if (fault === 'kill-primary' || fault === 'kill-backup-join') return 'a';
  if (fault === 'kill-backup') return 'b';
  return undefined;
}

export function chaosTrialVerdict(r: TrialResult): Record<string, unknown> {
  const killed = r.faulted ? killedByFault(r.plan.fault) : undefined;
  return {
    ok: r.ok,
    ...(r.streams !== null ? { streams: r.streams } : {}),
    resets: r.resets,
    splitBrain: r.splitBrainEpochs.length + r.doubleGrants.length,
    failover: { ...(killed !== undefined ? { killed } : {}), ...r.failover },
    problems: r.failures.map((f) => `${f.kind}: ${f.text}`),
    run: r,
  };
}
