// Every `ftcp` command line shown in the README and in the help texts' examples parses
// against the CLI: commander's parse of the real command tree with every action stubbed
// (nothing runs), so a renamed flag or command fails here, not in a reader's shell.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import type { CliIo } from '../../src/cli/io.js';
import { cli } from '../cli/cli-helpers.js';
import { root } from '../helpers/process.js';
import { codeBlocks, ftcpCommands, shellWords } from './command-lines.js';

/** Parses `args` with the real command tree, actions stubbed; the commander error's message, or undefined. */
async function parseOnly(args: readonly string[]): Promise<string | undefined> {
  let err = '';
  const io: CliIo = { stdout: () => {}, stderr: (t) => void (err += t), stderrIsTty: false, nowMs: () => 0 };
  const program = buildProgram(io, () => {});
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) if (c.commands.length === 0) c.action(() => {});
  try {
    await program.parseAsync([...args], { from: 'user' });
    return undefined;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? undefined : err.split('\n')[0] || error.message;
    throw error;
  }
}

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const fromReadme = codeBlocks(readme).flatMap((b) => ftcpCommands(b.text, `README.md (block at line ${b.line})`));

describe('the command-line extraction', () => {
  it('splits words as a shell would, stopping at a pipe or redirection', () => {
    expect(shellWords(`replay a.pcapng --at 12 | tail -2`)).toEqual(['replay', 'a.pcapng', '--at', '12']);
    expect(shellWords(`switch --json &   # comment`)).toEqual(['switch', '--json']);
    expect(shellWords(`x --name 'a b' > out 2>&1`)).toEqual(['x', '--name', 'a b']);
  });
  it('finds commands after $, in && chains, over \\ continuations', () => {
    const found = ftcpCommands('$ cd /tmp/c && ftcp replay log.pcapng\nftcp replica --role join \\\n  --name b\nFTCP_X=1 echo ftcp', 'x');
    expect(found.map((f) => f.args)).toEqual([['replay', 'log.pcapng'], ['replica', '--role', 'join', '--name', 'b']]);
  });
  it('the README shows many commands, and a wrong one would fail', async () => {
    expect(fromReadme.length).toBeGreaterThan(20);
    expect(await parseOnly(['replay', 'x.pcapng', '--frobnicate'])).toMatch(/unknown option '--frobnicate'/);
    expect(await parseOnly(['demo', 'failovr'])).toBeDefined();
  });
});

describe('README commands parse', () => {
  it.each(fromReadme.map((c) => [c.where, c.line, c.args] as const))('%s: %s', async (_where, _line, args) => {
    expect(await parseOnly(args)).toBeUndefined();
  });
});

/** Every command's path in the tree ('demo failover'), from the real program. */
function commandPaths(): string[][] {
  const io: CliIo = { stdout: () => {}, stderr: () => {}, stderrIsTty: false, nowMs: () => 0 };
  const walk = (c: Command, path: string[]): string[][] => c.commands.flatMap((s) => [[...path, s.name()], ...walk(s, [...path, s.name()])]);
  return walk(buildProgram(io, () => {}), []);
}

describe('help examples parse', () => {
  it('every example of every command\'s help', async () => {
    const examples = [];
    for (const path of commandPaths()) {
      const help = (await cli([...path, '--help'])).stdout;
      examples.push(...ftcpCommands(help.split('\n').map((l) => l.trim()).join('\n'), `ftcp ${path.join(' ')} --help`));
    }
    expect(examples.length).toBeGreaterThan(10);
    const failures = [];
    for (const c of examples) {
      const problem = await parseOnly(c.args);
      if (problem !== undefined) failures.push(`${c.where}: ${c.line}: ${problem}`);
    }
    expect(failures).toEqual([]);
  });
});

describe('the README links inside the repository', () => {
  it('the design is docs/design.md, which exists; no path of a development machine', () => {
    expect(readme).toContain('docs/design.md');
    readFileSync(join(root, 'docs', 'design.md'));
    expect(readme).not.toMatch(/\/work\/|\/home\/\w+|DESIGN\.md/);
  });
});
