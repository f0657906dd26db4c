/**
 * `--link-delay-ms` without netem: the delaying relay (delay-relay.ts) as a process in the
 * backup host's namespace, on its loopback, forwarding across the LAN to the primary's log
 * address. The backup's --log-peer points at it, so every log-channel byte between the
 * replica hosts waits the delay once each way and still crosses the bridge. The client's
 * path and the arbiter's are not delayed (netem, where the kernel has it, delays them too).
 */
import { dirname, join } from 'node:path';
import { FTCP_BIN } from './children.js';
import { Helper, spawnIn } from './netns.js';

/** The relay's port on the backup host's loopback. */
export const LAN_LOG_RELAY_PORT = 9403;

export interface LogDelayRelay {
  /** What the backup's --log-peer should be. */
  readonly listen: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startLogDelayRelay(netns: string, target: string, delayMs: number, timeoutMs: number): Promise<LogDelayRelay> {
  const [host, port] = target.split(':');
  const helper = await startLabMain(netns, 'delay-relay-main.js', ['127.0.0.1', String(LAN_LOG_RELAY_PORT), host ?? '', port ?? '', String(delayMs)], timeoutMs, 'the log-channel delay relay');
  return { listen: `127.0.0.1:${LAN_LOG_RELAY_PORT}`, pid: helper.pid, stop: () => helper.stop('SIGTERM', 1000) };
}

/**
 * A built `dist/lab/<script>` run by node in `netns`, once it has printed its
 * `{"event":"listening"}` line; an Error naming `what` (and its first stderr line) when it
 * exits or stays silent for `timeoutMs`. Stopped by pid through the Helper.
 */
export async function startLabMain(netns: string, script: string, args: readonly string[], timeoutMs: number, what: string): Promise<Helper> {
  // The built script, beside the CLI's own build (this module may be running from src/ under a test).
  const path = join(dirname(FTCP_BIN), '..', 'dist', 'lab', script);
  const child = spawnIn(netns, process.execPath, [path, ...args]);
  let out = '';
  const ready = new Promise<boolean>((resolve) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"listening"')) resolve(true);
    });
    child.on('exit', () => resolve(false));
    setTimeout(() => resolve(false), timeoutMs).unref();
  });
  const helper = new Helper(child);
  if (!(await ready)) {
    await helper.stop('SIGKILL');
    throw new Error(`${what} in ${netns} did not start: ${helper.stderr.trim().split('\n')[0] || 'no output'}`);
  }
  return helper;
}
