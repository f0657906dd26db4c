/**
 * `node dist/lab/http-upstream-main.js HOST PORT`: the plain HTTP app of upstream-servers.ts
 * as a process, for the LAN lab (started inside a replica host's namespace, one instance per
 * replica host). Prints one JSON line `{"event":"listening",...}` once it listens; a bad
 * argument or a listen error is one line on stderr and exit 2. SIGTERM ends it.
 */
import { startHttpUpstream } from './upstream-servers.js';

const [host, portText] = process.argv.slice(2);
const port = portText !== undefined && /^\d+$/.test(portText) ? Number(portText) : NaN;
if (host === undefined || host === '' || !(port > 0 && port < 65_536)) {
  process.stderr.write('error: usage: http-upstream-main HOST PORT\n');
  process.exit(2);
}
startHttpUpstream({ host, port }).then(
  (s) => process.stdout.write(`${JSON.stringify({ event: 'listening', host, port: s.port })}\n`),
  (error: unknown) => {
    process.stderr.write(`error: HTTP upstream cannot listen on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
