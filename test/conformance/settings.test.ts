// Script options (`--name=value`) that set StackConfig fields: numbers, and the boolean
// ones as 0 or 1.
import { describe, expect, it } from 'vitest';
import { OptionError, resolveSettings } from '../../src/conformance/settings.js';
import { runScriptText } from '../../src/conformance/runner.js';

const opt = (name: string, value: string | undefined) => ({ name, value, line: 1, column: 1 });

describe('resolveSettings', () => {
  it('maps boolean options given as 0 or 1', () => {
    const { settings, warnings } = resolveSettings([opt('sack', '0'), opt('dsack', '1'), opt('timestamps', '0'), opt('window_scaling', '0')]);
    expect(settings.config).toEqual({ sack: false, dsack: true, timestamps: false, windowScaling: false });
    expect(warnings).toEqual([]);
  });

  it('maps the loss recovery switches: RACK-TLP (RFC 8985) and PRR (RFC 6937)', () => {
    expect(resolveSettings([opt('rack', '0'), opt('prr', '1')]).settings.config).toEqual({ rack: false, prr: true });
  });

  it('maps the challenge-ACK limit and the window scale shift', () => {
    const { settings } = resolveSettings([opt('challenge_ack_limit', '2'), opt('window_scale', '7')]);
    expect(settings.config).toEqual({ challengeAckLimit: 2, windowScale: 7 });
  });

  it('accepts --mss (GSO size of injected packets) with a warning saying the stack sees them whole', () => {
    const { settings, warnings } = resolveSettings([opt('mss', '1000')]);
    expect(settings).toEqual(resolveSettings([]).settings);
    expect(warnings).toEqual(['line 1: --mss=1000 accepted: injected segments reach the stack whole (Linux would see 1000-byte GRO aggregates)']);
    expect(() => resolveSettings([opt('mss', '0')])).toThrow(/--mss must be an integer from 1 to 65535, got 0/);
    expect(() => resolveSettings([opt('mss', undefined)])).toThrow(OptionError);
  });

  it('refuses a boolean option that is not 0 or 1', () => {
    expect(() => resolveSettings([opt('sack', '2')])).toThrow(OptionError);
    expect(() => resolveSettings([opt('timestamps', undefined)])).toThrow(OptionError);
  });

  it('maps --profile and --hystart; another profile is an error naming the line', () => {
    const { settings } = resolveSettings([opt('profile', 'linux'), opt('hystart', '1')]);
    expect(settings.config).toEqual({ profile: 'linux', hystart: true });
    expect(() => resolveSettings([opt('profile', 'bsd')])).toThrow('--profile must be rfc or linux, got bsd');
  });

  it('--ignore_psh=1 compares outbound flags without PSH, and nothing else', () => {
    expect(resolveSettings([]).settings.ignorePsh).toBe(false);
    expect(resolveSettings([opt('ignore_psh', '1')]).settings.ignorePsh).toBe(true);
    expect(() => resolveSettings([opt('ignore_psh', 'yes')])).toThrow(OptionError);
    const script = (psh: string, flags: string) =>
      `${psh}0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n` +
      `+.1 < S 0:0(0) win 65535 <mss 1000>\n+0 > S. 0:0(0) ack 1 <mss 1460>\n+.1 < . 1:1(0) ack 1 win 65535\n` +
      `+0 accept(3, ..., ...) = 4\n+0 write(4, ..., 100) = 100\n+0 > ${flags} 1:101(100) ack 1\n`;
    // The stack sends P. here: without the option only P. matches; with it . matches too, F. never.
    expect(runScriptText(script('', 'P.')).ok).toBe(true);
    expect(runScriptText(script('', '.')).failure?.actual).toContain('flags differ');
    expect(runScriptText(script('--ignore_psh=1\n', '.')).ok).toBe(true);
    expect(runScriptText(script('--ignore_psh=1\n', 'F.')).failure?.actual).toContain('flags differ');
  });
});
