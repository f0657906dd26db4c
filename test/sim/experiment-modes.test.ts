// `ftcp experiment modes`: the output rule shows no anomaly where every unsafe mode shows
// one, on the seeds the README uses; and the CLI's --json is one object of that shape.
import { describe, expect, it } from 'vitest';
import { isPureAck, outputModeOf, OUTPUT_MODES } from '../../src/replica/output-mode.js';
import { MODES_DEFAULTS, runModesExperiment } from '../../src/sim/experiment-modes.js';
import { buildTcpPacket } from '../../src/wire/packet.js';
import { TCP_ACK, TCP_FIN, TCP_PSH } from '../../src/wire/tcp.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { cli } from '../cli/cli-helpers.js';

describe('output modes', () => {
  it('the default is the output rule; outputRule false is async; outputMode wins', () => {
    expect(outputModeOf({})).toBe('output-rule');
    expect(outputModeOf({ outputRule: false })).toBe('async');
    expect(outputModeOf({ outputRule: true, outputMode: 'acks-at-once' })).toBe('acks-at-once');
  });

  it('a pure ACK is a segment with no data and no SYN, FIN or RST', () => {
    const src = parseIpv4Addr('192.0.2.10');
    const dst = parseIpv4Addr('192.0.2.1');
    const seg = (flags: number, payload?: Uint8Array) => buildTcpPacket({ src, dst, id: 1 }, { srcPort: 7070, dstPort: 40000, seq: 1, ack: 1, flags, window: 1000, ...(payload ? { payload } : {}) });
    expect(isPureAck(seg(TCP_ACK), false)).toBe(true);
    expect(isPureAck(seg(TCP_ACK | TCP_PSH, new Uint8Array([1])), false)).toBe(false);
    expect(isPureAck(seg(TCP_ACK | TCP_FIN), false)).toBe(false);
  });
});

describe('experiment modes', () => {
  const seeds = MODES_DEFAULTS.seeds.slice(0, 2);
  const report = runModesExperiment({ ...MODES_DEFAULTS, seeds });
  const row = (workload: string, mode: string) => report.rows.find((r) => r.workload === workload && r.mode === mode)!;

  it.each(MODES_DEFAULTS.workloads)('%s: the output rule loses nothing; every unsafe mode breaks on the same seeds', (workload) => {
    const safe = row(workload, 'output-rule');
    expect(safe.anomalySeeds).toEqual([]);
    for (const f of safe.failovers) {
      expect(f).toMatchObject({ brokenStreams: 0, resets: 0, outputLostBytes: 0, inputLostBytes: 0, missingConnections: 0, counterRepeats: 0, counterGaps: 0 });
    }
    for (const mode of OUTPUT_MODES.filter((m) => m !== 'output-rule')) {
      expect(row(workload, mode).anomalySeeds, `${workload} ${mode}`).toEqual(seeds);
    }
    expect(report.exposed[workload]).toEqual(seeds);
    // What breaks: the client holds bytes the survivor never had, and a stream breaks with it.
    const async = row(workload, 'async');
    expect(async.failovers.every((f) => f.outputLostBytes + f.inputLostBytes > 0 && f.brokenStreams > 0)).toBe(true);
  });

  it('the pure-ACK mode loses input: the client was told the server had bytes the survivor never got', () => {
    for (const workload of MODES_DEFAULTS.workloads) {
      for (const f of row(workload, 'acks-at-once').failovers) expect(f.inputLostBytes).toBeGreaterThan(0);
    }
  });

  it('steady runs settle in every mode; the output rule costs latency against async', () => {
    for (const r of report.rows) expect(r.steady.unsettled).toBe(0);
    expect(row('counter', 'output-rule').steady.p50Ms!).toBeGreaterThan(row('counter', 'async').steady.p50Ms!);
  });
});

describe('ftcp experiment modes', () => {
  it('--json prints one JSON object and nothing else', async () => {
    const r = await cli(['experiment', 'modes', '--seeds', '2', '--workloads', 'counter', '--modes', 'output-rule,async', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const o = JSON.parse(lines[0]!);
    expect(o.options).toMatchObject({ seeds: [2], modes: ['output-rule', 'async'], workloads: ['counter'] });
    expect(o.rows).toHaveLength(2);
    for (const row of o.rows) {
      expect(Object.keys(row).sort()).toEqual(['anomalySeeds', 'failovers', 'mode', 'steady', 'workload']);
      expect(row.steady).toEqual(expect.objectContaining({ throughputKBps: expect.any(Number), requestsPerS: expect.any(Number), p50Ms: expect.any(Number), p99Ms: expect.any(Number) }));
      expect(row.failovers[0]).toEqual(expect.objectContaining({ seed: 2, brokenStreams: expect.any(Number), resets: expect.any(Number), outputLostBytes: expect.any(Number), inputLostBytes: expect.any(Number), counterRepeats: expect.any(Number), counterGaps: expect.any(Number), anomaly: expect.any(Boolean) }));
    }
    expect(o.exposed).toEqual({ counter: [2] });
    expect(Object.keys(o.why)).toEqual([...OUTPUT_MODES]);
  });

  it.each([
    [['--seeds', '5-1'], /--seeds range 5-1 must go upwards/],
    [['--modes', 'sync'], /--modes: sync is not one of output-rule, async, acks-at-once, ack-on-receipt/],
    [['--log-loss', '2'], /--log-loss must be a probability/],
    [['--workloads', ''], /--workloads needs at least one/],
  ])('%j: one line, exit 2', async (args, message) => {
    const r = await cli(['experiment', 'modes', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });
});
