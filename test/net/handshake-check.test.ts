// The hello both replicas exchange on the log channel: what it carries, how it travels in a
// channel frame, and the differences it names.
import { describe, expect, it } from 'vitest';
import { compareHello, decodeHello, encodeHello, helloFields } from '../../src/net/handshake-check.js';
import { decodeChannel, encodeChannel } from '../../src/replica/channel.js';
import { parseIpv4Addr } from '../../src/wire/index.js';

const base = { name: 'a', app: 'counter' as const, seed: 1, mtu: 1500, service: parseIpv4Addr('192.0.2.10'), servicePort: 7070, bulkBytes: 1000, outputRule: true };

describe('hello', () => {
  it('survives a channel frame and its text form', () => {
    const fields = helloFields({ ...base, upstream: { host: '127.0.0.1', port: 6379 }, upstreamApp: 'redis' });
    expect(fields).toMatchObject({ name: 'a', app: 'upstream', upstream: 'redis', seed: '1', mtu: '1500', service: '192.0.2.10', port: '7070', 'output-rule': 'on', network: 'switch' });
    const frame = encodeChannel({ type: 'hello', epoch: 0, text: encodeHello(fields) });
    const d = decodeChannel(frame);
    expect(d.ok).toBe(true);
    if (!d.ok || d.message.type !== 'hello') throw new Error('not a hello');
    expect(decodeHello(d.message.text)).toEqual(fields);
  });

  it('a corrupt hello is a returned reason, never a throw', () => {
    const frame = encodeChannel({ type: 'hello', epoch: 0, text: 'name=a' });
    frame[13] = 200; // the text length now runs past the frame
    const view = new DataView(frame.buffer);
    view.setUint32(frame.length - 4, ieeeCrc32(frame, 0, frame.length - 4)); // a valid CRC: the body check is what fails
    expect(decodeChannel(frame)).toEqual({ ok: false, reason: 'channel-bad-body' });
  });

  it('agreeing replicas have no difference; each difference names the key, the flag and both values', () => {
    const a = helloFields(base);
    expect(compareHello(a, helloFields({ ...base, name: 'b' }), 'b')).toEqual([]);
    const diffs = compareHello(a, helloFields({ ...base, name: 'b', seed: 2, mtu: 9000, app: 'echo' }), 'b');
    expect(diffs).toEqual([
      'app (--app / --upstream): a has counter, b has echo',
      'seed (--seed): a has 1, b has 2',
      'mtu (--mtu): a has 1500, b has 9000',
    ]);
    // --max-connections: the default and 10000 given are the same; 100000 on one side is a difference.
    expect(compareHello(a, helloFields({ ...base, name: 'b', maxConnections: 10_000 }), 'b')).toEqual([]);
    expect(compareHello(a, helloFields({ ...base, name: 'b', maxConnections: 100_000 }), 'b')).toEqual(['max-connections (--max-connections): a has 10000, b has 100000']);
  });

  it('the stack profile must agree; a hello without one (an older build) means rfc', () => {
    const a = helloFields(base);
    expect(a.profile).toBe('rfc');
    expect(compareHello(a, helloFields({ ...base, name: 'b', profile: 'linux' }), 'b')).toEqual(['profile (--profile): a has rfc, b has linux']);
    const older = helloFields({ ...base, name: 'b' });
    delete older.profile;
    expect(compareHello(a, older, 'b')).toEqual([]);
    expect(compareHello(helloFields({ ...base, profile: 'linux' }), older, 'b')).toEqual(['profile (--profile): a has linux, b has rfc']);
  });

  it('a dialler told --peer x that reaches y says so', () => {
    expect(compareHello(helloFields(base), helloFields({ ...base, name: 'c' }), 'b')).toEqual(['--peer names b, but the replica at --log-peer is c']);
  });
});

function ieeeCrc32(b: Uint8Array, s: number, e: number): number {
  // CRC-32 (IEEE), the same as src/wire/crc32.ts, written out so the test does not trust it.
  let c = 0xffffffff;
  for (let i = s; i < e; i++) {
    c ^= b[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('one upstream instance for both replicas', () => {
  it('the same run_id is a difference; different ones are not', () => {
    const a = helloFields(base, 'redis run_id 1111');
    expect(compareHello(a, helloFields({ ...base, name: 'b' }, 'redis run_id 2222'), 'b')).toEqual([]);
    expect(compareHello(a, helloFields({ ...base, name: 'b' }, 'redis run_id 1111'), 'b')).toEqual([
      'a and b use one upstream instance (redis run_id 1111): every command would be applied twice; give each replica its own (--upstream)',
    ]);
  });
});
