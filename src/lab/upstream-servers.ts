/**
 * Plain upstream apps on loopback for the upstream proxy: what a user would put
 * behind `ftcp replica --upstream`, one instance per replica. Used by `ftcp demo failover
 * --app http` and the process-level tests.
 *
 * The HTTP server is Node's own `http`, keep-alive on: `GET /anything` is answered 200 with
 * the body `/anything\n` (the check of the `http` client load, src/sim/cluster-load.ts).
 * Its answers are a function of the request only, so two instances agree byte for byte,
 * unless `dateHeader` is on (Node's `Date:` header makes them differ now and then, a
 * real-world nondeterministic app) or `servedBy` names the instance in a header.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface UpstreamServer {
  readonly port: number;
  readonly stats: { connections: number; requests: number };
  close(): Promise<void>;
}

export interface HttpUpstreamOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Send Node's `Date:` header (default false: every answer is a function of its request). */
  dateHeader?: boolean;
  /**
   * An `X-Served-By: <servedBy>` header on every answer: a deliberately nondeterministic app
   * (each replica's instance names itself). Names of one length keep the responses'
   * lengths equal, so a client that reads bodies only cannot tell; the divergence check can.
   */
  servedBy?: string;
}

export async function startHttpUpstream(opts: HttpUpstreamOptions = {}): Promise<UpstreamServer> {
  const stats = { connections: 0, requests: 0 };
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    stats.requests++;
    res.sendDate = opts.dateHeader === true;
    const body = `${req.url ?? '/'}\n`;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body), ...(opts.servedBy !== undefined ? { 'X-Served-By': opts.servedBy } : {}) });
    res.end(body);
  });
  // Idle keep-alive connections stay open as long as the client keeps them (the load decides).
  server.keepAliveTimeout = 0;
  server.on('connection', () => stats.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
