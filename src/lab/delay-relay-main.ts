/**
 * `node dist/lab/delay-relay-main.js LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS`:
 * the delaying relay of delay-relay.ts as a process, for the LAN lab (started inside a host's
 * namespace). Prints one JSON line `{"event":"listening",...}` once it listens; a bad
 * argument or a listen error is one line on stderr and exit 2.
 */
import { startDelayRelay } from './delay-relay.js';

const [listenHost, listenPort, targetHost, targetPort, delayMs] = process.argv.slice(2);
const num = (s: string | undefined): number => (s !== undefined && /^\d+$/.test(s) ? Number(s) : NaN);
const o = { listenHost: listenHost ?? '', listenPort: num(listenPort), targetHost: targetHost ?? '', targetPort: num(targetPort), delayMs: num(delayMs) };
if (o.listenHost === '' || o.targetHost === '' || ![o.listenPort, o.targetPort, o.delayMs].every(Number.isFinite)) {
  process.stderr.write('error: usage: delay-relay-main LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS\n');
  process.exit(2);
}
startDelayRelay(o).then(
  () => process.stdout.write(`${JSON.stringify({ event: 'listening', ...o })}\n`),
  (error: unknown) => {
    process.stderr.write(`error: delay relay cannot listen on ${o.listenHost}:${o.listenPort}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
