/**
 * Prometheus text exposition (format 0.0.4) of one `ftcp serve` replica: its role, epoch,
 * log lag, held output, connections, failovers, divergences and drops by reason.
 * Pure: formatMetrics turns a snapshot into the text; the HTTP listener is in serve.ts.
 */

export type ServeRole = 'starting' | 'primary' | 'backup' | 'joining' | 'stopped';

export interface MetricsSnapshot {
  name: string;
  role: ServeRole;
  epoch: number;
  logLagEntries: number;
  heldOutputPackets: number;
  connectionsOpened: number;
  failovers: number;
  restarts: number;
  divergences: number;
  drops: Record<string, number>;
}

const ROLES: readonly ServeRole[] = ['starting', 'primary', 'backup', 'joining', 'stopped'];

/** A label value escaped as the exposition format asks: backslash, double quote, newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function family(lines: string[], name: string, type: 'gauge' | 'counter', help: string, samples: [string, number][]): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${Number.isFinite(value) ? value : 0}`);
}

export function formatMetrics(s: MetricsSnapshot): string {
  const r = `replica="${escapeLabel(s.name)}"`;
  const l = `{${r}}`;
  const lines: string[] = [];
  family(lines, 'ftcp_role', 'gauge', 'This replica\'s role: 1 for the current one.', ROLES.map((role) => [`{${r},role="${role}"}`, role === s.role ? 1 : 0]));
  family(lines, 'ftcp_epoch', 'gauge', 'The arbiter epoch this replica last won or followed.', [[l, s.epoch]]);
  family(lines, 'ftcp_log_lag_entries', 'gauge', 'Log entries sent to the backup and not yet acknowledged.', [[l, s.logLagEntries]]);
  family(lines, 'ftcp_held_output_packets', 'gauge', 'Output packets held until the backup has the log entry that produced them.', [[l, s.heldOutputPackets]]);
  family(lines, 'ftcp_connections_opened_total', 'counter', 'Client connections of the service that reached ESTABLISHED in the current run.', [[l, s.connectionsOpened]]);
  family(lines, 'ftcp_failovers_total', 'counter', 'Times this replica took over as primary after its peer failed.', [[l, s.failovers]]);
  family(lines, 'ftcp_restarts_total', 'counter', 'Times the replica host was restarted (fenced, lost, or failed) and rejoined.', [[l, s.restarts]]);
  family(lines, 'ftcp_divergences_total', 'counter', 'Replay divergences the backup detected.', [[l, s.divergences]]);
  const reasons = Object.keys(s.drops).sort();
  family(lines, 'ftcp_drops_total', 'counter', 'Frames or packets dropped, by reason.', reasons.map((reason) => [`{${r},reason="${escapeLabel(reason)}"}`, s.drops[reason]!]));
  return `${lines.join('\n')}\n`;
}
