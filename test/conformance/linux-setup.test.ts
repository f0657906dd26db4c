// What a script's options mean to the linux target (no kernel needed): the sysctls of its
// namespace, and an ERROR at the line of any option Linux cannot honour.
import { describe, expect, it } from 'vitest';
import { parseScript } from '../../src/conformance/parser.js';
import { OptionError, resolveSettings } from '../../src/conformance/settings.js';
import { BASE_SYSCTLS, linuxSetup } from '../../src/conformance/linux/sysctls.js';
import { planCall } from '../../src/conformance/linux/calls.js';
import { runScriptTextLinux } from '../../src/conformance/linux/runner.js';
import type { SyscallEvent } from '../../src/conformance/script.js';

function setup(text: string) {
  const script = parseScript(`${text}\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n`);
  return linuxSetup(script.options, resolveSettings(script.options).settings);
}

function optionError(text: string): OptionError {
  try {
    setup(text);
  } catch (error) {
    if (error instanceof OptionError) return error;
    throw error;
  }
  throw new Error('expected an OptionError');
}

describe('linuxSetup', () => {
  it("starts from packetdrill's defaults, CUBIC per socket, the kernel at the script's local address", () => {
    const s = setup('');
    expect(s.sysctls).toEqual(BASE_SYSCTLS);
    expect(s.sysctls['net.ipv4.tcp_rmem']).toBe('4096 540000 15728640');
    expect(s.sysctls['net.ipv6.conf.all.disable_ipv6']).toBe('1');
    expect(s).toMatchObject({ localAddress: '192.0.2.10', mtu: 1500, congestionControl: 'cubic' });
  });

  it('maps the options that have a Linux knob', () => {
    const s = setup('--sack=0\n--syn_retries=3\n--keep_alive_idle_ms=2000\n--congestion_control=newreno\n--rto_min_ms=50\n--mtu=1200\n--local_ip=192.0.2.20');
    expect(s.sysctls['net.ipv4.tcp_sack']).toBe('0');
    expect(s.sysctls['net.ipv4.tcp_syn_retries']).toBe('3');
    expect(s.sysctls['net.ipv4.tcp_synack_retries']).toBe('3');
    expect(s.sysctls['net.ipv4.tcp_keepalive_time']).toBe('2');
    expect(s).toMatchObject({ congestionControl: 'reno', rtoMinMs: 50, mtu: 1200, localAddress: '192.0.2.20' });
  });

  it('takes --ignore_psh as the runner\'s own option: no sysctl changes', () => {
    expect(setup('--ignore_psh=1').sysctls).toEqual(setup('').sysctls);
  });

  it('turns RACK and the tail loss probe (RFC 8985) off together, and has no knob for PRR (RFC 6937)', () => {
    expect(setup('--rack=0').sysctls).toMatchObject({ 'net.ipv4.tcp_recovery': '0', 'net.ipv4.tcp_early_retrans': '0' });
    expect(setup('--rack=1').sysctls).toMatchObject({ 'net.ipv4.tcp_recovery': '1', 'net.ipv4.tcp_early_retrans': '4' });
    expect(optionError('--prr=0')).toMatchObject({ line: 1, message: expect.stringContaining('--prr: the linux target cannot honour it') });
  });

  it('refuses, at its line, what Linux cannot do', () => {
    expect(optionError('// a comment\n--msl_ms=500')).toMatchObject({ line: 2, message: expect.stringContaining('--msl_ms: the linux target cannot honour it') });
    expect(optionError('--keep_alive_idle_ms=1500').message).toContain('whole seconds');
    expect(optionError('--local_ip=10.0.0.1').message).toContain('192.0.2.0/24');
  });

  it('takes --profile=linux as what the kernel does anyway; --profile=rfc and --hystart are errors at their line', () => {
    expect(setup('--profile=linux').sysctls).toEqual(BASE_SYSCTLS);
    expect(optionError('--profile=rfc')).toMatchObject({ line: 1, message: expect.stringContaining("the linux target makes Linux's choices") });
    expect(optionError('--hystart=1').message).toContain('--hystart: the linux target cannot honour it');
  });
});

describe('planCall', () => {
  const settings = resolveSettings([]).settings;
  const ctx = { settings, unsupported: (m: string): never => { throw new Error(m); } };
  const call = (line: string) => parseScript(line).events[0] as SyscallEvent;

  it('fills in the defaults the ftcp target uses', () => {
    expect(planCall(ctx, call('0 bind(3, ..., ...) = 0'), () => 0).args).toEqual({ call: 'bind', fd: 3, addr: '0.0.0.0', port: 8080 });
    expect(planCall(ctx, call('0 connect(3, ..., ...) = 0'), () => 0)).toEqual({ args: { call: 'connect', fd: 3, addr: '192.0.2.1', port: 8080 }, mayBlock: true });
    expect(planCall(ctx, call('0 accept(3, ..., ...) = 7'), () => 7).args).toEqual({ call: 'accept', fd: 3, newfd: 7 });
    expect(planCall(ctx, call('0 recv(4, ..., 10, MSG_PEEK|MSG_DONTWAIT) = 10'), () => 0).args).toEqual({ call: 'recv', fd: 4, len: 10, flags: ['MSG_PEEK', 'MSG_DONTWAIT'] });
    expect(planCall(ctx, call('0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0'), () => 0).args).toMatchObject({ opt: 'SO_LINGER', onoff: 1, linger: 0 });
  });

  it('refuses what the helper cannot make', () => {
    expect(() => planCall(ctx, call('0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3'), () => 3)).toThrow('only SOCK_STREAM');
    expect(() => planCall(ctx, call('0 recv(4, ..., 10, MSG_ERRQUEUE) = 10'), () => 0)).toThrow('cannot pass the flag MSG_ERRQUEUE');
  });
});

describe('runScriptTextLinux before any kernel is touched', () => {
  it('refuses a script longer than an hour of real time, at its line', async () => {
    const r = await runScriptTextLinux('0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+4000 close(3) = 0\n');
    expect(r.failure).toMatchObject({ line: 2, kind: 'script', message: expect.stringContaining('runs in real time, and this line is at 4000.000 s') });
  });
});
