/**
 * A local etcd cluster on loopback (Debian's etcd-server, 3.4) for the tests and demos of
 * the etcd arbiter (arbiter-etcd.ts): N members on free ports, data directories and logs
 * under one directory, each member a child process stopped or killed by its pid.
 *
 * With `hosts` (the LAN lab, lan-cluster.ts) member i runs in hosts[i]'s network namespace
 * (`ip netns exec`, which execs: the pid is etcd's) on that host's address, ports 2379 and
 * 2380 as in a real deployment, and its health is asked by curl in the same namespace.
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

/** Where a member runs on the LAN lab: a host's namespace and address. */
export interface EtcdHost {
  netns: string;
  address: string;
}

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;

interface Member {
  name: string;
  host: string;
  netns: string | undefined;
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
  static async start(dir: string, opts: { size?: number; timeoutMs?: number; hosts?: readonly EtcdHost[] } = {}): Promise<EtcdCluster> {
    const size = opts.hosts?.length ?? opts.size ?? 3;
    mkdirSync(dir, { recursive: true });
    const members: Member[] = [];
    for (let i = 0; i < size; i++) {
      const at = opts.hosts?.[i];
      const ports = at === undefined ? { clientPort: await freePort(), peerPort: await freePort() } : { clientPort: ETCD_CLIENT_PORT, peerPort: ETCD_PEER_PORT };
      members.push({ name: `m${i}`, host: at?.address ?? '127.0.0.1', netns: at?.netns, ...ports, dataDir: join(dir, `m${i}.etcd`), proc: undefined, exited: undefined });
    }
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
    return this.members.map((m) => ({ host: m.host, port: m.clientPort }));
  }

  /** `etcd://host0:p0,host1:p1,...`: the --arbiter value. */
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

  /** The index of the member that leads the cluster now (the gRPC gateway's maintenance status of a running member), or undefined. */
  async leader(): Promise<number | undefined> {
    for (const m of this.members.filter((x) => x.proc !== undefined)) {
      try {
        const status = JSON.parse(await ask(m, '/v3/maintenance/status', '{}')) as { header?: { member_id?: string }; leader?: string };
        if (status.leader === undefined || status.leader === '0') continue;
        for (const [i, other] of this.members.entries()) {
          if (other.proc === undefined) continue;
          const id = (JSON.parse(await ask(other, '/v3/maintenance/status', '{}')) as { header?: { member_id?: string } }).header?.member_id;
          if (id === status.leader) return i;
        }
      } catch {
        // this member did not answer: ask the next
      }
    }
    return undefined;
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
      const answers = await Promise.all(running.map((m) => health(m)));
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
    const url = (port: number, host = m.host) => `http://${host}:${port}`;
    const initial = this.members.map((x) => `${x.name}=${url(x.peerPort, x.host)}`).join(',');
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
    const [cmd, argv] = m.netns === undefined ? [etcdPath(), args] : ['ip', ['netns', 'exec', m.netns, etcdPath(), ...args]];
    const proc = spawn(cmd, argv, { stdio: ['ignore', log, log] });
    closeSync(log);
    m.proc = proc;
    m.exited = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
      proc.once('error', () => resolve());
    });
  }
}

/** true when the member says it is healthy, else why not (in a namespace: asked by curl there). */
/** GET (or POST `body` to) a member's HTTP path: from this process, or with curl in the member's namespace. */
async function ask(m: Member, path: string, body?: string): Promise<string> {
  const url = `http://${m.host}:${m.clientPort}${path}`;
  if (m.netns === undefined) return (await fetch(url, { signal: AbortSignal.timeout(2000), ...(body !== undefined ? { method: 'POST', body } : {}) })).text();
  return new Promise<string>((resolve, reject) => {
    const curl = spawn('ip', ['netns', 'exec', m.netns!, 'curl', '-s', '-m', '2', ...(body !== undefined ? ['-X', 'POST', '-d', body] : []), url], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    curl.stdout.on('data', (d: Buffer) => (out += d.toString()));
    curl.once('error', reject);
    curl.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`curl exited ${code ?? 'by a signal'}`))));
  });
}

async function health(m: Member): Promise<true | string> {
  try {
    const text = await ask(m, '/health');
    const body = JSON.parse(text) as { health?: string; reason?: string };
    return body.health === 'true' ? true : `member ${m.host}:${m.clientPort}: ${body.reason ?? JSON.stringify(body)}`;
  } catch (error) {
    return `member ${m.host}:${m.clientPort}: ${error instanceof Error ? error.message : String(error)}`;
  }
}
