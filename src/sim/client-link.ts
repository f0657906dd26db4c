/**
 * What crosses the client link at the TCP level, counted at the client's side: RST
 * segments by direction (as the lab counts them on a kernel client's TUN device, netns.ts
 * rstOnDevice) and every FIN, with its time and the client's port. The close-time failover
 * campaign (close-sweep.ts) reads the FIN times of a run without a kill to place its kills
 * around a connection's close, and asserts that no RST crossed the link.
 *
 * Counted where the client sees a packet: its own at egress (before the link's faults),
 * the service's at delivery (after them).
 */
import type { Ipv4Addr } from '../wire/addr.js';
import { TCP_FIN, TCP_RST } from '../wire/tcp.js';
import type { Network } from './network.js';

export interface ClientLinkTcp {
  /** RST segments the client sent, and those delivered to it. */
  resets: { fromClient: number; toClient: number };
  /** Every FIN segment: when, which way, the client's port (the first one per connection and direction is enough for a reader). */
  fins: Array<{ timeUs: number; fromClient: boolean; clientPort: number }>;
}

/** TCP flags and the client's port of a raw IPv4 packet; undefined when it is not TCP. */
function tcpFlags(p: Uint8Array, clientIsSource: boolean): { flags: number; clientPort: number } | undefined {
  if (p.length < 20 || p[0]! >> 4 !== 4 || p[9] !== 6) return undefined;
  const ihl = (p[0]! & 0x0f) * 4;
  if (p.length < ihl + 14) return undefined;
  const at = clientIsSource ? ihl : ihl + 2;
  return { flags: p[ihl + 13]!, clientPort: (p[at]! << 8) | p[at + 1]! };
}

/** Watches the client's TCP segments on `network` from now on. */
export function watchClientLink(network: Network, client: Ipv4Addr): ClientLinkTcp {
  const seen: ClientLinkTcp = { resets: { fromClient: 0, toClient: 0 }, fins: [] };
  const count = (timeUs: number, bytes: Uint8Array, fromClient: boolean) => {
    const t = tcpFlags(bytes, fromClient);
    if (t === undefined) return;
    if (t.flags & TCP_RST) {
      if (fromClient) seen.resets.fromClient++;
      else seen.resets.toClient++;
    }
    if (t.flags & TCP_FIN) seen.fins.push({ timeUs, fromClient, clientPort: t.clientPort });
  };
  network.addTap({
    onSend(t) {
      if (t.from === client) count(t.timeUs, t.bytes, true);
    },
    onDeliver(t) {
      if (t.to === client && t.copy.corruptedBit === undefined) count(t.timeUs, t.bytes, false);
    },
  });
  return seen;
}
