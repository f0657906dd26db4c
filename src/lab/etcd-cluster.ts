/**
 * A local etcd cluster on loopback (Debian's etcd-server, 3.4) for the tests and demos of
 * the etcd arbiter (arbiter-etcd.ts): N members on free ports, data directories and logs
 * under one directory, each member a child process stopped or killed by its pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import type { Endpoint } from '../net/endpoint.js';
import { formatEtcdUrl } from '../net/arbiter-etcd.js';

export const ETCD_INSTALL_HINT = 'etcd not installed: apt-get install -y etcd-server';

/** The etcd binary: $ETCD if set, else `etcd` on PATH. */
export function etcdPath(): string {
  return process.env['ETCD'] || 'etcd';
}

/** The first line of `etcd --version`, or null when etcd cannot be run. */
export function etcdVersion(): string | null {
  const r = spawnSync(etcdPath(), ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return r.error || r.status !== 0 ? null : (r.stdout.split('\n')[0] ?? '').trim();
}

/** A free TCP port on 127.0.0.1 (bound and released: a small race, fine on loopback tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  proc: ChildProcess | undefined;
  exited: Promise<void> | undefined;
}

export class EtcdCluster {
  private constructor(
    readonly dir: string,
    private readonly members: Member[],
    private readonly token: string,
  ) {}

  /** Starts `size` members under `dir` and waits until the cluster has a leader. */
  static async start(dir: string, opts: { size?: number; timeoutMs?: number } = {}): Promise<EtcdCluster> {
    const size = opts.size ?? 3;
    mkdirSync(dir, { recursive: true });
    const members: Member[] = [];
    for (let i = 0; i < size; i++) members.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort(), dataDir: join(dir, `m${i}.etcd`), proc: undefined, exited: undefined });
    const cluster = new EtcdCluster(dir, members, `ftcp-${process.pid}-${Date.now()}`);
    try {
      for (let i = 0; i < size; i++) cluster.spawn(i);
      await cluster.waitHealthy(opts.timeoutMs ?? 30_000);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get size(): number {
    return this.members.length;
  }

  endpoints(): Endpoint[] {
    return this.members.map((m) => ({ host: '127.0.0.1', port: m.clientPort }));
  }

  /** `etcd://127.0.0.1:p0,127.0.0.1:p1,...`: the --arbiter value. */
  url(): string {
    return formatEtcdUrl(this.endpoints());
  }

  pid(i: number): number | undefined {
    return this.members[i]?.proc?.pid;
  }

  /** kill -9 member i (by pid) and wait for it to exit. */
  async kill(i: number): Promise<void> {
    const m = this.members[i]!;
    if (m.proc?.pid !== undefined && m.proc.exitCode === null && m.proc.signalCode === null) process.kill(m.proc.pid, 'SIGKILL');
    await m.exited;
    m.proc = undefined;
  }

  /** Starts member i again with its data directory (it rejoins the cluster). */
  restart(i: number): void {
    if (this.members[i]!.proc !== undefined) throw new Error(`etcd member ${i} is running`);
    this.spawn(i);
  }

  /** Until a linearizable request would succeed: every running member reports health (a leader, a quorum). */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last = 'no answer';
    for (;;) {
      const running = this.members.filter((m) => m.proc !== undefined);
      const dead = running.find((m) => m.proc!.exitCode !== null || m.proc!.signalCode !== null);
      if (dead !== undefined) throw new Error(`etcd member ${dead.name} exited (${dead.proc!.exitCode ?? dead.proc!.signalCode}); see ${join(this.dir, `${dead.name}.log`)}`);
      const answers = await Promise.all(running.map((m) => health(m.clientPort)));
      if (answers.every((a) => a === true)) return;
      last = answers.find((a) => a !== true) as string;
      if (Date.now() >= until) throw new Error(`the etcd cluster in ${this.dir} is not healthy after ${timeoutMs} ms: ${last}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGTERM every running member by pid (SIGKILL after 5 s) and wait. */
  async stop(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const p = m.proc;
        if (p?.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
        process.kill(p.pid, 'SIGTERM');
        const timer = setTimeout(() => {
          if (p.exitCode === null && p.signalCode === null) process.kill(p.pid!, 'SIGKILL');
        }, 5000);
        await m.exited;
        clearTimeout(timer);
        m.proc = undefined;
      }),
    );
  }

  private spawn(i: number): void {
    const m = this.members[i]!;
    const url = (port: number) => `http://127.0.0.1:${port}`;
    const initial = this.members.map((x) => `${x.name}=${url(x.peerPort)}`).join(',');
    const args = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', url(m.clientPort),
      '--advertise-client-urls', url(m.clientPort),
      '--listen-peer-urls', url(m.peerPort),
      '--initial-advertise-peer-urls', url(m.peerPort),
      '--initial-cluster', initial,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', this.token,
      '--heartbeat-interval', '100',
      '--election-timeout', '1000',
      '--logger', 'zap',
      '--log-level', 'warn',
    ];
    const log = openSync(join(this.dir, `${m.name}.log`), 'a');
    const proc = spawn(etcdPath(), args, { stdio: ['ignore', log, log] });
    closeSync(log);
    m.proc = proc;
    m.exited = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
      proc.once('error', () => resolve());
    });
  }
}

/** true when the member at `port` says it is healthy, else why not. */
async function health(port: number): Promise<true | string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { health?: string; reason?: string };
    return body.health === 'true' ? true : `member :${port}: ${body.reason ?? JSON.stringify(body)}`;
  } catch (error) {
    return `member :${port}: ${error instanceof Error ? error.message : String(error)}`;
  }
}
