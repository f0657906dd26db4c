/**
 * The TUN bridge to the real Linux kernel (DESIGN.md, "Network"): a network
 * namespace that the project makes and removes, a TUN device in it created by socat and
 * bridged over UDP to the switch, and the kernel tools run there (tcpdump on the device,
 * nstat for the kernel's TCP counters).
 *
 * The recipe checked on machines of this kind (DESIGN.md, "Checked on machines of this
 * kind"): `ip netns add`, its loopback up, then inside it
 *   socat -b 65536 TUN:192.0.2.1/24,up,iff-no-pi,tun-name=ftcp0 UDP:127.0.0.1:<switch>,sourceport=<p>
 * so the kernel routes 192.0.2.0/24 through ftcp0 to the switch, and the switch (its
 * `--static 192.0.2.1=127.0.0.1:<p>` entry) sends the packets for 192.0.2.1 back to socat.
 * socat exits when its UDP peer refuses a datagram, so the switch must be up first.
 *
 * Every namespace made here is recorded and removed on exit: the processes still in it are
 * killed by pid (`ip netns pids`), then `ip netns delete`. `ip netns exec` execs its
 * command, so a process started through it has the pid we were given.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { DEFAULT_NICE } from '../net/priority.js';
import { readPcap } from '../pcap/classic.js';

/** The kernel side's address (the TUN device's), and the device's name. */
export const KERNEL_ADDRESS = '192.0.2.1';
export const TUN_DEVICE = 'ftcp0';
/** socat's UDP source port: the namespace's loopback is fresh, and this is below the ephemeral range. */
export const TUN_BRIDGE_PORT = 9499;
export const DEFAULT_TUN_MTU = 1500;

/** Runs a command to completion (10 s at most): ok when it exited 0; stderr trimmed, or the spawn error. */
export function run(cmd: string, args: readonly string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.error === undefined && r.status === 0, stdout: r.stdout ?? '', stderr: (r.stderr ?? '').trim() || (r.error?.message ?? '') };
}

/** Whether `cmd` can be started at all (its exit status does not matter). */
export function hasCommand(cmd: string, args: readonly string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  return r.error === undefined;
}

/**
 * What the kernel mode lacks on this machine, one sentence each (empty when nothing):
 * root, `ip` (iproute2), socat, /dev/net/tun, and tcpdump when `tcpdump` is asked for.
 */
export function kernelModeMissing(opts: { tcpdump?: boolean } = {}): string[] {
  const missing: string[] = [];
  const uid = process.getuid?.();
  if (uid !== 0) missing.push(`root (running as uid ${uid ?? '?'}; network namespaces and TUN devices need root: run as root or with sudo)`);
  if (!hasCommand('ip', ['-V'])) missing.push('ip from iproute2 (apt-get install -y iproute2)');
  if (!hasCommand('socat', ['-V'])) missing.push('socat (apt-get install -y socat)');
  if (!existsSync('/dev/net/tun')) missing.push('/dev/net/tun (load the tun module: modprobe tun)');
  if (opts.tcpdump === true && !hasCommand('tcpdump', ['--version'])) missing.push('tcpdump (apt-get install -y tcpdump)');
  return missing;
}

/** The names `ip netns list` shows. */
export function listNetns(): string[] {
  const r = run('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

let made = 0;
const live = new Set<Netns>();
let exitHookInstalled = false;

function destroyLive(): void {
  for (const ns of [...live]) ns.destroy();
}

/**
 * SIGINT/SIGTERM when nothing else listens for it: remove the namespaces, then die of the
 * signal as Node would have. When another listener is there (a command's own shutdown), it
 * owns the signal, and the exit hook removes what its shutdown left.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  destroyLive();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.kill(process.pid, signal);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', destroyLive);
  // First in line, so that it sees a command's own once() listener before that one removes itself.
  process.prependListener('SIGINT', onSignal);
  process.prependListener('SIGTERM', onSignal);
}

export class NetnsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetnsError';
  }
}

/** A network namespace made by this process, named ftcp-<pid>-<n> (or as the caller chose). */
export class Netns {
  private removed = false;

  private constructor(readonly name: string) {}

  /** Makes the namespace and brings its loopback up; throws NetnsError with ip's message. */
  static create(prefix = 'ftcp'): Netns {
    return Netns.createNamed(`${prefix}-${process.pid}-${++made}`);
  }

  /** create() with the exact name (the caller makes it unique); removed on exit like the others. */
  static createNamed(name: string): Netns {
    const add = run('ip', ['netns', 'add', name]);
    if (!add.ok) throw new NetnsError(`ip netns add ${name} failed: ${add.stderr}`);
    const ns = new Netns(name);
    live.add(ns);
    installExitHook();
    const lo = run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    if (!lo.ok) {
      ns.destroy();
      throw new NetnsError(`ip -n ${name} link set lo up failed: ${lo.stderr}`);
    }
    return ns;
  }

  /** `ip netns exec NAME cmd args...` as [command, args]. */
  wrap(cmd: string, args: readonly string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.name, cmd, ...args]];
  }

  /** Pids of the processes in the namespace. */
  pids(): number[] {
    return netnsPids(this.name);
  }

  get exists(): boolean {
    return listNetns().includes(this.name);
  }

  /**
   * Kills, by pid, every process left in the namespace (SIGKILL), waits for them to go,
   * and deletes it (the TUN device goes with its socat). Synchronous, so it can run in an
   * exit handler. Returns the pids it killed and whether the namespace is gone.
   */
  destroy(): { killed: number[]; removed: boolean } {
    if (this.removed) return { killed: [], removed: true };
    const r = destroyNetns(this.name);
    this.removed = r.removed;
    if (this.removed) live.delete(this);
    return r;
  }
}

function netnsPids(name: string): number[] {
  return run('ip', ['netns', 'pids', name])
    .stdout.split('\n')
    .map((l) => Number(l.trim()))
    .filter((p) => Number.isInteger(p) && p > 0);
}

/** Netns.destroy by name (test teardown of a namespace another process made and left). */
export function destroyNetns(name: string): { killed: number[]; removed: boolean } {
  const killed: number[] = [];
  for (let round = 0; round < 50; round++) {
    const pids = netnsPids(name);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        if (!killed.includes(pid)) killed.push(pid);
      } catch {
        // gone already
      }
    }
    spawnSync('sleep', ['0.05']);
  }
  run('ip', ['netns', 'delete', name]);
  return { killed, removed: !listNetns().includes(name) };
}

/** Spawns `cmd` in `netns` (through `ip netns exec`), or here when netns is undefined (already inside). */
export function spawnIn(netns: string | undefined, cmd: string, args: readonly string[]): ChildProcess {
  const [c, a] = netns === undefined ? [cmd, [...args]] : ['ip', ['netns', 'exec', netns, cmd, ...args]];
  return spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function runIn(netns: string | undefined, cmd: string, args: readonly string[]): ReturnType<typeof run> {
  return netns === undefined ? run(cmd, args) : run('ip', ['netns', 'exec', netns, cmd, ...args]);
}

/** A helper process (socat, tcpdump), stopped by pid. */
export class Helper {
  stderr = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    child.stdout?.resume();
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
    if (this.exit !== undefined || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(this.child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface TunBridgeOptions {
  /** The namespace to run in; undefined when this process is already inside it. */
  netns?: string;
  switchPort: number;
  mtu?: number;
  sourcePort?: number;
}

/** socat's TUN device bridged to the switch over UDP on the namespace's loopback. */
export class TunBridge {
  private constructor(
    readonly socat: Helper,
    readonly mtu: number,
  ) {}

  get pid(): number {
    return this.socat.pid;
  }

  /** Starts socat, waits for the device, sets its MTU; throws NetnsError saying what failed. */
  static async start(o: TunBridgeOptions): Promise<TunBridge> {
    const mtu = o.mtu ?? DEFAULT_TUN_MTU;
    const tun = `TUN:${KERNEL_ADDRESS}/24,up,iff-no-pi,tun-name=${TUN_DEVICE}`;
    const udp = `UDP:127.0.0.1:${o.switchPort},sourceport=${o.sourcePort ?? TUN_BRIDGE_PORT}`;
    const socat = new Helper(spawnIn(o.netns, 'socat', ['-b', '65536', tun, udp]));
    const bridge = new TunBridge(socat, mtu);
    for (let i = 0; ; i++) {
      if (socat.exit !== undefined) throw new NetnsError(`socat exited (${socat.exit.code ?? socat.exit.signal}) before ${TUN_DEVICE} came up: ${socat.stderr.trim()}`);
      if (runIn(o.netns, 'ip', ['link', 'show', 'dev', TUN_DEVICE]).ok) break;
      if (i >= 100) {
        await socat.stop();
        throw new NetnsError(`${TUN_DEVICE} did not appear within 5 s of starting socat: ${socat.stderr.trim()}`);
      }
      await sleep(50);
    }
    const set = runIn(o.netns, 'ip', ['link', 'set', 'dev', TUN_DEVICE, 'mtu', String(mtu)]);
    if (!set.ok) {
      await socat.stop();
      throw new NetnsError(`ip link set dev ${TUN_DEVICE} mtu ${mtu} failed: ${set.stderr}`);
    }
    return bridge;
  }

  async stop(): Promise<void> {
    await this.socat.stop();
  }
}

/**
 * tcpdump on the TUN device, writing a pcap file; stop() flushes it. A 64 MiB capture buffer
 * (-B), because on a busy machine a bulk transfer at 1500 bytes a packet outruns the default
 * 2 MiB one; what tcpdump still missed is in its "dropped by kernel" count. It runs at the
 * cluster's own priority (DEFAULT_NICE): the replicas and the switch raise theirs, and an
 * observer left at nice 0 is then the one process starved on a busy machine, so its buffer
 * overflows while the run itself is fine. Not permitted leaves it at nice 0.
 */
export class Tcpdump {
  private constructor(readonly helper: Helper) {}

  static async start(o: { netns?: string; file: string; device?: string; filter?: string }): Promise<Tcpdump> {
    const args = ['-i', o.device ?? TUN_DEVICE, '-n', '-s', '0', '-B', '65536', '-U', '--immediate-mode', '-w', o.file, ...(o.filter !== undefined ? [o.filter] : [])];
    const helper = new Helper(spawnIn(o.netns, 'tcpdump', args));
    try {
      if (helper.pid > 0) setPriority(helper.pid, DEFAULT_NICE);
    } catch {
      // no CAP_SYS_NICE: tcpdump runs at nice 0, its drops are still counted
    }
    for (let i = 0; !/listening on/.test(helper.stderr); i++) {
      if (helper.exit !== undefined) throw new NetnsError(`tcpdump exited (${helper.exit.code ?? helper.exit.signal}): ${helper.stderr.trim()}`);
      if (i >= 100) {
        await helper.stop('SIGKILL');
        throw new NetnsError(`tcpdump did not start listening within 5 s: ${helper.stderr.trim()}`);
      }
      await sleep(50);
    }
    return new Tcpdump(helper);
  }

  get pid(): number {
    return this.helper.pid;
  }

  /** SIGINT (tcpdump flushes and prints its counts); resolves with "N packets captured". */
  async stop(): Promise<{ captured: number | null; droppedByKernel: number | null }> {
    await this.helper.stop('SIGINT');
    const num = (re: RegExp) => {
      const m = re.exec(this.helper.stderr);
      return m === null ? null : Number(m[1]);
    };
    return { captured: num(/(\d+) packets? captured/), droppedByKernel: num(/(\d+) packets? dropped by kernel/) };
  }
}

/**
 * RST segments in tcpdump's capture of the TUN device (raw IPv4), by direction: what the
 * kernel's clients sent (from KERNEL_ADDRESS) and what they received. Only the clients'
 * traffic crosses the device, so this is "was any client connection reset", whatever the tool.
 */
export function rstOnDevice(file: string): { fromKernel: number; toKernel: number } {
  const out = { fromKernel: 0, toKernel: 0 };
  const kernel = KERNEL_ADDRESS.split('.').map(Number);
  for (const p of readPcap(new Uint8Array(readFileSync(file))).packets) {
    const ihl = ((p[0] ?? 0) & 0x0f) * 4;
    if (p[0]! >> 4 !== 4 || p[9] !== 6 || p.length < ihl + 14 || (p[ihl + 13]! & 0x04) === 0) continue;
    if (kernel.every((b, i) => p[12 + i] === b)) out.fromKernel++;
    else out.toKernel++;
  }
  return out;
}

/**
 * The kernel counters that prove a duplicate was received and dropped (DESIGN.md). Not
 * TcpEstabResets: it counts the whole namespace, whose loopback also carries the log
 * channel and the arbiter, and a kill -9 resets those (rstOnDevice counts the clients').
 */
export const NSTAT_COUNTERS = ['TcpExtTCPDSACKOldSent', 'TcpExtDelayedACKLost'] as const;
export type NstatCounters = Record<(typeof NSTAT_COUNTERS)[number], number>;

/** Absolute values of NSTAT_COUNTERS in the namespace (`nstat -asz -j`, history untouched). */
export function readNstat(netns?: string): NstatCounters {
  const r = runIn(netns, 'nstat', ['-asz', '-j', ...NSTAT_COUNTERS]);
  if (!r.ok) throw new NetnsError(`nstat failed: ${r.stderr}`);
  const parsed = JSON.parse(r.stdout) as { kernel?: Record<string, number> };
  const k = parsed.kernel ?? {};
  return Object.fromEntries(NSTAT_COUNTERS.map((c) => [c, k[c] ?? 0])) as NstatCounters;
}

export function nstatDelta(before: NstatCounters, after: NstatCounters): NstatCounters {
  return Object.fromEntries(NSTAT_COUNTERS.map((c) => [c, after[c] - before[c]])) as NstatCounters;
}
