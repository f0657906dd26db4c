// Parsing argv with the real CLI program (src/cli/program.ts), every command's action replaced
// by one that keeps the parsed flags: an unknown flag or a missing value fails here.
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.js';

/** Parses argv with the real program; resolves with the command's name path, its flags and its arguments. */
export async function parseWithProgram(argv: string[]): Promise<{ path: string; flags: Record<string, unknown>; args: string[] }> {
  let errors = '';
  const program = buildProgram({ stdout: () => {}, stderr: (t) => void (errors += t), stderrIsTty: false, nowMs: () => 0 }, () => {});
  let seen: { path: string; flags: Record<string, unknown>; args: string[] } | undefined;
  const hook = (cmd: Command, path: string) => {
    for (const sub of cmd.commands) {
      const p = path === '' ? sub.name() : `${path} ${sub.name()}`;
      sub.action((...a: unknown[]) => {
        const c = a[a.length - 1] as Command;
        seen = { path: p, flags: c.opts(), args: c.args };
      });
      hook(sub, p);
    }
  };
  hook(program, '');
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    throw new Error(`ftcp ${argv.join(' ')}: ${errors.trim() || String(error)}`);
  }
  if (seen === undefined) throw new Error(`ftcp ${argv.join(' ')}: no command ran`);
  return seen;
}
