// `ftcp scenario run`: the five example scenarios in scenarios/, each run with real
// processes (in-process CLI, children spawned), and invalid files rejected before anything
// starts. Timing: the files' own H/D are overridden with TEST_TIMING (D 300 ms) because
// this machine is shared; no durations are asserted.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist, root } from '../helpers/process.js';


const dir = mkdtempSync(join(tmpdir(), 'ftcp-scenario-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const timing = ['--heartbeat-ms', String(TEST_TIMING.heartbeatMs), '--failure-timeout-ms', String(TEST_TIMING.failureTimeoutMs)];

describeWithDist('ftcp scenario run: the example scenarios', [...LIVE_SOURCES, 'cli/scenario', 'lab/scenario'], () => {
  it.each(['failover.yaml', 'join-second-failover.yaml', 'log-partition.json', 'arbiter-restart.yaml', 'unsafe.yaml', 'alone.yaml'])(
    '%s: every expectation holds',
    async (file) => {
      const r = await cli(['scenario', 'run', join(root, 'scenarios', file), '--capture-dir', dir, '--json', ...timing]);
      const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(result.error, r.stdout).toBeUndefined();
      expect(result.checks.filter((c: { ok: boolean }) => !c.ok), r.stdout).toEqual([]);
      expect(result.checks.length).toBeGreaterThan(0);
      expect(r.code).toBe(0);
    },
    240_000,
  );
});

const PAIR = 'steps:\n  - start: network\n  - start: { replica: a, role: primary, peer: b }\n  - start: { replica: b, role: backup, peer: a, logPeer: a }\n';

describe('ftcp scenario run: invalid files (exit 2, before anything starts)', () => {
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  it.each([
    ['missing.yaml', undefined, /cannot read .*missing\.yaml/],
    ['bad.yaml', 'steps: [ { start: network }', /bad\.yaml is not valid YAML/],
    ['bad.json', '{ "steps": [', /bad\.json is not valid JSON/],
    ['nosteps.yaml', 'name: x\napp: counter\n', /steps must be a non-empty list/],
    ['app.yaml', 'app: redis\nsteps: [ { start: network } ]\n', /app must be one of echo, counter, kv, bulk, got "redis"/],
    ['step.yaml', 'steps:\n  - start: network\n  - explode: a\n', /step\.yaml:3: unknown step "explode" \(valid: start, load/],
    ['role.yaml', 'steps:\n  - start: { replica: b, role: backup }\n', /step 1 .*a backup needs logPeer/],
    ['check.yaml', 'steps:\n  - expect: { happy: true }\n', /check\.yaml:2: unknown check "happy"/],
    ['mtu.yaml', 'mtu: 65500\nsteps: [ { start: network } ]\n', /mtu must be an integer from 68 to 65414, got 65500/],
    // the whole file is checked before anything starts: file:line and the nearest valid word
    ['key.yaml', 'name: x\nheartbeatMS: 30\nsteps: [ { start: network } ]\n', /key\.yaml:2: unknown key "heartbeatMS" \(did you mean heartbeatMs\?\)/],
    ['kill.yaml', `${PAIR}  - kill: z\n`, /kill\.yaml:5: kill "z": not a replica started before this step/],
    ['event.yaml', `${PAIR}  - wait: { event: liev, replica: b }\n`, /event\.yaml:5: unknown event "liev" \(did you mean live\?\)/],
    ['wait-replica.yaml', `${PAIR}  - wait: { event: live, replica: bb }\n`, /wait-replica\.yaml:5: replica "bb" is not a replica started before this step \(did you mean b\?\)/],
    ['step-kind.yaml', `${PAIR}  - kil: a\n`, /step-kind\.yaml:5: unknown step "kil" \(did you mean kill\?\)/],
    ['start-key.yaml', 'steps:\n  - start: network\n  - start: { replica: a, role: primary, peer: b, alnoe: true }\n', /start-key\.yaml:3: unknown key in start: "alnoe" \(did you mean alone\?\)/],
    ['lone.yaml', 'steps:\n  - start: network\n  - start: { replica: a, role: primary, peer: b }\n', /lone\.yaml:3: peer "b" is started by no step \(a primary with no backup needs alone: true\)/],
    ['alone-backup.yaml', `${PAIR}  - start: { replica: c, role: join, peer: a, logPeer: a, alone: true }\n`, /alone-backup\.yaml:5: alone: true is for a primary/],
    ['late-log-peer.yaml', 'steps:\n  - start: { replica: b, role: backup, peer: a, logPeer: a }\n  - start: { replica: a, role: primary, peer: b }\n', /late-log-peer\.yaml:2: logPeer "a" is not a replica started before this step/],
    ['json-key.json', '{\n  "name": "x",\n  "sed": 3,\n  "steps": [ { "start": "network" } ]\n}\n', /json-key\.json:3: unknown key "sed" \(did you mean seed\?\)/],
  ])('%s', async (name, text, message) => {
    const path = text === undefined ? join(dir, name) : write(name, text);
    const r = await cli(['scenario', 'run', path, '--capture-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
