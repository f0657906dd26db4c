/**
 * What ReplicaProcess.start opens before the replica exists: the service link (the switch's
 * UDP port or a TAP device through socat) and the arbiter (embedded or etcd), each of which
 * rejects with a one-line LinkError when the other side does not answer; and the captures.
 */
import { describeRsmConfig } from '../replica/replay-input.js';
import type { RsmConfig } from '../replica/rsm.js';
import { formatIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { serviceMacFor } from '../wire/ethernet.js';
import { ArbiterClient } from './arbiter-client.js';
import { EtcdArbiter, type ReplicaArbiter } from './arbiter-etcd.js';
import { ReplicaCaptures } from './replica-captures.js';
import { replicaCapturePaths } from './replica-host-report.js';
import { ARBITER_VIRTUAL_ADDRESS, probeTcp, replicaVirtualAddress, type ReplicaProcessOptions } from './replica-options.js';
import { openSwitchLink, openTapLink, type ServiceLink } from './service-link.js';
import { LinkError } from './udp-link.js';

/** The service link: a TAP device (--tap) or the switch (--switch). */
export async function openReplicaLink(opts: ReplicaProcessOptions, timeoutMs: number): Promise<ServiceLink> {
  if (opts.tap !== undefined) return openTapLink({ port: opts.tap.port, socatPort: opts.tap.socatPort, service: opts.service, serviceMac: opts.tap.mac ?? serviceMacFor(opts.service) });
  return openSwitchLink(
    { switchAt: opts.switchAt, bind: opts.bind, mtu: opts.mtu, clusterKey: opts.clusterKey, service: opts.service, address: replicaVirtualAddress(opts.name), startTimeoutMs: timeoutMs },
    (error) => new LinkError(error instanceof LinkError ? error.message.replace('is `ftcp switch` running there?', 'start `ftcp switch` first, or point --switch at it') : String(error)),
  );
}

/**
 * The arbiter: etcd after one successful contact (arbiter-etcd.ts), or the embedded one,
 * probed and then kept connected so that a test-and-set is one round trip
 * (arbiter-client.ts). Its close is pushed onto `opened` as soon as it exists.
 */
export async function openReplicaArbiter(opts: ReplicaProcessOptions, timeoutMs: number, opened: Array<() => unknown>): Promise<ReplicaArbiter> {
  if (opts.arbiterEtcd !== undefined) {
    const etcd = new EtcdArbiter({ endpoints: opts.arbiterEtcd, service: formatIpv4Addr(opts.service), ...(opts.etcdContactTimeoutMs !== undefined ? { contactTimeoutMs: opts.etcdContactTimeoutMs } : {}) });
    opened.push(() => etcd.close());
    await etcd.start(timeoutMs).catch((error: unknown) => {
      throw new LinkError(error instanceof Error ? error.message : String(error));
    });
    return etcd;
  }
  await probeTcp(opts.arbiterAt, 'arbiter', '--arbiter', timeoutMs);
  const embedded = new ArbiterClient({ server: opts.arbiterAt, service: formatIpv4Addr(opts.service), clusterKey: opts.clusterKey }).keepConnected();
  opened.push(() => embedded.close());
  return embedded;
}

/** The three captures (replica-captures.ts) under --capture-dir, or undefined without it. */
export function openReplicaCaptures(opts: ReplicaProcessOptions, address: Ipv4Addr, link: ServiceLink, rsmConfig: RsmConfig): ReplicaCaptures | undefined {
  const paths = replicaCapturePaths(opts);
  if (paths.wire === null || paths.log === null || paths.shadow === null) return undefined;
  return new ReplicaCaptures({
    name: opts.name,
    address,
    service: opts.service,
    arbiterAddress: ARBITER_VIRTUAL_ADDRESS,
    linkKind: link.kind,
    linkType: link.linkType,
    rsmDescription: describeRsmConfig({ rsm: rsmConfig, startUs: 0 }),
    paths: { wire: paths.wire, shadow: paths.shadow, log: paths.log },
    live: opts.live,
  });
}
