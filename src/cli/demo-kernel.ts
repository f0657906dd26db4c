/**
 * `ftcp demo failover --client kernel`: the failover demo with the Linux kernel's
 * own TCP as the client, through a TUN device (src/lab/netns.ts).
 *
 * Two halves:
 * - runKernelDemo, in the caller's namespace: checks for root, iproute2, socat and
 *   /dev/net/tun (says exactly what is missing and exits 2 without them), makes a network
 *   namespace ftcp-<pid>-<n>, and runs the demo again inside it (`ip netns exec NS node
 *   bin/ftcp.js demo failover ... --netns-inner NS`), so that the arbiter, the switch, the
 *   replicas, socat, tcpdump and the kernel client all live on the namespace's own loopback
 *   and touch none of the host's interfaces. When that ends — normally, on an error, or on
 *   SIGINT/SIGTERM (passed on to it) — every process left in the namespace is killed by pid
 *   and the namespace is deleted; the report says whether it is gone.
 * - KernelSide, in the inner demo: after the switch is up (with the static entry
 *   192.0.2.1 = socat's endpoint), starts socat's TUN bridge, tcpdump on the device and reads
 *   the kernel's counters (nstat) before and after the load.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FTCP_BIN, type Child, type Children } from '../lab/children.js';
import { DEFAULT_TUN_MTU, KERNEL_ADDRESS, kernelModeMissing, Netns, NetnsError, nstatDelta, readNstat, rstOnDevice, Tcpdump, TUN_BRIDGE_PORT, TUN_DEVICE, TunBridge, type NstatCounters } from '../lab/netns.js';
import { EXIT, type CliIo } from './io.js';
import type { LiveDemoOptions } from './demo-live.js';

/** The switch's flag that pins the kernel's address to socat's UDP endpoint. */
export function kernelSwitchArgs(): string[] {
  return ['--static', `${KERNEL_ADDRESS}=127.0.0.1:${TUN_BRIDGE_PORT}`];
}

/** The `demo failover` arguments that reproduce `o` inside the namespace. */
function innerArgs(o: LiveDemoOptions, netns: string): string[] {
  return [
    'demo', 'failover',
    '--seed', String(o.seed),
    '--app', o.app,
    '--connections', String(o.connections),
    '--bytes', String(o.bytes),
    '--kill-after-ms', String(o.killAfterMs),
    '--heartbeat-ms', String(o.heartbeatMs),
    '--failure-timeout-ms', String(o.failureTimeoutMs),
    '--capture-dir', o.captureDir,
    '--client', 'kernel',
    '--tun-mtu', String(o.tunMtu ?? DEFAULT_TUN_MTU),
    '--kernel-tool', o.kernelTool ?? 'node',
    '--netns-inner', netns,
    ...(o.unsafe ? ['--unsafe-no-output-rule'] : []),
    ...(o.json ? ['--json'] : []),
  ];
}

/** Outer half of the demo: check, make the namespace, run the demo inside it, remove the namespace. */
export function runKernelDemo(o: LiveDemoOptions, io: CliIo): Promise<number> {
  return runInNetns({ command: 'ftcp demo failover --client kernel', args: (ns) => innerArgs(o, ns), json: o.json }, io);
}

/**
 * The outer half of every `--client kernel` command (the demo, scenarios): checks for root,
 * iproute2, socat and /dev/net/tun (names what is missing, exits 2), makes a namespace, runs
 * `node bin/ftcp.js <args(ns)>` inside it with stdout passed on (with `json`, its last line is
 * the report and gets `netns: { name, removed, leftoverProcessesKilled }`, and `ok` false when
 * the namespace is not gone), and removes the namespace at the end, also after an error or
 * SIGINT/SIGTERM (passed on to the inner run; 130 then).
 */
export async function runInNetns(o: { command: string; args: (netns: string) => string[]; json: boolean }, io: CliIo): Promise<number> {
  const missing = kernelModeMissing();
  if (missing.length > 0) {
    io.stderr(`error: ${o.command} needs ${missing.join('; ')}\n`);
    return EXIT.usage;
  }
  let ns: Netns;
  try {
    ns = Netns.create();
  } catch (error) {
    io.stderr(`error: ${o.command}: ${error instanceof NetnsError ? error.message : String(error)}\n`);
    return EXIT.usage;
  }
  let inner: ReturnType<typeof spawn> | undefined;
  let interrupted: NodeJS.Signals | undefined;
  let escalate: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
    if (inner?.pid !== undefined && inner.exitCode === null) {
      try {
        process.kill(inner.pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
    // If the inner run does not stop by itself, the namespace's processes are killed below.
    escalate = setTimeout(() => ns.destroy(), 15_000);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let code: number;
  let stdout = '';
  try {
    const [cmd, args] = ns.wrap(process.execPath, [FTCP_BIN, ...o.args(ns.name)]);
    inner = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    inner.stdout!.on('data', (d: Buffer) => {
      if (o.json) stdout += d.toString();
      else io.stdout(d.toString());
    });
    code = await new Promise<number>((resolve) => inner!.on('exit', (c, s) => resolve(c ?? (s !== null ? 128 + 15 : 1))));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    clearTimeout(escalate);
  }
  const { killed, removed } = ns.destroy();
  const cleanup = { name: ns.name, removed, leftoverProcessesKilled: killed.length };
  if (!removed) code = code === EXIT.ok ? EXIT.correctness : code;
  if (o.json) {
    const lines = stdout.trimEnd().split('\n');
    const last = lines.pop() ?? '';
    for (const l of lines) io.stdout(`${l}\n`);
    try {
      const report = JSON.parse(last) as Record<string, unknown>;
      io.stdout(`${JSON.stringify({ ...report, ok: report['ok'] === true && removed, netns: cleanup })}\n`);
    } catch {
      io.stdout(`${last}\n`);
    }
  } else {
    io.stdout(`network namespace ${ns.name}: ${removed ? 'removed' : 'NOT removed'}, with its TUN device${killed.length > 0 ? `; ${killed.length} leftover process(es) killed by pid` : ''}\n`);
  }
  return interrupted !== undefined ? 130 : code;
}

export interface KernelReport {
  netns: string;
  device: string;
  address: string;
  mtu: number;
  nstat: { before: NstatCounters; after: NstatCounters | null; delta: NstatCounters | null };
  tcpdump: { file: string; captured: number | null; droppedByKernel: number | null } | null;
  /** RST segments tcpdump saw on the TUN device (rstOnDevice); null without tcpdump. */
  resets: { fromKernel: number; toKernel: number } | null;
  notes: string[];
}

/** Inner half: socat's TUN bridge, tcpdump on it, and the kernel's counters. */
export class KernelSide {
  private report_: KernelReport;

  private constructor(
    readonly bridge: TunBridge,
    readonly tcpdump: Tcpdump | undefined,
    report: KernelReport,
  ) {
    this.report_ = report;
  }

  /** Call after the switch is up (socat exits if its UDP peer is not there). */
  static async start(o: { netns: string; switchPort: number; mtu: number; dir: string }): Promise<KernelSide> {
    const notes: string[] = [];
    // No IPv6 router solicitations on the device: the captures hold only the test's packets.
    for (const which of ['all', 'default']) {
      try {
        writeFileSync(`/proc/sys/net/ipv6/conf/${which}/disable_ipv6`, '1');
      } catch {
        // no IPv6 in this kernel: nothing to quiet
      }
    }
    const bridge = await TunBridge.start({ switchPort: o.switchPort, mtu: o.mtu });
    let tcpdump: Tcpdump | undefined;
    const file = join(o.dir, 'kernel-tun.pcap');
    if (kernelModeMissing({ tcpdump: true }).some((m) => m.startsWith('tcpdump'))) {
      notes.push('tcpdump is not installed (apt-get install -y tcpdump): no capture on the TUN device');
    } else {
      try {
        tcpdump = await Tcpdump.start({ file, filter: 'tcp' });
      } catch (error) {
        notes.push(error instanceof Error ? error.message : String(error));
      }
    }
    let before: NstatCounters;
    try {
      before = readNstat();
    } catch (error) {
      await tcpdump?.stop();
      await bridge.stop();
      throw error;
    }
    return new KernelSide(bridge, tcpdump, {
      netns: o.netns,
      device: TUN_DEVICE,
      address: KERNEL_ADDRESS,
      mtu: o.mtu,
      nstat: { before, after: null, delta: null },
      tcpdump: tcpdump === undefined ? null : { file, captured: null, droppedByKernel: null },
      resets: null,
      notes,
    });
  }

  /** Reads the counters again, stops tcpdump and socat. Stopping twice is harmless. */
  async stop(): Promise<KernelReport> {
    const r = this.report_;
    if (r.nstat.after === null) {
      try {
        r.nstat.after = readNstat();
        r.nstat.delta = nstatDelta(r.nstat.before, r.nstat.after);
      } catch (error) {
        r.notes.push(error instanceof Error ? error.message : String(error));
      }
      if (this.tcpdump !== undefined && r.tcpdump !== null) {
        Object.assign(r.tcpdump, await this.tcpdump.stop());
        try {
          r.resets = rstOnDevice(r.tcpdump.file);
        } catch (error) {
          r.notes.push(`reading ${r.tcpdump.file}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      await this.bridge.stop();
    }
    return r;
  }

  get report(): KernelReport {
    return this.report_;
  }
}

/** Starts `ftcp kernel-client` (label 'client', like `ftcp client`) and waits for its started line. */
export async function startKernelClient(children: Children, o: { app: string; seed: number; bulkBytes: number; tool: string }, extra: string[]): Promise<Child> {
  const child = children.start('client', ['kernel-client', '--app', o.app, '--tool', o.tool, '--seed', String(o.seed), '--bulk-bytes', String(o.bulkBytes), '--json', ...extra]);
  await child.waitFor((e) => e.event === 'started', 20_000, 'its started line');
  return child;
}

/** The human lines of the report's `kernel` part. */
export function describeKernel(k: KernelReport): string[] {
  const d = k.nstat.delta;
  return [
    `  kernel (nstat in ${k.netns}): ${d === null ? 'counters not read' : `TcpExtTCPDSACKOldSent +${d.TcpExtTCPDSACKOldSent}, TcpExtDelayedACKLost +${d.TcpExtDelayedACKLost}${d.TcpExtTCPDSACKOldSent > 0 ? ': the kernel received duplicate segment(s), dropped them and said so with a D-SACK' : ': the kernel received no duplicate data segment'}`}`,
    ...(k.tcpdump !== null ? [`  tcpdump on ${k.device} (mtu ${k.mtu}) in the namespace: ${k.tcpdump.file} (${k.tcpdump.captured ?? '?'} packets${k.tcpdump.droppedByKernel ? `; it missed ${k.tcpdump.droppedByKernel}` : ''}; RST segments: ${k.resets === null ? '?' : `${k.resets.fromKernel} from the kernel, ${k.resets.toKernel} to it`})`] : []),
    ...k.notes.map((n) => `  note: ${n}`),
  ];
}

/** What the kernel client did, for the report's `client` part: the tool, requests answered and checked, connections curl opened. */
export function kernelToolSummary(result: Record<string, unknown> | undefined, tool: string): { tool: string; requests: number | null; connectionsOpened: number | null } {
  const conns = result?.['conns'] as Array<{ requests: number }> | undefined;
  return {
    tool,
    requests: conns === undefined ? null : conns.reduce((n, c) => n + c.requests, 0),
    connectionsOpened: typeof result?.['connectionsOpened'] === 'number' ? result['connectionsOpened'] : null,
  };
}

export function describeKernelTool(s: ReturnType<typeof kernelToolSummary>): string {
  const what = s.tool === 'curl' ? `HTTP requests, every body checked, on ${s.connectionsOpened ?? '?'} keep-alive connection(s) in all` : s.tool === 'nc' ? 'chunks of the seeded byte pattern sent through nc, every byte compared' : 'requests, every byte checked';
  return `  kernel client ${s.tool}: ${s.requests ?? '?'} ${what}`;
}

/** The problem a report's RST count makes (none when no RST crossed the device, or without tcpdump). */
export function kernelResetProblem(k: KernelReport | undefined): string | undefined {
  const r = k?.resets;
  if (r === null || r === undefined || r.fromKernel + r.toKernel === 0) return undefined;
  return `RST segments crossed the TUN device (tcpdump): ${r.fromKernel} from the kernel, ${r.toKernel} to it`;
}
