/**
 * `ftcp scenario run FILE`: a scripted failover demo with real processes (scenario.ts),
 * with the timeline printed as it happens and each expectation's verdict. With the kernel
 * as the client the run first makes a network namespace and runs again inside it
 * (netns-run.ts); the inner run adds the kernel side (demo/kernel.ts).
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describeKernel, KernelSide, kernelSwitchOptions, startKernelClient, type KernelReport } from './demo/kernel.js';
import { OrderedLines } from './ordered-lines.js';
import { onStopSignal, type InnerExit, type LabIo, type RunOutcome } from './io.js';
import { scenarioInnerArgv } from './launch.js';
import { KERNEL_ADDRESS, TUN_DEVICE } from './netns.js';
import { runInNetns } from './netns-run.js';
import { writeRunReport } from './report/write-run.js';
import { scenarioVerdict } from './report/verdicts.js';
import { runScenario, ScenarioError, type Scenario, type ScenarioKernel, type ScenarioResult } from './scenario.js';

export interface ScenarioRunOptions {
  /** The scenario's file, as given (the run directory is named after it). */
  file: string;
  captureDir: string;
  /** Print only the result, as one JSON object. */
  json: boolean;
  /** Set in the run inside the network namespace that the outer run made. */
  netnsInner?: string;
  /** Skip report.json and report.html in the run folder (`--no-report`). */
  noReport?: boolean;
}

/** Runs the scenario `s` (loaded and checked from o.file); resolves with how it ended. */
export async function runScenarioFile(s: Scenario, o: ScenarioRunOptions, io: LabIo): Promise<RunOutcome | InnerExit> {
  // client kernel first makes a network namespace and runs this again inside it.
  if (s.client === 'kernel' && o.netnsInner === undefined) {
    const args = (netnsInner: string) => scenarioInnerArgv({ file: o.file, captureDir: o.captureDir, heartbeatMs: s.heartbeatMs, failureTimeoutMs: s.failureTimeoutMs, kernelTool: s.kernelTool, tunMtu: s.tunMtu, netnsInner, json: o.json, noReport: o.noReport === true });
    return runInNetns({ command: 'ftcp scenario run --client kernel', args, json: o.json }, io);
  }
  const stamp = new Date(io.nowMs()).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const dir = join(o.captureDir, `scenario-${basename(o.file).replace(/\.(ya?ml|json)$/, '')}-${stamp}`);
  mkdirSync(dir, { recursive: true });
  if (!o.json) io.stdout(`scenario ${s.name} (${o.file}): app ${s.app}, seed ${s.seed}, heartbeat ${s.heartbeatMs} ms, failure timeout ${s.failureTimeoutMs} ms${s.unsafeNoOutputRule ? ', UNSAFE: no output rule' : ''}\n`);
  if (!o.json && o.netnsInner !== undefined) io.stdout(`  the clients are the Linux kernel's (${s.kernelTool}), in network namespace ${o.netnsInner} (TUN device ${TUN_DEVICE} at ${KERNEL_ADDRESS}/24, mtu ${s.tunMtu})\n`);
  const kernel = o.netnsInner !== undefined ? scenarioKernel(s, o.netnsInner) : undefined;
  // SIGINT/SIGTERM: the children are stopped and the result printed, not cut off.
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupt.abort(signal);
  const stopListening = onStopSignal(onSignal);
  let result: ScenarioResult;
  try {
    // lines from several processes, released in time order (ordered-lines.ts)
    const ordered = new OrderedLines((text, ms) => {
      if (!o.json) io.stdout(`  ${`+${ms} ms`.padStart(10)}  ${text}\n`);
    });
    try {
      result = await runScenario(s, dir, (ms, text) => ordered.add(text, ms), kernel, interrupt.signal);
    } finally {
      ordered.flush();
    }
    result.timeline.sort((a, b) => a.ms - b.ms);
  } finally {
    stopListening();
  }
  printScenarioResult(result, dir, o.json, io);
  if (o.noReport !== true) writeRunReport(dir, scenarioVerdict(result), io, o.json);
  if (interrupt.signal.aborted) return 'interrupted';
  if (result.error !== undefined) return 'connection';
  return result.ok ? 'ok' : 'correctness';
}

function printScenarioResult(result: ScenarioResult, dir: string, json: boolean, io: LabIo): void {
  if (json) {
    io.stdout(`${JSON.stringify(result)}\n`);
    return;
  }
  const failed = result.checks.filter((c) => !c.ok);
  io.stdout(`result: ${result.ok ? 'ok' : 'FAILED'}: ${result.checks.length - failed.length} of ${result.checks.length} expectation(s) held\n`);
  for (const c of failed) io.stdout(`  step ${c.step}: expected ${c.check}, but ${c.detail}\n`);
  if (result.error !== undefined) io.stdout(`  error: ${result.error}\n`);
  if (result.kernel !== undefined) io.stdout(`${describeKernel(result.kernel as unknown as KernelReport).join('\n')}\n`);
  io.stdout(`captures and event logs: ${dir}/\n`);
}

/** The kernel side inside the namespace: socat's TUN bridge, tcpdump, nstat, and `ftcp kernel-client`. */
function scenarioKernel(s: Scenario, netns: string): ScenarioKernel {
  let side: KernelSide | undefined;
  return {
    switchOptions: kernelSwitchOptions(),
    async start(switchPort, dir) {
      side = await KernelSide.start({ netns, switchPort, mtu: s.tunMtu, dir });
      return `socat bridges TUN device ${TUN_DEVICE} (${KERNEL_ADDRESS}/24, mtu ${s.tunMtu}, pid ${side.bridge.pid}) to the switch${side.tcpdump !== undefined ? `; tcpdump on it (pid ${side.tcpdump.pid})` : ''}`;
    },
    startClient(children, load) {
      if (side === undefined) throw new ScenarioError('the load started before the network (start: network)');
      return startKernelClient(children, { ...load, app: load.app ?? s.app, seed: s.seed, bulkBytes: s.bulkBytes, tool: s.kernelTool });
    },
    async stop() {
      const report = side === undefined ? { netns, device: TUN_DEVICE, address: KERNEL_ADDRESS, mtu: s.tunMtu, nstat: { before: null, after: null, delta: null }, tcpdump: null, resets: null, notes: ['the TUN bridge was never started'] } : await side.stop();
      return report as unknown as Awaited<ReturnType<ScenarioKernel['stop']>>;
    },
  };
}
