// etcd for the etcd-arbiter tests: describeEtcd skips with a printed reason when etcd is
// missing, and fails instead under CI=true (CI installs etcd-server), like tshark.ts.
// describeWithTool is the same for any program a test needs (redis-server: redis.ts).
import { describe, it } from 'vitest';
import { ETCD_INSTALL_HINT, etcdPath, etcdVersion } from '../../src/lab/etcd-cluster.js';

function inCi(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** `describe` when `version` is not null; else a printed skip (`hint`, `reason`), or a failure under CI. */
export function describeWithTool(name: string, version: string | null, hint: string, reason: string, fn: () => void): void {
  if (version !== null) {
    describe(name, fn);
    return;
  }
  if (inCi()) {
    describe(name, () => {
      it(`needs it installed (${hint})`, () => {
        throw new Error(`${reason}; under CI this is a failure, not a skip`);
      });
    });
    return;
  }
  console.warn(`[skip] ${name}: ${reason}`);
  describe.skip(`${name} (skipped: ${hint})`, fn);
}

export function describeEtcd(name: string, fn: () => void): void {
  describeWithTool(name, etcdVersion(), ETCD_INSTALL_HINT, `${ETCD_INSTALL_HINT} (looked for "${etcdPath()}")`, fn);
}
