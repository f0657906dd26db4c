/**
 * The Linux kernel as a conformance target: a network namespace made for one script
 * (removed after it, also on failure and on Ctrl-C: src/lab/netns.ts), the sysctls set in
 * it, and the helper (helper-py.ts) that owns a TUN device there and makes the socket calls.
 * The kernel's address is on the TUN device as a /24, so every packet it sends to the
 * script's address comes out of the device to us, and every packet we write into the
 * device is one the kernel received.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { kernelModeMissing, Netns, NetnsError, run } from '../../lab/netns.js';
import { HELPER_PY } from './helper-py.js';

export const CONFORMANCE_TUN = 'ftcpc0';

/** The linux target cannot run here (no root, a missing tool), or its namespace failed. */
export class LinuxTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LinuxTargetError';
  }
}

let python: string | undefined;

/**
 * The python3 interpreter's own path, asked once: a version manager's `python3` may be a
 * shell shim that takes seconds to start, and the helper starts once per script.
 */
function pythonExecutable(): string | undefined {
  if (python === undefined) {
    const r = run('python3', ['-c', 'import socket, sys; print(sys.executable)']);
    if (r.ok && r.stdout.trim() !== '') python = r.stdout.trim();
  }
  return python;
}

/** What the linux target lacks on this machine, one sentence each (empty when nothing). */
export function linuxTargetMissing(): string[] {
  const missing = kernelModeMissing().filter((m) => !m.startsWith('socat'));
  if (pythonExecutable() === undefined) missing.push('python3 (apt-get install -y python3)');
  return missing;
}

export interface KernelSetup {
  /** The kernel's address, a.b.c.d, on the TUN device as a /24. */
  localAddress: string;
  mtu: number;
  /** name=value, set inside the namespace only. */
  sysctls: Record<string, string>;
  /** Congestion control of every socket (TCP_CONGESTION): cubic, reno. */
  congestionControl: string;
  /** Minimum RTO of the route through the device (`ip route ... rto_min`), when the script sets one. */
  rtoMinMs?: number;
}

export interface CallReturn {
  value: number;
  errno?: string;
  /** CLOCK_MONOTONIC µs when the helper began the call, and when it returned. */
  ts: number;
  t: number;
  lport?: number;
  optval?: number;
  onoff?: number;
  linger?: number;
  /** poll's revents per entry; epoll_wait's events (script descriptors). */
  revents?: number[];
  events?: { fd: number; events: number }[];
}

interface HelperMessage extends Partial<CallReturn> {
  ev: 'ready' | 'pkt' | 'ret' | 'blocked';
  id?: number;
  hex?: string;
}

/** A call found blocking: when the helper began it. */
export interface Blocked {
  blockedSince: number;
}

/** A call in flight: `started` settles when it returned or was found blocking, `done` when it returned. */
export interface CallHandle {
  started: Promise<Blocked | CallReturn>;
  done: Promise<CallReturn>;
}

interface CallWaiter {
  resolveStarted: (v: Blocked | CallReturn) => void;
  resolveDone: (v: CallReturn) => void;
}

/** What a call gets when the helper is gone (the run reports the helper's failure). */
function helperGone(): CallReturn {
  const t = monotonicUs();
  return { value: -1, errno: 'EHELPER', ts: t, t };
}

/** CLOCK_MONOTONIC in µs, as the helper's time.monotonic_ns() reads it. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export class KernelHost {
  private nextId = 1;
  private readonly waiters = new Map<number, CallWaiter>();
  private exitedWith: string | undefined;
  private stderr = '';
  private readonly exited: Promise<void>;
  private onExit: (() => void) | undefined;

  private constructor(
    readonly netns: Netns,
    private readonly child: ChildProcess,
    private readonly onPacket: (tUs: number, bytes: Uint8Array) => void,
  ) {
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exitedWith = `the helper exited (${code ?? signal})${this.stderr.trim() === '' ? '' : `: ${this.stderr.trim().split('\n').pop()}`}`;
        for (const w of this.waiters.values()) w.resolveDone(helperGone());
        this.onExit?.();
        resolve();
      }),
    );
  }

  /** Makes the namespace, sets the sysctls, starts the helper and brings the device up. */
  static async start(setup: KernelSetup, onPacket: (tUs: number, bytes: Uint8Array) => void): Promise<KernelHost> {
    const missing = linuxTargetMissing();
    if (missing.length > 0) throw new LinuxTargetError(`the linux target needs ${missing.join('; ')}`);
    let netns: Netns;
    try {
      netns = Netns.create('ftcp-conf');
    } catch (error) {
      throw new LinuxTargetError((error as NetnsError).message);
    }
    try {
      const sysctls = Object.entries(setup.sysctls).map(([k, v]) => `${k}=${v}`);
      const sys = run('ip', ['netns', 'exec', netns.name, 'sysctl', '-q', '-w', ...sysctls]);
      if (!sys.ok) throw new LinuxTargetError(`setting sysctls in ${netns.name} failed: ${sys.stderr}`);
      const child = spawn('ip', ['netns', 'exec', netns.name, 'nice', '-n', '-10', pythonExecutable() ?? 'python3', '-u', '-c', HELPER_PY, CONFORMANCE_TUN, setup.congestionControl], { stdio: ['pipe', 'pipe', 'pipe'] });
      const host = new KernelHost(netns, child, onPacket);
      await host.waitReady();
      host.configure(setup);
      return host;
    } catch (error) {
      netns.destroy();
      if (error instanceof LinuxTargetError) throw error;
      throw new LinuxTargetError((error as Error).message);
    }
  }

  private waitReady(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new LinuxTargetError(`the helper did not start within 10 s: ${this.stderr.trim()}`)), 10_000);
      this.onExit = () => {
        clearTimeout(timer);
        reject(new LinuxTargetError(this.exitedWith ?? 'the helper exited'));
      };
      const lines = createInterface({ input: this.child.stdout! });
      lines.on('line', (line) => {
        const m = JSON.parse(line) as HelperMessage;
        if (m.ev === 'ready') {
          clearTimeout(timer);
          this.onExit = undefined;
          resolve();
        } else this.message(m);
      });
    });
  }

  private configure(setup: KernelSetup): void {
    const ns = this.netns.name;
    const steps: string[][] = [
      ['addr', 'add', `${setup.localAddress}/24`, 'dev', CONFORMANCE_TUN],
      ['link', 'set', 'dev', CONFORMANCE_TUN, 'mtu', String(setup.mtu), 'up'],
    ];
    if (setup.rtoMinMs !== undefined) {
      const net = setup.localAddress.replace(/\.\d+$/, '.0/24');
      steps.push(['route', 'replace', net, 'dev', CONFORMANCE_TUN, 'src', setup.localAddress, 'rto_min', `${setup.rtoMinMs}ms`]);
    }
    for (const args of steps) {
      const r = run('ip', ['-n', ns, ...args]);
      if (!r.ok) throw new LinuxTargetError(`ip -n ${ns} ${args.join(' ')} failed: ${r.stderr}`);
    }
    // packetdrill's defaults.sh does the same: a pacing qdisc would move packets off their scripted times.
    const tc = run('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'replace', 'dev', CONFORMANCE_TUN, 'root', 'pfifo']);
    if (!tc.ok) throw new LinuxTargetError(`tc qdisc replace dev ${CONFORMANCE_TUN} root pfifo failed: ${tc.stderr}`);
  }

  private message(m: HelperMessage): void {
    if (m.ev === 'pkt') {
      this.onPacket(m.t!, Uint8Array.from(Buffer.from(m.hex!, 'hex')));
      return;
    }
    const w = m.id === undefined ? undefined : this.waiters.get(m.id);
    if (w === undefined) return;
    if (m.ev === 'blocked') {
      w.resolveStarted({ blockedSince: m.ts! });
      return;
    }
    const ret: CallReturn = { value: m.value!, ts: m.ts!, t: m.t! };
    for (const k of ['errno', 'lport', 'optval', 'onoff', 'linger', 'revents', 'events'] as const) if (m[k] !== undefined) (ret as unknown as Record<string, unknown>)[k] = m[k];
    this.waiters.delete(m.id!);
    w.resolveStarted(ret);
    w.resolveDone(ret);
  }

  /** Why the helper is gone, or undefined while it runs. */
  get failure(): string | undefined {
    return this.exitedWith;
  }

  /** Writes a packet into the device; resolves when it is written (`ts`, `t`: before and after). */
  inject(bytes: Uint8Array): Promise<CallReturn> {
    return this.command({ op: 'inject', hex: Buffer.from(bytes).toString('hex') }).done;
  }

  call(args: Record<string, unknown>, mayBlock: boolean): CallHandle {
    return this.command({ op: 'call', mayBlock, ...args });
  }

  private command(args: Record<string, unknown>): CallHandle {
    const id = this.nextId++;
    let resolveStarted!: CallWaiter['resolveStarted'];
    let resolveDone!: CallWaiter['resolveDone'];
    const started = new Promise<Blocked | CallReturn>((r) => (resolveStarted = r));
    const done = new Promise<CallReturn>((r) => (resolveDone = r));
    this.waiters.set(id, { resolveStarted, resolveDone });
    if (this.exitedWith !== undefined) resolveDone(helperGone());
    else this.send({ id, ...args });
    void done.then((r) => resolveStarted(r));
    return { started, done };
  }

  private send(obj: Record<string, unknown>): void {
    if (this.exitedWith !== undefined || this.child.stdin?.writable !== true) return;
    this.child.stdin.write(`${JSON.stringify(obj)}\n`);
  }

  /** Stops the helper (by its pid) and removes the namespace. */
  async stop(): Promise<void> {
    if (this.exitedWith === undefined && this.child.pid !== undefined) {
      this.send({ op: 'quit' });
      const timer = setTimeout(() => {
        try {
          process.kill(this.child.pid!, 'SIGKILL');
        } catch {
          // gone already
        }
      }, 1000);
      await this.exited;
      clearTimeout(timer);
    }
    this.netns.destroy();
  }
}
