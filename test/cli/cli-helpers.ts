// Runs the whole CLI in-process (runCli) and collects what it printed.
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';

export async function cli(args: string[], nowMs: () => number = () => Date.now()): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stderrIsTty: false, nowMs };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}
