// etcd for the etcd-arbiter tests: describeEtcd skips with a printed reason when etcd is
// missing, and fails instead under CI=true (CI installs etcd-server), like tshark.ts.
import { describe, it } from 'vitest';
import { ETCD_INSTALL_HINT, etcdPath, etcdVersion } from '../../src/node/etcd-cluster.js';

function inCi(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

export function describeEtcd(name: string, fn: () => void): void {
  if (etcdVersion() !== null) {
    describe(name, fn);
    return;
  }
  const reason = `${ETCD_INSTALL_HINT} (looked for "${etcdPath()}")`;
  if (inCi()) {
    describe(name, () => {
      it('needs etcd (CI installs etcd-server)', () => {
        throw new Error(`${reason}; under CI this is a failure, not a skip`);
      });
    });
    return;
  }
  console.warn(`[skip] ${name}: ${reason}`);
  describe.skip(`${name} (skipped: ${ETCD_INSTALL_HINT})`, fn);
}
