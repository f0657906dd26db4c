/** Text tables of `ftcp experiment` (the JSON is the report object itself). */
import type { StateTransferReport } from '../lab/experiment-state-run.js';
import type { RealModesReport } from '../lab/experiment-modes-real.js';
import type { ModesReport } from '../sim/experiment-modes.js';

/** Columns padded to their widest cell; the first `left` columns left-aligned, the rest right-aligned. */
export function formatTable(header: string[], rows: string[][], left = 2): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].map((l) => `  ${l}\n`).join('');
}

const dash = (v: number | undefined) => (v === undefined ? '-' : String(v));

export function formatModesReport(r: ModesReport): string {
  const o = r.options;
  let out =
    `experiment modes: workloads ${o.workloads.join(', ')}; seeds ${o.seeds.join(', ')}\n` +
    `  steady: no kill; failover: the log channel primary -> backup loses ${Math.round(o.logLoss * 100)}% of its frames from ${o.lossyBeforeKillUs / 1000} ms before the kill\n` +
    '  (latency in virtual time: the simulator charges no CPU; sums over the failover runs)\n\n';
  const header = ['workload', 'mode', 'KB/s', 'req/s', 'p50 ms', 'p99 ms', 'runs broken', 'streams broken', 'resets', 'out lost B', 'in lost B', 'conns lost', 'repeats', 'gaps'];
  const rows = r.rows.map((row) => {
    const sum = (k: 'brokenStreams' | 'resets' | 'outputLostBytes' | 'inputLostBytes' | 'missingConnections' | 'counterRepeats' | 'counterGaps') => String(row.failovers.reduce((n, f) => n + f[k], 0));
    const s = row.steady;
    return [row.workload, row.mode, String(s.throughputKBps), dash(s.requestsPerS), dash(s.p50Ms), dash(s.p99Ms), `${row.anomalySeeds.length}/${row.failovers.length}`, sum('brokenStreams'), sum('resets'), sum('outputLostBytes'), sum('inputLostBytes'), sum('missingConnections'), sum('counterRepeats'), sum('counterGaps')];
  });
  out += formatTable(header, rows);
  out += '\n  out lost: sequence space the client had received that the survivor never produced;\n  in lost: sequence space the client had seen acknowledged that the survivor never received.\n\n';
  for (const mode of o.modes) out += `  ${mode}: ${r.why[mode]}\n`;
  const unsafe = o.modes.filter((m) => m !== 'output-rule');
  if (unsafe.length > 0 && o.modes.includes('output-rule')) {
    out += '\n';
    for (const w of o.workloads) {
      const seeds = r.exposed[w] ?? [];
      out += `  ${w}: seeds where the output rule shows nothing and every other mode breaks: ${seeds.length > 0 ? seeds.join(', ') : 'none'}\n`;
    }
  }
  for (const row of r.rows) {
    if (row.steady.unsettled > 0) out += `  note: ${row.workload} under ${row.mode}: ${row.steady.unsettled} steady run(s) did not settle\n`;
  }
  return out;
}

export function formatStateReport(r: StateTransferReport): string {
  const o = r.options;
  let out =
    `experiment state-transfer: workloads ${o.workloads.join(', ')}; seeds ${o.seeds.join(', ')}; no kill\n` +
    '  shipped: bytes from the primary to the backup per byte of client payload (both directions);\n' +
    '  dirty: checkpoints shipping only the 4 KiB pages of the snapshot that changed. Virtual time.\n\n';
  const header = ['workload', 'method', 'shipped/B', 'dirty/B', 'checkpoints', 'mean KB', 'KB/s', 'p50 ms', 'p99 ms', 'complete'];
  const rows = r.rows.map((x) => [x.workload, x.method, String(x.shippedPerClientByte), dash(x.dirtyPerClientByte), dash(x.checkpoints), dash(x.meanCheckpointKB), String(x.throughputKBps), dash(x.p50Ms), dash(x.p99Ms), x.complete ? 'yes' : 'NO']);
  out += formatTable(header, rows);
  out += `\n  CPU ms per MB of client payload (${r.cpu}):\n`;
  for (const w of o.workloads) {
    const mine = r.rows.filter((x) => x.workload === w);
    out += `    ${w}: ${mine.map((x) => `${x.method} ${x.cpuMsPerMB}${x.addedCpuMsPerMB !== undefined ? ` (${x.addedCpuMsPerMB >= 0 ? '+' : ''}${x.addedCpuMsPerMB})` : ''}`).join(', ')}\n`;
  }
  return out;
}

export function formatRealModesReport(r: RealModesReport): string {
  const o = r.options;
  let out =
    `experiment modes --real: workloads ${o.workloads.join(', ')}; ${o.trials} trial(s) per workload and mode; real processes on loopback (MTU ${o.mtu})\n` +
    `  steady: ${o.steadyMs} ms of load, wall clock; failover: the log channel loses the primary's frames for ${o.loseMs} ms, then kill -9 of the primary\n` +
    `  (heartbeat ${o.heartbeatMs} ms, failure timeout ${o.failureTimeoutMs} ms; sums over the measured trials)\n\n`;
  const header = ['workload', 'mode', 'KB/s', 'req/s', 'p50 ms', 'p99 ms', 'live ms', 'trials broken', 'streams broken', 'resets', 'out lost B', 'in lost B', 'conns lost', 'repeats', 'gaps'];
  const rows = r.rows.map((x) => [x.workload, x.mode, String(x.throughputKBps), dash(x.requestsPerS), dash(x.p50Ms), dash(x.p99Ms), x.liveMs === null ? '-' : String(x.liveMs), `${x.anomalyTrials}/${x.trials}`, String(x.brokenStreams), String(x.resets), String(x.outputLostBytes), String(x.inputLostBytes), String(x.missingConnections), String(x.counterRepeats), String(x.counterGaps)]);
  out += formatTable(header, rows);
  out += '\n  out lost: sequence space the client had received that the survivor never produced (its shadow capture up to go-live);\n  in lost: sequence space the client had seen acknowledged that the survivor never received.\n\n';
  for (const mode of o.modes) out += `  ${mode}: ${r.why[mode] ?? ''}\n`;
  for (const x of r.rows) {
    if (x.invalidTrials > 0) out += `  note: ${x.workload} under ${x.mode}: ${x.invalidTrials} trial(s) left out (a false failover before the kill)\n`;
    if (x.first !== undefined) out += `  ${x.workload} under ${x.mode}, first anomaly: ${x.first} (${x.firstDir ?? ''})\n`;
  }
  for (const n of r.notes) out += `  note: ${n}\n`;
  out += `  captures: ${r.dir}/\n`;
  return out;
}
