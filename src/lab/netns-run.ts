/**
 * The outer half of every `--client kernel` run (the demo, scenarios): checks for root,
 * iproute2, socat and /dev/net/tun (names what is missing: outcome usage), makes a network
 * namespace ftcp-<pid>-<n>, and runs `node bin/ftcp.js <args(ns)>` again inside it (`ip
 * netns exec NS ...`), so that the arbiter, the switch, the replicas, socat, tcpdump and the
 * kernel client all live on the namespace's own loopback and touch none of the host's
 * interfaces. Its stdout is passed on; with `json`, its last line is the report and gets
 * `netns: { name, removed, leftoverProcessesKilled }`, and `ok` false when the namespace is
 * not gone. When the inner run ends (normally, on an error, or on SIGINT/SIGTERM, passed on
 * to it) every process left in the namespace is killed by pid and the namespace is deleted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { FTCP_BIN } from './children.js';
import { onStopSignal, type InnerExit, type LabIo, type RunOutcome } from './io.js';
import { kernelModeMissing, Netns, NetnsError } from './netns.js';

export interface NetnsRun {
  /** The command as the user typed it, for messages ("ftcp demo failover --client kernel"). */
  command: string;
  /** The `ftcp` arguments of the run inside the namespace, given its name. */
  args: (netns: string) => string[];
  json: boolean;
}

export async function runInNetns(o: NetnsRun, io: LabIo): Promise<RunOutcome | InnerExit> {
  const ns = makeNamespace(o.command, io);
  if (ns === undefined) return 'usage';
  const { code, interrupted, stdout } = await runInside(ns, o, io);
  const { killed, removed } = ns.destroy();
  passOnReport(o.json, stdout, { name: ns.name, removed, leftoverProcessesKilled: killed.length }, io);
  if (interrupted) return 'interrupted';
  if (!removed && code === 0) return 'correctness';
  return { innerExitCode: code };
}

/** The namespace, or undefined after saying on stderr what the machine lacks. */
function makeNamespace(command: string, io: LabIo): Netns | undefined {
  const missing = kernelModeMissing();
  if (missing.length > 0) {
    io.stderr(`error: ${command} needs ${missing.join('; ')}\n`);
    return undefined;
  }
  try {
    return Netns.create();
  } catch (error) {
    io.stderr(`error: ${command}: ${error instanceof NetnsError ? error.message : String(error)}\n`);
    return undefined;
  }
}

/** Runs the inner `ftcp` to its end; SIGINT/SIGTERM are passed on to it. Without json its stdout goes straight through. */
async function runInside(ns: Netns, o: NetnsRun, io: LabIo): Promise<{ code: number; interrupted: boolean; stdout: string }> {
  let inner: ChildProcess | undefined;
  let interrupted = false;
  let escalate: NodeJS.Timeout | undefined;
  const onSignal = () => {
    interrupted = true;
    if (inner?.pid !== undefined && inner.exitCode === null) {
      try {
        process.kill(inner.pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
    // If the inner run does not stop by itself, the namespace's processes are killed below.
    escalate = setTimeout(() => ns.destroy(), 15_000);
  };
  const stopListening = onStopSignal(onSignal);
  let stdout = '';
  try {
    const [cmd, args] = ns.wrap(process.execPath, [FTCP_BIN, ...o.args(ns.name)]);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    inner = child;
    child.stdout!.on('data', (d: Buffer) => {
      if (o.json) stdout += d.toString();
      else io.stdout(d.toString());
    });
    const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s !== null ? 128 + 15 : 1))));
    return { code, interrupted, stdout };
  } finally {
    stopListening();
    clearTimeout(escalate);
  }
}

/** With json: the inner report, with the namespace's cleanup added; without: one line about it. */
function passOnReport(json: boolean, stdout: string, cleanup: { name: string; removed: boolean; leftoverProcessesKilled: number }, io: LabIo): void {
  if (!json) {
    io.stdout(`network namespace ${cleanup.name}: ${cleanup.removed ? 'removed' : 'NOT removed'}, with its TUN device${cleanup.leftoverProcessesKilled > 0 ? `; ${cleanup.leftoverProcessesKilled} leftover process(es) killed by pid` : ''}\n`);
    return;
  }
  const lines = stdout.trimEnd().split('\n');
  const last = lines.pop() ?? '';
  for (const l of lines) io.stdout(`${l}\n`);
  try {
    const report = JSON.parse(last) as Record<string, unknown>;
    io.stdout(`${JSON.stringify({ ...report, ok: report['ok'] === true && cleanup.removed, netns: cleanup })}\n`);
  } catch {
    io.stdout(`${last}\n`);
  }
}
