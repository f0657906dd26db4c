/**
 * The connection table: 4-tuple -> socket (RFC 9293 §3.10.7: a segment is matched to its
 * connection by local and remote address and port). Looked up once per packet, so the key
 * is two numbers, not a string: remote (address, port) outside, local (address, port)
 * inside, each address * 65536 + port (48 bits, exact in a double).
 */
import type { SocketId } from './types.js';

export class TupleTable {
  private readonly byRemote = new Map<number, Map<number, SocketId>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): SocketId | undefined {
    return this.byRemote.get(remoteAddr * 65536 + remotePort)?.get(localAddr * 65536 + localPort);
  }

  has(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): boolean {
    return this.get(localAddr, localPort, remoteAddr, remotePort) !== undefined;
  }

  set(localAddr: number, localPort: number, remoteAddr: number, remotePort: number, id: SocketId): void {
    const outer = remoteAddr * 65536 + remotePort;
    let inner = this.byRemote.get(outer);
    if (inner === undefined) {
      inner = new Map();
      this.byRemote.set(outer, inner);
    }
    const key = localAddr * 65536 + localPort;
    if (!inner.has(key)) this.count++;
    inner.set(key, id);
  }

  delete(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): void {
    const outer = remoteAddr * 65536 + remotePort;
    const inner = this.byRemote.get(outer);
    if (inner === undefined || !inner.delete(localAddr * 65536 + localPort)) return;
    this.count--;
    if (inner.size === 0) this.byRemote.delete(outer);
  }
}
