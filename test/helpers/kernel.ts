// Kernel interop tests: they need root, iproute2, socat, /dev/net/tun, tcpdump and
// tshark. describeKernel skips with the reason printed when something is missing, and under
// CI=true fails instead (CI installs them), like describeTshark (tshark.ts).
import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';
import { kernelModeMissing } from '../../src/lab/netns.js';
import { tsharkAvailable, TSHARK_INSTALL_HINT } from './tshark.js';

function inCi(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** The kernel clients other than Node, with the package that has each. */
export const KERNEL_TOOL_PACKAGES = { curl: 'curl', nc: 'netcat-openbsd' } as const;

/** What of `tools` is not installed, as install hints. */
export function toolsMissing(tools: ReadonlyArray<keyof typeof KERNEL_TOOL_PACKAGES>): string[] {
  // `nc -h` exits 1 on netcat-openbsd; only "cannot run it" counts as missing.
  return tools.filter((t) => spawnSync(t, t === 'curl' ? ['--version'] : ['-h'], { stdio: 'ignore', timeout: 10_000 }).error !== undefined).map((t) => `${t} (apt-get install -y ${KERNEL_TOOL_PACKAGES[t]})`);
}

/** What the kernel tests lack here ('' when nothing); `tools`: curl, nc as well. */
export function kernelTestsMissing(tools: ReadonlyArray<keyof typeof KERNEL_TOOL_PACKAGES> = []): string {
  const missing = kernelModeMissing({ tcpdump: true });
  if (!tsharkAvailable()) missing.push(TSHARK_INSTALL_HINT);
  missing.push(...toolsMissing(tools));
  return missing.join('; ');
}

/** describe() when what is needed is here; else a printed skip, or under CI a failing test. */
export function describeNeeding(name: string, missing: string, fn: () => void): void {
  if (missing === '') {
    describe(name, fn);
  } else if (inCi()) {
    describe(name, () => {
      it('needs what is missing here (CI has it)', () => {
        throw new Error(`missing: ${missing}; under CI this is a failure, not a skip`);
      });
    });
  } else {
    console.warn(`[skip] ${name}: missing ${missing}`);
    describe.skip(`${name} (skipped: missing ${missing})`, fn);
  }
}

export function describeKernel(name: string, fn: () => void, tools: ReadonlyArray<keyof typeof KERNEL_TOOL_PACKAGES> = []): void {
  describeNeeding(name, kernelTestsMissing(tools), fn);
}

/** The packets of a classic libpcap file (what tcpdump -w writes). */
export { readPcap } from '../../src/pcap/classic.js';
