/**
 * The start claim of `ftcp serve` (serve.ts): when no configured peer's log channel answers,
 * a replica does not serve on its own say-so; it asks the arbiter for the test-and-set of
 * epoch 0, whose winner starts epoch 1 (replica/arbiter.ts: the winner of e starts e+1).
 * Exactly one asker ever wins it, so of replicas started at the same moment exactly one
 * serves and the others join it as backups. Asking again is safe: the answer always names
 * the same winner (a restarted first primary that finds no peer serves again).
 *
 * Epoch 0 is apart from the failover epochs: the first primary serves epoch 1, and its
 * backup asks for the test-and-set of epoch 1 when it fails, as before.
 */
import { formatIpv4Addr } from '../wire/addr.js';
import { ArbiterClient } from './arbiter-client.js';
import { EtcdArbiter, type ReplicaArbiter } from './arbiter-etcd.js';
import type { ReplicaProcessOptions } from './replica-options.js';

/** The epoch whose test-and-set decides who starts epoch 1. */
export const START_CLAIM_EPOCH = 0;

export type StartClaim = { winner: string } | { error: string };

/** Asks the run's arbiter (embedded or etcd) who starts epoch 1, as `opts.name`; never throws. */
export async function claimStart(opts: ReplicaProcessOptions, timeoutMs: number): Promise<StartClaim> {
  const service = formatIpv4Addr(opts.service);
  let arbiter: ReplicaArbiter | undefined;
  try {
    if (opts.arbiterEtcd !== undefined) {
      const etcd = new EtcdArbiter({ endpoints: opts.arbiterEtcd, service, ...(opts.etcdContactTimeoutMs !== undefined ? { contactTimeoutMs: opts.etcdContactTimeoutMs } : {}) });
      arbiter = etcd;
      await etcd.start(timeoutMs);
    } else {
      arbiter = new ArbiterClient({ server: opts.arbiterAt, service, clusterKey: opts.clusterKey });
    }
    const r = await arbiter.testAndSet(START_CLAIM_EPOCH, opts.name, { timeoutMs });
    return { winner: r.winner };
  } catch (error) {
    return { error: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
  } finally {
    arbiter?.close();
  }
}
