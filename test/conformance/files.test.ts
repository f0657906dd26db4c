// The file side of sendfile and splice (files.ts): what the emulation honours, and the
// script ERROR, naming the line, for what it cannot.
import { describe, expect, it } from 'vitest';
import { runScriptText } from '../../src/conformance/runner.js';
import { acceptedPrelude } from './prelude.js';

const ACCEPTED = acceptedPrelude(1000);

function run(shell: string, events: string) {
  return runScriptText(`${shell}${ACCEPTED}${events}`);
}

describe('sendfile and splice emulation', () => {
  it('open of a file no dd line wrote is a script ERROR at that line', () => {
    const r = run('', '+0 open("/tmp/none", O_RDONLY) = 5\n');
    expect(r.failure?.kind).toBe('script');
    expect(r.failure?.line).toBe(9);
    expect(r.failure?.message).toMatch(/\/tmp\/none has no contents the runner knows/);
  });

  it('a file rm removed after dd wrote it is unknown again; dd from another source is not emulated and says so', () => {
    expect(run('`dd if=/dev/zero of=/tmp/f bs=1 count=5\n/bin/rm -f /tmp/f`\n', '+0 open("/tmp/f", O_RDONLY) = 5\n').failure?.kind).toBe('script');
    const r = run('`dd if=/dev/urandom of=/tmp/f bs=1 count=5`\n', '+0 open("/tmp/f", O_RDONLY) = 5\n');
    expect(r.failure?.kind).toBe('script');
    expect(r.warnings.join('\n')).toMatch(/files are emulated only from dd if=\/dev\/zero/);
  });

  it('a dd of bs=1k count=2 is 2048 bytes: sendfile of more returns 2048 and sends them', () => {
    const r = run('`dd if=/dev/zero of=/tmp/f bs=1k count=2`\n', `+0 open("/tmp/f", O_RDONLY) = 5
+0 sendfile(4, 5, NULL, 5000) = 2048
+0 > . 1:1001(1000) ack 1
+0 > . 1001:2001(1000) ack 1
`);
    // The 48-byte tail waits for an ACK (Nagle, RFC 1122 4.2.3.4): nothing else is sent before the end.
    expect(r.failure).toBeUndefined();
  });

  it('read on an emulated pipe, sendfile from a socket, and a splice between two pipes are ERRORs naming the call', () => {
    const pipe = '+0 pipe([5, 6]) = 0\n';
    expect(run('', `${pipe}+0 read(5, ..., 10) = 0\n`).failure?.message).toMatch(/read on fd 5, an emulated pipe/);
    expect(run('', `+0 sendfile(4, 3, NULL, 10) = 10\n`).failure?.message).toMatch(/input descriptor must be a file/);
    expect(run('', `${pipe}+0 splice(5, NULL, 6, NULL, 10, 0) = 0\n`).failure?.message).toMatch(/between a connection and a pipe/);
    expect(run('', `${pipe}+0 splice(4, NULL, 6, NULL, 10, SPLICE_F_GIFT) = 0\n`).failure?.message).toMatch(/splice flags/);
  });

  it('a pipe whose descriptors are not the ones the script names is a mismatch', () => {
    const r = run('', '+0 pipe([3, 6]) = 0\n');
    expect(r.failure?.kind).toBe('mismatch');
  });

  it('IP_FREEBIND is kept and read back', () => {
    const r = runScriptText(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 getsockopt(3, SOL_IP, IP_FREEBIND, [0], [4]) = 0
+0 setsockopt(3, SOL_IP, IP_FREEBIND, [1], 4) = 0
+0 getsockopt(3, SOL_IP, IP_FREEBIND, [1], [4]) = 0
`);
    expect(r.failure).toBeUndefined();
  });
});
