/**
 * How the CLI speaks when a command is given wrong, the same for every command:
 *   - a group (`ftcp`, `ftcp demo`, `ftcp sim`, `ftcp scenario`) run without a subcommand
 *     says so in its first line, names the subcommands, then shows its help (stderr, exit 2);
 *   - commander's "(Did you mean --seed?)", a line of its own, joins the error line it
 *     belongs to, so a typo is one line saying what to type instead.
 */
import type { Command } from 'commander';
import { suggestion } from '../lab/nearest-word.js';

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The first line of a group's help when it was run without a subcommand. */
export function missingSubcommandLine(group: Command): string {
  const subs = group.commands.map((c) => c.name());
  const path = commandPath(group);
  if (group.parent === null) return `error: ${path} needs a command: ${subs.join(', ')} (start with ${path} demo failover; ${path} help COMMAND describes one)`;
  return `error: ${path} needs a subcommand: ${subs.join(', ')} (${path} ${subs[0] ?? ''} --help for its options)`;
}

/** The first line of a group's help shown as an error: `ftcp help nope`, or no subcommand at all. */
function errorLine(group: Command): string {
  const [first, asked] = group.args;
  if (first === 'help' && asked !== undefined) return `error: ${commandPath(group)} help: unknown command '${asked}' (${suggestion(asked, group.commands.map((c) => c.name()))})`;
  return missingSubcommandLine(group);
}

/** "error: unknown option '--sed'\n(Did you mean --seed?)" becomes one line. */
export function foldSuggestion(text: string): string {
  return text.replace(/\n\(Did you mean ([^)]*)\?\)/, ' (did you mean $1?)');
}

/** Applies both to `program` and every command below it (call once every command is registered). */
export function configureGroupErrors(program: Command, all: readonly Command[], writeErr: (text: string) => void): void {
  for (const command of [program, ...all]) {
    command.configureOutput({ outputError: (text) => writeErr(foldSuggestion(text)) });
    if (command.commands.length > 0) command.addHelpText('before', (context) => (context.error ? `${errorLine(command)}\n` : ''));
  }
}
