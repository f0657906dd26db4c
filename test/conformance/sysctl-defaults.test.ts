// packetdrill's defaults are written once (packetdrill-sysctls.ts); the linux target's
// namespace (linux/sysctls.ts) and the reading of shell lines (shell.ts) each differ from
// them in a few names, on purpose. This keeps that list: a difference added or lost fails here.
import { describe, expect, it } from 'vitest';
import { BASE_SYSCTLS } from '../../src/conformance/linux/sysctls.js';
import { PACKETDRILL_TCP_SYSCTLS } from '../../src/conformance/packetdrill-sysctls.js';
import { parseScript } from '../../src/conformance/parser.js';
import { resolveScript } from '../../src/conformance/shell.js';

function shellWarnings(name: string, value: string): string[] {
  return resolveScript(parseScript(`\`sysctl -q net.ipv4.${name}="${value}"\`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n`)).warnings;
}

describe('packetdrill defaults', () => {
  it('the namespace sets every default but tcp_fack and tcp_congestion_control, and adds IPv6 off and fast open off', () => {
    const namespace = Object.entries(BASE_SYSCTLS);
    const left = Object.keys(PACKETDRILL_TCP_SYSCTLS).filter((name) => BASE_SYSCTLS[`net.ipv4.${name}`] === undefined);
    // tcp_fack: a legacy knob that does nothing since Linux 4.15. tcp_congestion_control: a
    // namespace only takes what the host allows, so CUBIC is set on each socket instead.
    expect(left.sort()).toEqual(['tcp_congestion_control', 'tcp_fack']);
    for (const [name, value] of Object.entries(PACKETDRILL_TCP_SYSCTLS)) {
      if (!left.includes(name)) expect([name, BASE_SYSCTLS[`net.ipv4.${name}`]]).toEqual([name, value]);
    }
    const added = namespace.filter(([key]) => !key.startsWith('net.ipv4.') || PACKETDRILL_TCP_SYSCTLS[key.slice('net.ipv4.'.length)] === undefined);
    // IPv6 off: the namespace's hygiene, not a TCP default. Fast open off: defaults.sh turns
    // it on (0x70403), and neither target has it.
    expect(added).toEqual([
      ['net.ipv6.conf.all.disable_ipv6', '1'],
      ['net.ipv6.conf.default.disable_ipv6', '1'],
      ['net.ipv4.tcp_fastopen', '0'],
    ]);
  });

  it('a shell line that sets a default to its value is silent, but for tcp_notsent_lowat', () => {
    const warned = Object.entries(PACKETDRILL_TCP_SYSCTLS).filter(([name, value]) => shellWarnings(name, value).length > 0);
    // ftcp has no setting for the tcp_notsent_lowat sysctl: a line that sets it is reported
    // whatever the value (docs/conformance.md, notsent-lowat-sysctl).
    expect(warned.map(([name]) => name)).toEqual(['tcp_notsent_lowat']);
    // Another value is not a default: reported.
    expect(shellWarnings('tcp_frto', '0')).toEqual(['line 1: shell: tcp_frto=0 not set (no setting of the same meaning; see docs/conformance.md "Shell lines")']);
  });

  it("the namespace's own additions are not defaults to a shell line", () => {
    expect(shellWarnings('tcp_fastopen', '0')).toHaveLength(1);
  });
});
