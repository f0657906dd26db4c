/**
 * The connection table: 4-tuple -> socket (RFC 9293 §3.10.7: a segment is matched to its
 * connection by local and remote address and port). Looked up once per packet, so the key
 * is two numbers, not a string: each endpoint is address * 65536 + port (48 bits, exact
 * in a double). The remote endpoint keys a Map; its value is a flat list of
 * (local endpoint, socket) pairs, almost always one pair: a number array is far smaller
 * than a Map per remote endpoint, which matters with tens of thousands of connections.
 */
import type { SocketId } from './types.js';

export class TupleTable {
  /** remote endpoint -> [local endpoint, socket, local endpoint, socket, ...] */
  private readonly byRemote = new Map<number, number[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): SocketId | undefined {
    const pairs = this.byRemote.get(remoteAddr * 65536 + remotePort);
    if (pairs === undefined) return undefined;
    const local = localAddr * 65536 + localPort;
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === local) return pairs[i + 1];
    return undefined;
  }

  has(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): boolean {
    return this.get(localAddr, localPort, remoteAddr, remotePort) !== undefined;
  }

  set(localAddr: number, localPort: number, remoteAddr: number, remotePort: number, id: SocketId): void {
    const remote = remoteAddr * 65536 + remotePort;
    const local = localAddr * 65536 + localPort;
    const pairs = this.byRemote.get(remote);
    if (pairs === undefined) {
      this.byRemote.set(remote, [local, id]);
      this.count++;
      return;
    }
    for (let i = 0; i < pairs.length; i += 2) {
      if (pairs[i] === local) {
        pairs[i + 1] = id;
        return;
      }
    }
    pairs.push(local, id);
    this.count++;
  }

  delete(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): void {
    const remote = remoteAddr * 65536 + remotePort;
    const pairs = this.byRemote.get(remote);
    if (pairs === undefined) return;
    const local = localAddr * 65536 + localPort;
    for (let i = 0; i < pairs.length; i += 2) {
      if (pairs[i] !== local) continue;
      this.count--;
      if (pairs.length === 2) this.byRemote.delete(remote);
      else pairs.splice(i, 2);
      return;
    }
  }
}
