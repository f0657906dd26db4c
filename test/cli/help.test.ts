// What a user reads in help and usage errors: defaults unquoted, no development-history
// references, a missing argument as one line and a pointer to --help (not the whole help),
// and range messages that agree with the help.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { layOutHelp } from '../../src/cli/help-layout.js';
import type { CliIo } from '../../src/cli/io.js';
import { MAX_LOGGED_PACKET_BYTES } from '../../src/replica/primary.js';
import { cli } from './cli-helpers.js';

const io: CliIo = { stdout: () => {}, stderr: () => {}, stderrIsTty: false, nowMs: () => 0 };
function all(c: Command): Command[] {
  return [c, ...c.commands.flatMap(all)];
}
const commands = all(buildProgram(io, () => {}));
const helpOf = (c: Command) => c.helpInformation() + ((c as unknown as { _helpText?: string })._helpText ?? '');

describe('help texts', () => {
  it.each(commands.map((c) => [c.name(), c] as const))('%s: defaults unquoted, no "issue N"', (_name, c) => {
    const help = c.helpInformation();
    expect(help).not.toMatch(/\(default: "/);
    expect(helpOf(c)).not.toMatch(/\bissue #?\d/i);
  });
  it.each(commands.map((c) => [c.name(), c] as const))('%s: the description wraps evenly, no two-word stubs', (_name, c) => {
    const lines = c.helpInformation().split('\n');
    const from = lines.findIndex((l) => l.startsWith('Usage:')) + 2;
    const end = lines.findIndex((l, i) => i >= from && /^(Options|Arguments|Commands):/.test(l));
    const description = lines.slice(from, end < 0 ? undefined : end);
    for (let i = 0; i + 1 < description.length; i++) {
      const [line, next] = [description[i]!, description[i + 1]!];
      expect(line.length).toBeLessThanOrEqual(80);
      // a line followed by more of its paragraph is filled, not a stub left by a hard break
      if (line !== '' && next !== '' && !/^\s/.test(line) && !/^\s/.test(next)) expect(line.length, line).toBeGreaterThan(50);
    }
  });
  it('paragraphs and list items are filled; examples and blank lines keep their breaks', () => {
    expect(layOutHelp('one line\nand its rest\n\nnext paragraph', 80)).toBe('one line and its rest\n\nnext paragraph');
    expect(layOutHelp('faults:\n  kill-primary\n  kill-backup\nafter the list', 80)).toBe('faults:\n  kill-primary\n  kill-backup\nafter the list');
    // an item and its continuation, filled with a hanging indent
    expect(layOutHelp('  pause    SIGSTOP of the backup until the\n           primary serves alone', 34)).toBe('  pause    SIGSTOP of the backup\n           until the primary\n           serves alone');
  });
  it('a string default shows as the word itself', () => {
    const scenario = commands.find((c) => c.name() === 'run' && c.parent?.name() === 'scenario')!;
    expect(scenario.helpInformation()).toMatch(/\(default: captures\)/);
  });
});

describe('usage errors', () => {
  it.each([
    [['scenario', 'run'], /missing required argument 'file'/],
    [['replay'], /missing required argument 'log'/],
    [['demo', 'failover', '--app'], /option '--app <name>' argument missing/],
  ])('%j: one line and a pointer to --help', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(message);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/--help/);
    expect(r.stdout + r.stderr).not.toContain('Usage:');
  });
  it('--mtu 10 on a replica names the range the help states', async () => {
    const r = await cli(['replica', '--role', 'primary', '--name', 'a', '--peer', 'b', '--mtu', '10', '--no-capture-dir']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`error: --mtu must be an integer from 68 to ${MAX_LOGGED_PACKET_BYTES} on a replica (a packet must fit one log entry of the log channel), got 10`);
    const replica = commands.find((c) => c.name() === 'replica')!;
    expect(replica.helpInformation().replace(/\s+/g, ' ')).toContain(`68..${MAX_LOGGED_PACKET_BYTES}`);
  });
  it('--mtu 10 on the demo says the same', async () => {
    const r = await cli(['demo', 'failover', '--mtu', '10']);
    expect(r.stderr.trim()).toBe(`error: --mtu must be an integer from 68 to ${MAX_LOGGED_PACKET_BYTES} on a replica (a packet must fit one log entry of the log channel), got 10`);
  });
});
