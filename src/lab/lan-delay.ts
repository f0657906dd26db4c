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
  // The built script, beside the CLI's own build (this module may be running from src/ under a test).
  const script = join(dirname(FTCP_BIN), '..', 'dist', 'lab', 'delay-relay-main.js');
  const child = spawnIn(netns, process.execPath, [script, '127.0.0.1', String(LAN_LOG_RELAY_PORT), host ?? '', port ?? '', String(delayMs)]);
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
    throw new Error(`the log-channel delay relay in ${netns} did not start: ${helper.stderr.trim().split('\n')[0] ?? 'no output'}`);
  }
  return { listen: `127.0.0.1:${LAN_LOG_RELAY_PORT}`, pid: helper.pid, stop: () => helper.stop('SIGTERM', 1000) };
}
