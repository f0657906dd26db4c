/**
 * `ftcp bench`'s scale group: `n` idle counter connections held by a replicated pair of
 * real replica processes (the switch, the arbiter and the log channel on loopback), the
 * memory each replica spends on them (RSS delta ÷ connections, primary and backup), then
 * kill -9 of the primary and one INCR on every connection: a connection survived when the
 * backup answers it with the right value. Nothing counted INCR before the kill, so the
 * answers are exactly 1..n, each once: a lost, duplicated or crossed connection shows.
 *
 * The client is one in-process ftcp stack (bench-client.ts) behind a UDP link to the
 * switch, with as many addresses of the test network 192.0.2.0/24 as the count needs
 * (ENDS_PER_ADDRESS connections each): 100,000 kernel sockets would cost this machine more
 * than the replicas it measures.
 */
import { parseIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import type { EventOf } from '../net/events.js';
import { DEFAULT_MAX_CONNECTIONS } from '../net/replica-options.js';
import { BenchClient, ENDS_PER_ADDRESS } from './bench-client.js';
import { rssBytes, SERVICE, SERVICE_PORT, startCluster, stopCluster, type PairSettings } from './bench-cluster.js';

/** Client addresses 192.0.2.1..9 (the service is .10, the replicas .11 on): at most this many connections. */
export const MAX_SCALE_CONNECTIONS = 9 * ENDS_PER_ADDRESS;

export interface ScaleResult {
  target: number;
  connections: number;
  clientAddresses: number;
  /** Handshakes completed per second while opening them. */
  connectPerSecond: number;
  rssBeforeBytes: { primary: number; backup: number };
  rssAfterBytes: { primary: number; backup: number };
  /** RSS delta ÷ connections, each replica. */
  bytesPerConnection: { primary: number; backup: number };
  /** Connections that answered their INCR after the kill with a value in 1..n not seen before. */
  survived: number;
  /** Connections that answered, but wrongly (a value out of range or seen twice). */
  wrong: number;
  failedOver: boolean;
  /** kill -9 of the primary -> the backup's `live` line, ms. */
  failoverMs: number;
  /** The pair split while the connections were opened (a false failover): no kill, survived not measured. */
  falseFailover: boolean;
  seconds: number;
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** A validator of INCR answers: an integer in 1..n, each value once. */
export function counterAnswers(n: number): { check: (line: string) => boolean; wrong: () => number } {
  const seen = new Uint8Array(n + 1);
  let wrong = 0;
  return {
    check: (line) => {
      const v = /^\d+$/.test(line) ? Number(line) : NaN;
      if (!(v >= 1 && v <= n) || seen[v] === 1) {
        wrong++;
        return false;
      }
      seen[v] = 1;
      return true;
    },
    wrong: () => wrong,
  };
}

/**
 * `perAddress`: connections from each client address (at most ENDS_PER_ADDRESS); a test
 * lowers it to open a small count from several addresses, as 100,000 are.
 */
export async function scale(n: number, pair: PairSettings, say: (s: string) => void, perAddress = ENDS_PER_ADDRESS): Promise<ScaleResult> {
  const start = performance.now();
  const addresses: Ipv4Addr[] = Array.from({ length: Math.ceil(n / perAddress) }, (_, i) => parseIpv4Addr(`192.0.2.${i + 1}`));
  const r = await startCluster('counter', 1, true, pair, undefined, undefined, { maxConnections: Math.max(n, DEFAULT_MAX_CONNECTIONS) });
  const backup = r.backup!;
  let client: BenchClient | undefined;
  try {
    client = await BenchClient.open({ switchAt: { host: '127.0.0.1', port: r.cluster.switchPort }, address: addresses[0]!, moreAddresses: addresses.slice(1), service: SERVICE, servicePort: SERVICE_PORT, seed: 7, maxConnections: n + 16, clusterKey: r.cluster.clusterKey });
    await sleep(500);
    const before = { primary: rssBytes(r.primary.pid), backup: rssBytes(backup.pid) };
    const openStart = performance.now();
    const split = () => backup.events.find((e) => e.event === 'suspect' || e.event === 'stopped') ?? r.primary.events.find((e) => e.event === 'suspect');
    const progress = (k: number) => {
      if (k % 10_000 !== 0 && k !== n) return;
      const s = split();
      say(`    ${k} connections open${s !== undefined ? ` (the pair split: ${s.name} ${s.event})` : ''}`);
    };
    const open = await client.openIdle(n, 32, progress, perAddress);
    const openSeconds = (performance.now() - openStart) / 1000;
    // Idle for a while: what an idle connection costs, not the garbage of its handshake.
    await sleep(3000);
    const after = { primary: rssBytes(r.primary.pid), backup: rssBytes(backup.pid) };
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    say(`    ${open.length} connections ESTABLISHED in ${openSeconds.toFixed(1)} s from ${addresses.length} client address(es); RSS primary ${mib(before.primary)} -> ${mib(after.primary)} MiB, backup ${mib(before.backup)} -> ${mib(after.backup)} MiB`);
    // A pair that split while the connections were opened (a false failover) has no backup
    // left to take over: a kill then measures nothing, and `survived` is not measured.
    const falseFailover = [r.primary, backup].some((c) => c.events.some((e) => e.event === 'suspect'));
    for (const c of [r.primary, backup]) {
      if (c.running) continue;
      const last = c.events.filter((e) => e.event !== 'exit').at(-1);
      say(`    note: ${c.label} exited before the kill (${c.exit?.code ?? c.exit?.signal ?? '?'}); last event ${JSON.stringify(last ?? null).slice(0, 300)}${c.stderrLine()}`);
    }
    let live: EventOf<'live'> | undefined;
    let survived = NaN;
    let wrong = NaN;
    let failoverMs = NaN;
    if (falseFailover) {
      say('    the pair split while the connections were opened (a replica was silent for longer than D): no failover to measure, scale.survived not measured');
    } else {
      const killedAt = performance.now();
      r.primary.signal('SIGKILL');
      live = await backup.waitFor((e) => e.event === 'live', 60_000, 'going live').catch(() => undefined);
      failoverMs = live === undefined ? NaN : performance.now() - killedAt;
      const answers = counterAnswers(open.length);
      const probeStart = performance.now();
      survived = live === undefined ? 0 : await client.probe(open, 'INCR\n', 256, 30_000, answers.check);
      wrong = answers.wrong();
      say(`    kill -9 of the primary: the backup live after ${failoverMs.toFixed(0)} ms; ${survived} of ${open.length} connections answered their INCR rightly (${wrong} wrongly) in ${((performance.now() - probeStart) / 1000).toFixed(1)} s`);
    }
    const per = (a: number, b: number) => (open.length === 0 ? NaN : (a - b) / open.length);
    return {
      target: n,
      connections: open.length,
      clientAddresses: addresses.length,
      connectPerSecond: open.length / openSeconds,
      rssBeforeBytes: before,
      rssAfterBytes: after,
      bytesPerConnection: { primary: per(after.primary, before.primary), backup: per(after.backup, before.backup) },
      survived,
      wrong,
      failedOver: live !== undefined,
      failoverMs,
      falseFailover,
      seconds: (performance.now() - start) / 1000,
    };
  } finally {
    await client?.close();
    await stopCluster(r.cluster);
  }
}
