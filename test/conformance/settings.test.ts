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
