// The determinism boundary is enforced by a lint rule (eslint.config.js). This proves the
// rule fires: the same code is an error in src/tcp and fine in src/cli.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint();

async function errors(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.severity === 2).map((m) => `${m.ruleId}: ${m.message}`);
}

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
    ['upward import', "import { x } from '../sim/world.js';\nexport const y = x;"],
  ];
  for (const layer of ['src/tcp/x.ts', 'src/proxy/x.ts', 'src/replica/x.ts']) {
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
