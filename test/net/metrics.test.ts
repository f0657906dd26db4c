import { describe, expect, it } from 'vitest';
import { escapeLabel, formatMetrics } from '../../src/net/metrics.js';

describe('Prometheus text exposition', () => {
  const text = formatMetrics({ name: 'a"1', role: 'backup', epoch: 3, logLagEntries: 2, heldOutputPackets: 0, connectionsOpened: 5, failovers: 1, restarts: 2, divergences: 0, drops: { 'bad-checksum': 4, 'no-listener': 1 } });
  const lines = text.split('\n');

  it('every family has HELP and TYPE before its samples, and the text ends with a newline', () => {
    expect(text.endsWith('\n')).toBe(true);
    for (const [i, line] of lines.entries()) {
      if (!line.startsWith('# TYPE ')) continue;
      const name = line.split(' ')[2]!;
      expect(lines[i - 1]).toMatch(new RegExp(`^# HELP ${name} `));
      expect(lines[i + 1]!.startsWith(name)).toBe(true);
    }
    for (const line of lines.filter((l) => l !== '' && !l.startsWith('#'))) expect(line).toMatch(/^[a-z_]+\{[^}]*\} -?\d+(\.\d+)?$/);
  });

  it('the role is one-hot, counters end in _total, drops are by reason', () => {
    expect(lines).toContain('ftcp_role{replica="a\\"1",role="backup"} 1');
    expect(lines).toContain('ftcp_role{replica="a\\"1",role="primary"} 0');
    expect(lines).toContain('# TYPE ftcp_failovers_total counter');
    expect(lines).toContain('ftcp_connections_opened_total{replica="a\\"1"} 5');
    expect(lines).toContain('ftcp_epoch{replica="a\\"1"} 3');
    expect(lines).toContain('ftcp_drops_total{replica="a\\"1",reason="bad-checksum"} 4');
    expect(lines).toContain('ftcp_drops_total{replica="a\\"1",reason="no-listener"} 1');
  });

  it('escapes label values', () => {
    expect(escapeLabel('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });
});
