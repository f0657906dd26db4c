/**
 * `--arbiter`: the embedded arbiter's HOST:PORT (the default), or an etcd cluster as
 * `etcd://HOST:PORT[,HOST:PORT...]` (src/net/arbiter-etcd.ts).
 */
import { ETCD_SCHEME } from '../net/arbiter-etcd.js';
import type { Endpoint } from '../net/endpoint.js';
import { UsageError } from './io.js';
import { parseEndpointFlag } from './net-flags.js';

/** arbiterAt is the embedded arbiter, or (unused) the first etcd member when arbiterEtcd is set. */
export function parseArbiterFlag(flag: string, text: string): { arbiterAt: Endpoint; arbiterEtcd?: Endpoint[] } {
  const t = text.trim();
  if (!t.toLowerCase().startsWith(ETCD_SCHEME)) return { arbiterAt: parseEndpointFlag(flag, t, { allowPortZero: false }) };
  const list = t.slice(ETCD_SCHEME.length);
  if (list === '') throw new UsageError(`${flag} etcd:// needs at least one HOST:PORT (e.g. etcd://127.0.0.1:2379), got ${text}`);
  const endpoints = list.split(',').map((part) => parseEndpointFlag(`${flag} (etcd member ${JSON.stringify(part)})`, part, { allowPortZero: false }));
  return { arbiterAt: endpoints[0]!, arbiterEtcd: endpoints };
}
