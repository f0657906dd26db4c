// `ftcp serve` in-process through runCli: a bad config is one line naming file:line and
// the key, exit 2, before anything starts; --check passes a good one; --help documents it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-serve-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const GOOD = ['name: a', 'service: { address: 192.0.2.10, port: 7070 }', 'arbiter: 127.0.0.1:9400', 'log:', '  listen: 127.0.0.1:9402', '  peers: [ { name: b, address: 127.0.0.1:9403 } ]', 'network: { switch: 127.0.0.1:9401 }'];

describe('ftcp serve (CLI)', () => {
  it('a misspelt key: one line with file:line, the key and the nearest word; exit 2', async () => {
    const path = file('typo.yaml', [...GOOD.slice(0, 4), '  listn: 127.0.0.1:9402', ...GOOD.slice(5)]);
    const r = await cli(['serve', '--config', path]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`${path}:5: log.listn: unknown key (did you mean listen?)`);
  });

  it('a bad address and a missing service address: exit 2, one line each', async () => {
    const bad = await cli(['serve', '--config', file('addr.yaml', [...GOOD.slice(0, 2), 'arbiter: 127.0.0.1:notaport', ...GOOD.slice(3)])]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/addr\.yaml:3: arbiter: /);
    const missing = await cli(['serve', '--config', file('nosvc.yaml', [GOOD[0]!, 'service: { port: 7070 }', ...GOOD.slice(2)])]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/nosvc\.yaml:2: service\.address: /);
  });

  it('a missing file, a missing --config and a bad --metrics-listen: exit 2', async () => {
    expect((await cli(['serve', '--config', join(dir, 'absent.yaml')])).stderr).toMatch(/cannot read it \(ENOENT\)/);
    expect((await cli(['serve'])).code).toBe(2);
    const m = await cli(['serve', '--config', file('ok.yaml', GOOD), '--metrics-listen', 'nope']);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/--metrics-listen/);
  });

  it('--check validates a good config and exits 0 without starting', async () => {
    const r = await cli(['serve', '--config', file('good.yaml', GOOD), '--check']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: .*good\.yaml: replica a, service 7070, 1 peer\(s\)\n$/);
  });

  it('--help names the config, the metrics listener and the exit codes', async () => {
    const r = await cli(['serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--config <file>');
    expect(r.stdout).toContain('--metrics-listen <host:port>');
    expect(r.stdout).toMatch(/Exit codes: 0 stopped by SIGTERM/);
  });
});
