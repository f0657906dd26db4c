// Script options (`--name=value`) that set StackConfig fields: numbers, and the boolean
// ones as 0 or 1.
import { describe, expect, it } from 'vitest';
import { OptionError, resolveSettings } from '../../src/conformance/settings.js';

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
});
