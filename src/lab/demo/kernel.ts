/**
 * The Linux kernel's own TCP as the client (`ftcp demo failover --client kernel`, scenarios
 * with `client: kernel`), inside the network namespace the outer run made (netns-run.ts):
 * KernelSide, after the switch is up (with the static entry 192.0.2.1 = socat's endpoint),
 * starts socat's TUN bridge, tcpdump on the device and reads the kernel's counters (nstat)
 * before and after the load; `ftcp kernel-client` is the load; and the report's `kernel` part.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Child, Children } from '../children.js';
import { kernelClientArgv, loopback, type KernelClientLaunch, type StaticEntry } from '../launch.js';
import { KERNEL_ADDRESS, kernelModeMissing, nstatDelta, readNstat, rstOnDevice, Tcpdump, TUN_BRIDGE_PORT, TUN_DEVICE, TunBridge, type NstatCounters } from '../netns.js';

/** The switch's static entry that pins the kernel's address to socat's UDP endpoint. */
export function kernelSwitchOptions(): { static: StaticEntry[] } {
  return { static: [{ address: KERNEL_ADDRESS, host: loopback(TUN_BRIDGE_PORT) }] };
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
export async function startKernelClient(children: Children, o: KernelClientLaunch): Promise<Child> {
  const child = children.start('client', kernelClientArgv(o));
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
