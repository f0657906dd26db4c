// Listening sockets bind to the addresses given, loopback by default: every address flag of
// every command defaults to 127.0.0.1 (apart from kernel-server's, which lives inside the
// project's network namespace), and the servers, started on those default hosts, report a
// loopback address from the socket itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_ARBITER_LISTEN } from '../../src/cli/arbiter.js';
import { DEFAULT_LINK_BIND } from '../../src/cli/net-flags.js';
import { buildProgram } from '../../src/cli/program.js';
import { DEFAULT_LOG_LISTEN } from '../../src/cli/replica.js';
import { DEFAULT_SWITCH_LISTEN } from '../../src/cli/switch.js';
import { ArbiterServer } from '../../src/net/arbiter-server.js';
import { parseEndpoint } from '../../src/net/endpoint.js';
import { LogChannel } from '../../src/net/log-channel.js';
import { UdpSwitch } from '../../src/net/switch.js';
import { UdpLink } from '../../src/net/udp-link.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-loopback-'));
const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The host of a default, on a port the test may bind (0: any free one). */
const onAnyPort = (text: string) => ({ host: parseEndpoint(text).host, port: 0 });

describe('loopback by default', () => {
  it('every address flag of every command defaults to 127.0.0.1 (kernel-server: inside its namespace)', () => {
    const program = buildProgram({ stdout: () => {}, stderr: () => {}, stderrIsTty: false, nowMs: () => 0 }, () => {});
    const seen: string[] = [];
    const walk = (cmd: Command, path: string) => {
      for (const o of cmd.options) {
        if (!/^--(listen|bind|log-listen)$/.test(o.long ?? '')) continue;
        seen.push(`${path} ${o.long!}`);
        if (o.defaultValue === undefined) continue; // given explicitly, or not at all
        const host = String(o.defaultValue).split(':')[0];
        if (path === 'kernel-server') expect(host, `${path} ${o.long!}`).toMatch(/^192\.0\.2\./);
        else expect(host, `${path} ${o.long!}`).toBe('127.0.0.1');
      }
      for (const sub of cmd.commands) walk(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
    };
    walk(program, '');
    console.log(`address flags: ${seen.join(', ')}`);
    expect(seen).toEqual(expect.arrayContaining(['switch --listen', 'arbiter --listen', 'replica --log-listen', 'replica --bind', 'client --bind']));
    for (const d of [DEFAULT_SWITCH_LISTEN, DEFAULT_ARBITER_LISTEN, DEFAULT_LOG_LISTEN, DEFAULT_LINK_BIND]) expect(parseEndpoint(d).host).toBe('127.0.0.1');
  });

  it('the switch, the arbiter, the log channel and a UDP link bound by default report 127.0.0.1 from their sockets', async () => {
    const sw = await UdpSwitch.start({ listen: onAnyPort(DEFAULT_SWITCH_LISTEN) });
    closers.push(() => sw.close());
    expect(sw.local.host).toBe('127.0.0.1');
    const arbiter = await ArbiterServer.start({ listen: onAnyPort(DEFAULT_ARBITER_LISTEN), statePath: join(dir, 'arbiter.json'), init: true });
    closers.push(() => arbiter.close());
    expect(arbiter.local.host).toBe('127.0.0.1');
    const log = await LogChannel.listen(onAnyPort(DEFAULT_LOG_LISTEN));
    closers.push(() => log.close());
    expect(log.endpoint.host).toBe('127.0.0.1');
    const link = await UdpLink.open({ peer: sw.local });
    closers.push(() => link.close());
    expect(link.local.host).toBe('127.0.0.1');
    const bound = await UdpLink.open({ peer: sw.local, bind: onAnyPort(DEFAULT_LINK_BIND) });
    closers.push(() => bound.close());
    expect(bound.local.host).toBe('127.0.0.1');
  });
});
