// What a user reads in help and usage errors: defaults unquoted, no development-history
// references, a missing argument as one line and a pointer to --help (not the whole help),
// and range messages that agree with the help.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
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
