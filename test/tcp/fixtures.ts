/**
 * Fixtures: a Pair with one connection in a named state (smoltcp's socket_established()
 * style). Side 'a' is the client (active opener, 192.0.2.1), side 'b' the server
 * (192.0.2.10:80). Each returns the pair and both socket ids.
 */
import type { SocketId, TcpStateName } from '../../src/tcp/types.js';
import { B_ADDR, Pair, type PairOptions, type Side } from './harness.js';

export const SERVER_PORT = 80;

export interface Conn {
  p: Pair;
  /** Client socket on stack a. */
  ca: SocketId;
  /** Server socket on stack b (accepted). */
  sb: SocketId;
  /** Listener on stack b. */
  lb: SocketId;
}

export function state(p: Pair, side: Side, id: SocketId): TcpStateName {
  return p.stack(side).info(id).state;
}

/** Both sides ESTABLISHED, the server's connection accepted, handshake packets delivered. */
export function established(opts: PairOptions = {}): Conn {
  const p = new Pair(opts);
  const lb = p.b.listen(p.now, { port: SERVER_PORT });
  const ca = p.a.connect(p.now, { remoteAddress: B_ADDR, remotePort: SERVER_PORT });
  let sb: SocketId | undefined;
  p.runUntil(() => {
    sb ??= p.b.accept(lb);
    return sb !== undefined && state(p, 'a', ca) === 'ESTABLISHED';
  });
  p.settle();
  return { p, ca, sb: sb!, lb };
}

/** a closed (FIN sent, not yet acknowledged): a in FIN-WAIT-1, b still ESTABLISHED. */
export function finWait1(opts: PairOptions = {}): Conn {
  const c = established(opts);
  c.p.a.shutdown(c.p.now, c.ca);
  c.p.flush();
  return c;
}

/** a's FIN acknowledged: a in FIN-WAIT-2, b in CLOSE-WAIT. */
export function finWait2(opts: PairOptions = {}): Conn {
  const c = established(opts);
  c.p.a.shutdown(c.p.now, c.ca);
  c.p.runUntil(() => state(c.p, 'a', c.ca) === 'FIN-WAIT-2');
  c.p.settle();
  return c;
}

/** Same as finWait2; named for the passive side (b in CLOSE-WAIT). */
export const closeWait = finWait2;

/** b closed too (FIN in flight): b in LAST-ACK, a in FIN-WAIT-2. */
export function lastAck(opts: PairOptions = {}): Conn {
  const c = finWait2(opts);
  c.p.b.shutdown(c.p.now, c.sb);
  c.p.flush();
  return c;
}

/** Simultaneous close: both FINs cross, both sides in CLOSING (ACKs not yet delivered). */
export function closing(opts: PairOptions = {}): Conn {
  const c = established(opts);
  c.p.a.shutdown(c.p.now, c.ca);
  c.p.b.shutdown(c.p.now, c.sb);
  c.p.runUntil(() => state(c.p, 'a', c.ca) === 'CLOSING' && state(c.p, 'b', c.sb) === 'CLOSING');
  return c;
}

/** Active close completed: a in TIME-WAIT, b CLOSED. */
export function timeWait(opts: PairOptions = {}): Conn {
  const c = finWait2(opts);
  c.p.b.shutdown(c.p.now, c.sb);
  c.p.runUntil(() => state(c.p, 'a', c.ca) === 'TIME-WAIT' && state(c.p, 'b', c.sb) === 'CLOSED');
  return c;
}
