// The layer table and the determinism boundary are enforced by lint (eslint.config.js).
// This proves the rules fire: each forbidden arrow of docs/architecture.md is an error in
// the folder it is forbidden in, each allowed arrow is not, and clock/randomness/I-O are
// errors in the deterministic layers and fine in the CLI.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint();

async function errors(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.severity === 2).map((m) => `${m.ruleId}: ${m.message}`);
}

// The specification, written out again on purpose (docs/architecture.md, "Layers"): if
// eslint.config.js drifts from it, these tests fail.
const MAY_USE: Record<string, string[]> = {
  wire: [],
  tcp: ['wire'],
  proxy: ['tcp', 'wire'],
  replica: ['tcp', 'proxy', 'wire'],
  pcap: ['wire'],
  sim: ['wire', 'tcp', 'proxy', 'replica', 'pcap'],
  net: ['wire', 'tcp', 'proxy', 'replica', 'pcap'],
  lab: ['wire', 'tcp', 'proxy', 'replica', 'pcap', 'sim', 'net'],
  conformance: ['wire', 'tcp', 'sim', 'lab', 'pcap'],
  cli: ['wire', 'tcp', 'proxy', 'replica', 'pcap', 'sim', 'net', 'lab', 'conformance'],
};
const FOLDERS = Object.keys(MAY_USE);

describe('layer rules', () => {
  const cases: Array<[string, string, boolean]> = [];
  for (const from of FOLDERS) for (const to of FOLDERS) if (from !== to) cases.push([from, to, MAY_USE[from]!.includes(to)]);

  it.each(cases)('src/%s importing src/%s: allowed %s', async (from, to, allowed) => {
    const code = `import { x } from '../${to}/y.js';\nexport const z = x;\n`;
    const found = (await errors(code, `src/${from}/x.ts`)).filter((e) => e.startsWith('no-restricted-imports'));
    if (allowed) expect(found).toEqual([]);
    else expect(found.join('\n')).toContain(`src/${from} may import only`);
  });

  it('catches a forbidden import from a nested folder too', async () => {
    const code = "import { x } from '../../lab/y.js';\nexport const z = x;\n";
    expect((await errors(code, 'src/net/sub/x.ts')).join('\n')).toContain('src/net may import only');
  });

  it('lints the real tree clean, so every rule above holds for the code as it is', async () => {
    const results = await eslint.lintFiles(['src']);
    const bad = results.flatMap((r) => r.messages.filter((m) => m.severity === 2).map((m) => `${r.filePath}:${m.line} ${m.ruleId}`));
    expect(bad).toEqual([]);
  });
});

describe('determinism lint rule', () => {
  const forbidden: Array<[string, string]> = [
    ['clock', 'export const t = Date.now();'],
    ['new Date', 'export const t = new Date();'],
    ['randomness', 'export const r = Math.random();'],
    ['timers', 'setTimeout(() => {}, 1);'],
    ['performance', 'export const t = performance.now();'],
    ['fs', "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;"],
    ['dgram', "import dgram from 'dgram';\nexport const d = dgram;"],
    ['crypto', "import { randomBytes } from 'node:crypto';\nexport const r = randomBytes;"],
    ['process', 'export const e = process.env;'],
  ];
  for (const layer of ['src/wire/x.ts', 'src/tcp/x.ts', 'src/proxy/x.ts', 'src/replica/x.ts']) {
    it.each(forbidden)(`forbids %s in ${layer}`, async (_what, code) => {
      expect(await errors(code, layer)).not.toEqual([]);
    });
  }
  it('allows the same in the CLI layer', async () => {
    expect(await errors('export const t = Date.now();\nsetTimeout(() => {}, 1);', 'src/cli/x.ts')).toEqual([]);
  });
  it('allows plain deterministic code in src/tcp', async () => {
    expect(await errors('export function add(a: number, b: number): number {\n  return a + b;\n}\n', 'src/tcp/x.ts')).toEqual([]);
  });
});
