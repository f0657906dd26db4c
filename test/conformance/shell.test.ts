// shell.ts: what the public suites' backquoted shell lines set. A sysctl with a setting of the
// same meaning becomes it, one that repeats packetdrill's defaults changes nothing, and
// everything else is not run and said so in a warning that names its line.
import { describe, expect, it } from 'vitest';
import { parseScript } from '../../src/conformance/parser.js';
import { runScriptText } from '../../src/conformance/runner.js';
import { resolveScript } from '../../src/conformance/shell.js';
import { linuxSetup } from '../../src/conformance/linux/sysctls.js';

function resolve(text: string) {
  return resolveScript(parseScript(`${text}\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n`));
}

describe('shell lines', () => {
  it('takes packetdrill defaults, restores and metrics flushes as nothing to do', () => {
    const r = resolve('`../common/defaults.sh`\n`ip tcp_metrics flush all > /dev/null 2>&1`\n`/tmp/sysctl_restore_${PPID}.sh`');
    expect(r.warnings).toEqual([]);
    expect(r.settings.config).toEqual({});
  });

  it('sets what sysctl and set_sysctls.py lines set, continuation lines and slashes included', () => {
    const r = resolve(
      [
        '`../common/defaults.sh',
        '../common/set_sysctls.py /proc/sys/net/ipv4/tcp_slow_start_after_idle=1 \\',
        '\t\t/proc/sys/net/ipv4/tcp_min_tso_segs=10',
        'sysctl -q net/ipv4/tcp_timestamps=0',
        'sysctl -e -q net.ipv4.tcp_congestion_control=reno net.ipv4.tcp_sack=0`',
      ].join('\n'),
    );
    expect(r.warnings).toEqual([]);
    expect(r.settings.config).toEqual({ slowStartAfterIdle: true, minTsoSegs: 10, timestamps: false, congestionControl: 'newreno', sack: false });
    // The same options reach the linux target as the sysctls they came from.
    const setup = linuxSetup(r.options, r.settings);
    expect(setup.sysctls).toMatchObject({ 'net.ipv4.tcp_min_tso_segs': '10', 'net.ipv4.tcp_slow_start_after_idle': '1', 'net.ipv4.tcp_timestamps': '0', 'net.ipv4.tcp_sack': '0' });
    expect(setup.congestionControl).toBe('reno');
  });

  it('a sysctl set to the defaults value changes nothing; any other value without a setting is a warning naming the line', () => {
    const r = resolve('`sysctl -q net.ipv4.tcp_rmem="4096 540000 $((15*1024*1024))"`\n`sysctl -q net.ipv4.tcp_tso_win_divisor=3`\n\n`sysctl -q net.ipv4.tcp_tso_win_divisor=100`');
    expect(r.warnings).toEqual(['line 4: shell: tcp_tso_win_divisor=100 not set (no setting of the same meaning; see docs/conformance.md "Shell lines")']);
  });

  it('names what it cannot run or set: other commands, other sysctl trees, values out of range', () => {
    const r = resolve('`tc qdisc replace dev tun0 root fq\necho 3 > /sys/module/tcp_cubic/parameters/hystart_detect`\n`sysctl -q net.core.somaxconn=5`\n`sysctl -q net.ipv4.tcp_sack=5`');
    expect(r.warnings).toEqual([
      'line 1: shell command not run: tc qdisc replace dev tun0 root fq (the runner has no shell and no setting of the same meaning)',
      'line 1: shell command not run: echo 3 > /sys/module/tcp_cubic/parameters/hystart_detect (the runner has no shell and no setting of the same meaning)',
      'line 3: shell: net.core.somaxconn=5 not set (the runner sets net.ipv4 TCP sysctls only)',
      'line 4: shell: tcp_sack=5 not set (sack takes 0 or 1 here)',
    ]);
    expect(r.settings.config).toEqual({});
  });

  it('a script runs with what its shell line set: tcp_timestamps=0 leaves TS out of the SYN-ACK', () => {
    const script = [
      '`sysctl -q net.ipv4.tcp_timestamps=0`',
      '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3',
      '+0 bind(3, ..., ...) = 0',
      '+0 listen(3, 1) = 0',
      '+.1 < S 0:0(0) win 65535 <mss 1000,sackOK,TS val 1 ecr 0,nop,wscale 7>',
      '+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>',
    ].join('\n');
    const r = runScriptText(script);
    expect(r.failure?.message).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(runScriptText(script.replace('=0`', '=1`')).ok).toBe(false);
  });
});
