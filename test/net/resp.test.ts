// RESP (src/net/resp.ts): the encoder, the incremental reply parser and the command
// splitter, with replies and commands cut at every byte (TCP delivers them in pieces).
import { describe, expect, it } from 'vitest';
import { bulkText, describeValue, encodeCommand, encodeValue, RespCommandSplitter, RespError, RespReplyParser, type RespValue } from '../../src/net/resp.js';
import { RespSequencer } from '../../src/net/resp-sequencer.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

describe('encodeCommand', () => {
  it('writes an array of bulk strings, byte counts in bytes', () => {
    expect(text(encodeCommand(['SET', 'k', 'v1']))).toBe('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n');
    expect(text(encodeCommand(['SET', 'k', 'é']))).toBe('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\xc3\xa9\r\n');
    expect(text(encodeCommand([]))).toBe('*0\r\n');
  });
});

describe('RespReplyParser', () => {
  const replies: RespValue[] = [
    { type: 'simple', value: 'OK' },
    { type: 'integer', value: 11 },
    { type: 'integer', value: -3 },
    { type: 'error', value: 'ERR value is not an integer or out of range' },
    { type: 'bulk', value: bytes('a\r\nb') },
    { type: 'bulk', value: new Uint8Array(0) },
    { type: 'bulk', value: null },
    { type: 'array', value: [{ type: 'bulk', value: bytes('x') }, { type: 'integer', value: 2 }, { type: 'array', value: [] }] },
    { type: 'array', value: null },
  ];
  const wire = new Uint8Array(Buffer.concat(replies.map((r) => encodeValue(r))));

  it('parses every kind of value, all at once', () => {
    expect(new RespReplyParser().push(wire)).toEqual(replies);
  });

  it('split at every byte: the same values, none early, none twice', () => {
    for (let cut = 0; cut <= wire.length; cut++) {
      const p = new RespReplyParser();
      const got = [...p.push(wire.subarray(0, cut)), ...p.push(wire.subarray(cut))];
      expect(got).toEqual(replies);
      expect(p.pending).toBe(0);
    }
  });

  it('one byte at a time: a value comes out exactly when its last byte arrives', () => {
    const p = new RespReplyParser();
    const got: RespValue[] = [];
    for (let i = 0; i < wire.length; i++) {
      const out = p.push(wire.subarray(i, i + 1));
      got.push(...out);
      if (out.length > 0) expect(wire[i]).toBe(10); // LF ends every value
    }
    expect(got).toEqual(replies);
  });

  it('a bulk string whose CRLF is split, or whose length counts bytes that contain CRLF', () => {
    const p = new RespReplyParser();
    expect(p.push(bytes('$4\r\nab\r'))).toEqual([]);
    expect(p.push(bytes('\n\r'))).toEqual([]);
    expect(p.pending).toBe(9);
    expect(p.push(bytes('\n:1\r\n')).map(describeValue)).toEqual(['$"ab\\r\\n"', ':1']);
  });

  it('garbage is a RespError, not a wrong value', () => {
    expect(() => new RespReplyParser().push(bytes('?x\r\n'))).toThrow(RespError);
    expect(() => new RespReplyParser().push(bytes(':1x\r\n'))).toThrow(RespError);
    expect(() => new RespReplyParser().push(bytes('$2\r\nabc\r\n'))).toThrow(/CRLF/);
    expect(() => new RespReplyParser().push(bytes('$-5\r\n'))).toThrow(/out of range/);
  });

  it('bulkText and describeValue', () => {
    expect(bulkText({ type: 'bulk', value: bytes('v1') })).toBe('v1');
    expect(bulkText({ type: 'bulk', value: null })).toBeNull();
    expect(bulkText({ type: 'integer', value: 1 })).toBeNull();
    expect(describeValue({ type: 'array', value: [{ type: 'simple', value: 'OK' }, { type: 'bulk', value: null }] })).toBe('[+OK, $nil]');
  });
});

describe('RespCommandSplitter', () => {
  const commands = [encodeCommand(['INCR', 'ftcp:counter']), bytes('PING\r\n'), encodeCommand(['SET', 'k', 'a\r\nb']), bytes('\r\n\r\nGET k\n')];
  const wire = new Uint8Array(Buffer.concat(commands));

  it('splits at command boundaries, at every cut, keeping the bytes as sent', () => {
    for (let cut = 0; cut <= wire.length; cut++) {
      const s = new RespCommandSplitter();
      const got = [...s.push(wire.subarray(0, cut)), ...s.push(wire.subarray(cut))].map(text);
      expect(got).toEqual(commands.map(text));
      expect(s.pending).toBe(0);
    }
  });

  it('holds a partial command back and hands it out', () => {
    const s = new RespCommandSplitter();
    expect(s.push(bytes('*2\r\n$3\r\nGET\r\n$1\r'))).toEqual([]);
    expect(text(s.pendingBytes())).toBe('*2\r\n$3\r\nGET\r\n$1\r');
  });
});

describe('RespSequencer', () => {
  function make() {
    const log: string[] = [];
    const seq = new RespSequencer({ write: (conn, b) => log.push(`${conn}>${text(b)}`), end: (conn) => log.push(`${conn} end`) });
    return { seq, log };
  }

  it('one command at a time across connections, in the order they became whole; the next after the reply', () => {
    const { seq, log } = make();
    seq.open(1);
    seq.open(2);
    seq.clientBytes(1, bytes('*1\r\n$4\r\nPI'));
    seq.clientBytes(2, bytes('PING\r\nPING\r\n'));
    seq.clientBytes(1, bytes('NG\r\n'));
    expect(log).toEqual(['2>PING\r\n']);
    seq.appBytes(2, bytes('+PO'));
    expect(log.length).toBe(1);
    seq.appBytes(2, bytes('NG\r\n'));
    expect(log).toEqual(['2>PING\r\n', '2>PING\r\n']);
    seq.appBytes(2, bytes('+PONG\r\n'));
    expect(log[2]).toBe('1>*1\r\n$4\r\nPING\r\n');
    expect(seq.idle).toBe(false);
    seq.appBytes(1, bytes('+PONG\r\n'));
    expect(seq.idle).toBe(true);
    expect(seq.stats.commands).toBe(3);
  });

  it('the client\'s EOF ends the app socket after its commands are answered', () => {
    const { seq, log } = make();
    seq.open(1);
    seq.clientBytes(1, bytes('PING\r\n'));
    seq.clientEof(1);
    expect(log).toEqual(['1>PING\r\n']);
    seq.appBytes(1, bytes('+PONG\r\n'));
    expect(log).toEqual(['1>PING\r\n', '1 end']);
  });

  it('pause, pending and restorePending: a second sequencer continues exactly where the first was cut', async () => {
    const { seq, log } = make();
    for (const c of [1, 2, 3]) seq.open(c);
    seq.clientBytes(1, bytes('INCR a\r\n'));
    seq.pause();
    seq.clientBytes(2, bytes('INCR b\r\n'));
    seq.clientBytes(1, bytes('INCR c\r\nGET'));
    seq.clientBytes(3, bytes('PING\r\n'));
    seq.clientEof(3);
    const idle = seq.whenIdle();
    seq.appBytes(1, bytes(':1\r\n'));
    await idle;
    expect(log).toEqual(['1>INCR a\r\n']);
    const cut = seq.pending();
    expect(cut.queue.map((q) => `${q.conn}:${text(q.bytes)}`)).toEqual(['2:INCR b\r\n', '1:INCR c\r\n', '3:PING\r\n']);
    expect(cut.partial.map((q) => `${q.conn}:${text(q.bytes)}`)).toEqual(['1:GET']);
    expect(cut.eof).toEqual([3]);

    const other = make();
    other.seq.pause();
    other.seq.restorePending(cut);
    other.seq.clientBytes(1, bytes(' k\r\n'));
    other.seq.resume();
    seq.clientBytes(1, bytes(' k\r\n'));
    seq.resume();
    for (const s of [seq, other.seq]) {
      s.appBytes(2, bytes(':1\r\n'));
      s.appBytes(1, bytes(':1\r\n'));
      s.appBytes(3, bytes('+PONG\r\n'));
    }
    expect(other.log).toEqual(log.slice(1));
    expect(other.log).toEqual(['2>INCR b\r\n', '1>INCR c\r\n', '3>PING\r\n', '3 end', '1>GET k\r\n']);
  });

  it('a connection that goes away while its command is in flight frees the sequence', () => {
    const { seq, log } = make();
    seq.open(1);
    seq.open(2);
    seq.clientBytes(1, bytes('PING\r\n'));
    seq.clientBytes(2, bytes('PING\r\n'));
    seq.forget(1);
    expect(log).toEqual(['1>PING\r\n', '2>PING\r\n']);
  });

  it('bytes that are not RESP are reported, not queued', () => {
    const { seq, log } = make();
    seq.open(1);
    expect(seq.clientBytes(1, bytes('*x\r\n'))).toMatch(/bad array length/);
    expect(log).toEqual([]);
    expect(seq.stats.protocolErrors).toBe(1);
  });
});
