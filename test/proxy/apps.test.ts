import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BULK_DIGESTS_KEPT, BulkApp, createApp, restoreApp, type App } from '../../src/proxy/app.js';
import { sha256, sha256Hex, sha256Init, sha256Update } from '../../src/proxy/sha256.js';
import { streamBytes, streamMismatch } from '../../src/proxy/stream.js';
import { Prng } from '../../src/tcp/prng.js';

const text = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const str = (b: Uint8Array) => String.fromCharCode(...b);

function talk(app: App, conn: number, input: string): string {
  app.receive(conn, text(input));
  return str(app.pull(conn, 1 << 20));
}

describe('sha256', () => {
  it('matches node:crypto on seeded inputs fed in random pieces', () => {
    const rng = new Prng(7);
    for (let t = 0; t < 50; t++) {
      const data = streamBytes(t, 0, rng.below(1000));
      const s = sha256Init();
      let i = 0;
      while (i < data.length) {
        const n = 1 + rng.below(130);
        sha256Update(s, data.subarray(i, i + n));
        i += n;
      }
      expect(sha256Hex(s)).toBe(createHash('sha256').update(data).digest('hex'));
    }
    expect(sha256(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('seeded stream', () => {
  it('gives the same bytes for any split and detects a change', () => {
    const whole = streamBytes(5, 0, 1000);
    expect(Buffer.from(streamBytes(5, 333, 100))).toEqual(Buffer.from(whole.subarray(333, 433)));
    expect(streamMismatch(5, 10, whole.subarray(10, 50))).toBe(-1);
    const bad = whole.slice(10, 50);
    bad[7] ^= 1;
    expect(streamMismatch(5, 10, bad)).toBe(7);
    expect(Buffer.from(streamBytes(6, 0, 64))).not.toEqual(Buffer.from(whole.subarray(0, 64)));
  });

  it('is the same stream as the byte-at-a-time definition, at any offset and length (golden: 3 seeds)', () => {
    // The definition the stream was first written with: byte pos = byte (pos % 4) of mix(seed, floor(pos / 4)).
    const reference = (seed: number, offset: number, length: number): Uint8Array => {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) {
        const block = Math.floor((offset + i) / 4);
        let z = (Math.imul(block, 0x9e3779b9) + (seed >>> 0) + 0x7f4a7c15) >>> 0;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        out[i] = ((z ^ (z >>> 16)) >>> (((offset + i) & 3) * 8)) & 0xff;
      }
      return out;
    };
    for (const seed of [0, 5, 0xdeadbeef]) {
      for (const [offset, length] of [[0, 0], [0, 1], [1, 2], [3, 9], [2, 4096], [999_999, 1000], [2 ** 33 + 1, 13]] as const) {
        expect(Buffer.from(streamBytes(seed, offset, length)), `seed ${seed} at ${offset}+${length}`).toEqual(Buffer.from(reference(seed, offset, length)));
      }
    }
  });
});

describe('built-in apps', () => {
  it('line apps: an idle connection\'s empty output is shared until it has output, and each answers alone, also after a restore', () => {
    for (const name of ['echo', 'counter'] as const) {
      const app = createApp(name);
      app.open(1);
      app.open(2);
      const line = name === 'echo' ? 'hi\n' : 'INCR\n';
      const answer = (n: number) => (name === 'echo' ? 'hi\n' : `${n}\n`);
      expect(talk(app, 1, line)).toBe(answer(1));
      expect(str(app.pull(2, 100))).toBe('');
      expect(talk(app, 1, line)).toBe(answer(2)); // its output emptied, then filled again
      app.receive(2, text(line));
      const copy = restoreApp(name, JSON.parse(JSON.stringify(app.snapshot())));
      expect(str(copy.pull(2, 100))).toBe(answer(3));
      expect(str(copy.pull(1, 100))).toBe('');
      expect(talk(copy, 1, line)).toBe(answer(4));
      expect(talk(copy, 2, line)).toBe(answer(5));
      expect(str(app.pull(2, 100))).toBe(answer(3)); // the original is untouched by the copy
    }
  });

  it('echo returns every byte, in order, and closes after EOF', () => {
    const app = createApp('echo');
    app.open(1);
    expect(talk(app, 1, 'hello\x00\xff')).toBe('hello\x00\xff');
    expect(app.wantsClose(1)).toBe(false);
    app.eof(1);
    expect(app.wantsClose(1)).toBe(true);
  });

  it('counter answers consecutive values across connections, lines split anywhere', () => {
    const app = createApp('counter');
    app.open(1);
    app.open(2);
    expect(talk(app, 1, 'INCR\nIN')).toBe('1\n');
    expect(talk(app, 2, 'INCR\r\n')).toBe('2\n');
    expect(talk(app, 1, 'CR\nGET\n')).toBe('3\n3\n');
    expect(talk(app, 1, 'BOGUS\n')).toMatch(/^ERR unknown command/);
  });

  it('kv sets, gets and deletes', () => {
    const app = createApp('kv');
    app.open(1);
    expect(talk(app, 1, 'SET a hello world\nGET a\nGET b\nDEL a\nDEL a\nGET a\n')).toBe('OK\nhello world\nNIL\n1\n0\nNIL\n');
  });

  it('bulk sends its seeded stream in pieces and hashes the upload', () => {
    const app = new BulkApp({ bulkBytes: 10_000, seed: 3 });
    app.open(4);
    const got: Uint8Array[] = [];
    for (;;) {
      const b = app.pull(4, 1460);
      if (b.length === 0) break;
      got.push(b);
    }
    expect(Buffer.concat(got)).toEqual(Buffer.from(streamBytes(3 + 4, 0, 10_000)));
    app.receive(4, text('abc'));
    expect(app.wantsClose(4)).toBe(false);
    app.eof(4);
    expect(app.wantsClose(4)).toBe(true);
    expect(app.uploadDigest(4)).toEqual({ received: 3, sha256: createHash('sha256').update('abc').digest('hex') });
  });

  it('bulk keeps only the last BULK_DIGESTS_KEPT upload digests, and a restored copy drops the same ones', () => {
    const a = new BulkApp({ bulkBytes: 10, seed: 3 });
    const finish = (app: BulkApp, conn: number) => {
      app.open(conn);
      app.receive(conn, text(`upload ${conn}`));
      app.eof(conn);
      app.closed(conn);
    };
    for (let conn = 1; conn <= BULK_DIGESTS_KEPT; conn++) finish(a, conn);
    expect(a.finished.size).toBe(BULK_DIGESTS_KEPT);
    const b = restoreApp('bulk', JSON.parse(JSON.stringify(a.snapshot()))) as BulkApp;
    for (const app of [a, b]) for (let conn = BULK_DIGESTS_KEPT + 1; conn <= BULK_DIGESTS_KEPT + 5; conn++) finish(app, conn);
    for (const app of [a, b]) {
      expect(app.finished.size).toBe(BULK_DIGESTS_KEPT);
      expect(app.uploadDigest(5)).toBeUndefined();
      expect(app.uploadDigest(6)?.sha256).toBe(createHash('sha256').update('upload 6').digest('hex'));
      expect(app.uploadDigest(BULK_DIGESTS_KEPT + 5)?.received).toBe(`upload ${BULK_DIGESTS_KEPT + 5}`.length);
    }
    expect(b.sharedDigest()).toBe(a.sharedDigest());
    // The digest follows the entries kept: the same last ones, finished afresh, give the same digest.
    const c = new BulkApp({ bulkBytes: 10, seed: 3 });
    for (let conn = 6; conn <= BULK_DIGESTS_KEPT + 5; conn++) finish(c, conn);
    expect(c.sharedDigest()).toBe(a.sharedDigest());
    expect(JSON.stringify(c.snapshot())).toBe(JSON.stringify(a.snapshot()));
  });

  it.each(['echo', 'counter', 'kv', 'bulk'] as const)('%s restores from its snapshot and behaves the same', (name) => {
    const a = createApp(name, { bulkBytes: 500, seed: 9 });
    a.open(1);
    a.receive(1, text('SET k v\nINCR\npartial'));
    const b = restoreApp(name, JSON.parse(JSON.stringify(a.snapshot())));
    for (const app of [a, b]) app.receive(1, text(' line\nGET k\n'));
    expect(str(b.pull(1, 10_000))).toBe(str(a.pull(1, 10_000)));
    expect(JSON.stringify(b.snapshot())).toBe(JSON.stringify(a.snapshot()));
  });
});
