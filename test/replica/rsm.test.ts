import { describe, expect, it } from 'vitest';
import { APP_NAMES, type AppName } from '../../src/proxy/app.js';
import { streamBytes } from '../../src/proxy/stream.js';
import { Rsm, RsmError } from '../../src/replica/rsm.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import { PORT, RsmLoop, rsmConfig, SERVICE } from './rsm-harness.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Drive one client connection through a request script for `app`; returns what the client read. */
function drive(loop: RsmLoop, app: AppName, requests: number, untilUs = 2_000_000): string {
  const s = loop.client.connect(loop.nowUs, { remoteAddress: SERVICE, remotePort: PORT });
  loop.drainClient();
  let got = '';
  let sent = 0;
  let shut = false;
  const lines = (i: number) =>
    app === 'counter' ? 'INCR\n' : app === 'kv' ? (i % 2 === 0 ? `SET k${i} v${i}\n` : `GET k${i - 1}\n`) : app === 'echo' ? `hello ${i}\n` : '';
  loop.run(untilUs, () => {
    for (let e = loop.client.pollEvent(); e; e = loop.client.pollEvent()) {
      /* drained */
    }
    let st: string;
    try {
      st = loop.client.info(s).state;
    } catch {
      return;
    }
    for (let d = loop.client.read(loop.nowUs, s); d.length > 0; d = loop.client.read(loop.nowUs, s)) got += dec.decode(d, { stream: true });
    if (st !== 'ESTABLISHED' && st !== 'CLOSE-WAIT') return;
    if (app === 'bulk') {
      if (!shut) {
        loop.client.write(loop.nowUs, s, streamBytes(3, 0, 5000));
        loop.client.shutdown(loop.nowUs, s);
        shut = true;
      }
      return;
    }
    const answered = got.split('\n').length - 1;
    if (sent < requests && answered === sent) {
      loop.client.write(loop.nowUs, s, enc.encode(lines(sent)));
      sent++;
    } else if (sent === requests && answered === sent && !shut) {
      loop.client.shutdown(loop.nowUs, s);
      shut = true;
    }
  });
  return got;
}

describe('RSM replay', () => {
  it.each(APP_NAMES.map((a) => [a]))('%s: a follower applying the same entries emits the same bytes and passes every state check', (app) => {
    const loop = new RsmLoop(rsmConfig(app));
    const got = drive(loop, app, 10);
    if (app === 'counter') expect(got).toBe('1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n');
    if (app === 'kv') expect(got).toBe('OK\nv0\nOK\nv2\nOK\nv4\nOK\nv6\nOK\nv8\n');
    expect(loop.entries.length).toBeGreaterThan(10);
    expect(loop.mismatches).toEqual([]);
    expect(loop.outputDiffs).toEqual([]);
    // State checks and digests were really carried, so the comparison above had teeth.
    expect(loop.entries.some((e) => e.checks.length > 0)).toBe(true);
    expect(loop.entries.filter((e) => e.digest !== undefined).length).toBeGreaterThan(1);
  });

  it('bulk: the client receives the seeded stream of the server connection', () => {
    const loop = new RsmLoop(rsmConfig('bulk'));
    let conn = -1;
    loop.primary.onAccept = (s) => (conn = s);
    const s = loop.client.connect(0, { remoteAddress: SERVICE, remotePort: PORT });
    loop.drainClient();
    const got: number[] = [];
    loop.run(3_000_000, () => {
      for (let e = loop.client.pollEvent(); e; e = loop.client.pollEvent()) {
        /* drained */
      }
      try {
        for (let d = loop.client.read(loop.nowUs, s); d.length > 0; d = loop.client.read(loop.nowUs, s)) got.push(...d);
        if (loop.client.info(s).state === 'ESTABLISHED' && got.length === 0) loop.client.shutdown(loop.nowUs, s);
      } catch {
        /* closed */
      }
    });
    expect(got.length).toBe(20_000);
    expect(Buffer.from(got).equals(Buffer.from(streamBytes((5 + conn) >>> 0, 0, 20_000)))).toBe(true);
    expect(loop.mismatches).toEqual([]);
  });
});

describe('RSM snapshot', () => {
  it('a restored RSM continues exactly like the original', () => {
    const loop = new RsmLoop(rsmConfig('counter'), 0);
    drive(loop, 'counter', 4, 100_000);
    const snap = loop.primary.snapshot();
    const restored = Rsm.restore(snap, stackFactory);
    expect(restored.index).toBe(loop.primary.index);
    expect(restored.digest()).toBe(loop.primary.digest());
    expect(Buffer.from(restored.snapshot()).equals(Buffer.from(snap))).toBe(true);
    loop.followers.push(restored);
    const before = loop.entries.length;
    drive(loop, 'counter', 6, 1_000_000);
    expect(loop.entries.length).toBeGreaterThan(before + 6);
    expect(loop.mismatches).toEqual([]);
  });

  it('the incremental digest equals a restored RSM\'s after every entry, for every app, with several connections', () => {
    for (const app of APP_NAMES) {
      const loop = new RsmLoop(rsmConfig(app, 1));
      let last = -1;
      let compared = 0;
      const check = () => {
        if (loop.primary.index === last) return;
        last = loop.primary.index;
        expect(Rsm.restore(loop.primary.snapshot(), stackFactory).digest(), `${app} after entry ${last}`).toBe(loop.primary.digest());
        compared++;
      };
      for (let i = 0; i < 3; i++) {
        const s = loop.client.connect(loop.nowUs, { remoteAddress: SERVICE, remotePort: PORT });
        loop.drainClient();
        loop.run(20_000, check);
        if (app !== 'bulk') loop.client.write(loop.nowUs, s, enc.encode(app === 'kv' ? `SET k${i} v${i}\nGET k${i}\n` : `INCR\nhello ${i}\n`));
        else loop.client.shutdown(loop.nowUs, s);
        loop.run(20_000, check);
      }
      loop.run(500_000, check);
      expect(loop.mismatches, app).toEqual([]);
      expect(compared, app).toBeGreaterThan(10);
    }
  });

  it('rejects a corrupt, truncated or foreign snapshot', () => {
    const snap = Rsm.create(rsmConfig('kv'), stackFactory).snapshot();
    const flipped = snap.slice();
    flipped[40] ^= 1;
    expect(() => Rsm.restore(flipped, stackFactory)).toThrow(RsmError);
    expect(() => Rsm.restore(snap.subarray(0, snap.length - 1), stackFactory)).toThrow(RsmError);
    const foreign = snap.slice();
    foreign[0] = 0x58;
    expect(() => Rsm.restore(foreign, stackFactory)).toThrow(/magic/);
  });

  it('refuses entries out of order or going back in time', () => {
    const rsm = Rsm.create(rsmConfig('echo'), stackFactory);
    expect(() => rsm.apply({ kind: 'tick', index: 2, epoch: 1, timeUs: 0, checks: [] })).toThrow(/consecutive/);
    rsm.apply({ kind: 'tick', index: 1, epoch: 1, timeUs: 50, checks: [] });
    expect(() => rsm.apply({ kind: 'tick', index: 2, epoch: 1, timeUs: 49, checks: [] })).toThrow(/before/);
  });
});

describe('state checks catch a tampered replica', () => {
  it('a follower whose stack saw one extra packet fails the next check, naming the entry and the connection', () => {
    const loop = new RsmLoop(rsmConfig('echo', 0));
    const s = loop.client.connect(loop.nowUs, { remoteAddress: SERVICE, remotePort: PORT });
    loop.drainClient();
    let sent = 0;
    let got = '';
    const talk = (max: number) => () => {
      for (let e = loop.client.pollEvent(); e; e = loop.client.pollEvent()) {
        /* drained */
      }
      for (let d = loop.client.read(loop.nowUs, s); d.length > 0; d = loop.client.read(loop.nowUs, s)) got += dec.decode(d);
      if (loop.client.info(s).state === 'ESTABLISHED' && sent < max && got.split('\n').length - 1 === sent) {
        loop.client.write(loop.nowUs, s, enc.encode(`hello ${sent}\n`));
        sent++;
      }
    };
    loop.run(100_000, talk(2));
    expect(loop.mismatches).toEqual([]);
    // Tamper: the follower's stack alone receives a forged in-window segment from the client.
    const lastData = [...loop.entries].reverse().find((e) => e.kind === 'packet' && e.packet.length > 40) as { packet: Uint8Array } | undefined;
    expect(lastData).toBeDefined();
    const followerStack = (loop.followers[0] as unknown as { stack: { handlePacket(now: number, b: Uint8Array): void } }).stack;
    followerStack.handlePacket(loop.nowUs, forge(lastData!.packet, enc.encode('X'.repeat(20))));
    const tamperedAt = loop.primary.index;
    loop.run(100_000, talk(3));
    expect(loop.mismatches[0]).toBeDefined();
    const m = JSON.parse(loop.mismatches[0]!) as { index: number; socket: number; field: string };
    // Caught at the first entry after the tampering, where the follower's output first differs.
    expect(m.index).toBe(tamperedAt + 1);
    expect(loop.outputDiffs[0]).toBe(tamperedAt + 1);
    expect(m.socket).toBe(loop.primary.connections()[0]);
    expect(['sndNxt', 'rcvNxt', 'touched']).toContain(m.field);
  });

  it('a follower whose app state alone differs fails the next digest', () => {
    const loop = new RsmLoop(rsmConfig('counter', 1));
    drive(loop, 'counter', 2, 100_000);
    expect(loop.mismatches).toEqual([]);
    (loop.followers[0] as unknown as { app: { value: number } }).app.value += 1;
    const tamperedAt = loop.primary.index;
    drive(loop, 'counter', 1, 100_000);
    const m = JSON.parse(loop.mismatches[0]!) as { index: number; field: string };
    expect(m).toMatchObject({ index: tamperedAt + 1, field: 'digest' });
  });

  it('a check list the primary cut short (checksTruncated) is compared as far as it goes', () => {
    const loop = new RsmLoop(rsmConfig('counter', 1));
    drive(loop, 'counter', 2, 100_000);
    const strict = Rsm.create(rsmConfig('counter', 1), stackFactory);
    const lenient = Rsm.create(rsmConfig('counter', 1), stackFactory);
    const fields: string[] = [];
    let cut = 0;
    for (const e of loop.entries) {
      const copy = structuredClone(e);
      delete copy.digest;
      if (copy.checks.length > 0) {
        copy.checks = [];
        cut++;
      }
      const m = strict.verify(copy, strict.apply(copy));
      if (m !== undefined) fields.push(m.field);
      expect(lenient.verify({ ...copy, checksTruncated: true }, lenient.apply(copy))).toBeUndefined();
    }
    expect(cut).toBeGreaterThan(0);
    // Without the flag, a connection only the follower lists is a difference.
    expect(fields).toContain('touched');
  });

  it('a tampered check value or digest in the entry is caught', () => {
    const loop = new RsmLoop(rsmConfig('counter', 1));
    drive(loop, 'counter', 2, 100_000);
    const rsm = Rsm.create(rsmConfig('counter', 1), stackFactory);
    let caught: string | undefined;
    for (const e of loop.entries) {
      const copy = structuredClone(e);
      if (caught === undefined && copy.checks.length > 0 && copy.index > 3) copy.checks[0]!.sndNxt = (copy.checks[0]!.sndNxt + 1) >>> 0;
      const m = rsm.verify(copy, rsm.apply(copy));
      if (m !== undefined && caught === undefined) caught = `${m.index}:${m.field}`;
    }
    expect(caught).toMatch(/^\d+:sndNxt$/);
    const rsm2 = Rsm.create(rsmConfig('counter', 1), stackFactory);
    const e0 = structuredClone(loop.entries[0]!);
    e0.digest = (e0.digest! ^ 1) >>> 0;
    expect(rsm2.verify(e0, rsm2.apply(e0))?.field).toBe('digest');
  });
});

import { parseTcpPacket, buildTcpPacket } from '../../src/wire/packet.js';
import { seqAdd } from '../../src/wire/seq.js';
function forge(packet: Uint8Array, payload: Uint8Array): Uint8Array {
  const p = parseTcpPacket(packet);
  if (!p.ok) throw new Error('not a TCP packet');
  const seg = p.segment;
  return buildTcpPacket(
    { src: p.ip.src, dst: p.ip.dst, id: (p.ip.id + 1) & 0xffff },
    { srcPort: seg.srcPort, dstPort: seg.dstPort, seq: seqAdd(seg.seq, seg.payload.length), ack: seg.ack, flags: seg.flags, window: seg.window, options: seg.options.filter((o) => o.kind !== 'ts'), payload },
  );
}

describe('RSM glue: bytes the send buffer did not take', () => {
  it('echo of more than the buffers hold while the client does not read: held back, then every byte in order after a snapshot', () => {
    const loop = new RsmLoop({ ...rsmConfig('echo'), stack: { addresses: [SERVICE], seed: 1234, sendBufferBytes: 4096, recvBufferBytes: 4096 } });
    const s = loop.client.connect(loop.nowUs, { remoteAddress: SERVICE, remotePort: PORT });
    loop.drainClient();
    const sent = streamBytes(9, 0, 1_500_000);
    let written = 0;
    let got: number[] = [];
    const write = () => {
      try {
        if (written < sent.length) written += loop.client.write(loop.nowUs, s, sent.subarray(written, written + 8192));
      } catch {
        /* not yet connected */
      }
    };
    // The client writes and never reads: its receive buffer (1 MiB) fills, its window closes,
    // the server's 4 KiB send buffer fills, and the echo's next bytes wait in the glue.
    loop.run(1_000_000, write);
    expect(written).toBe(sent.length);
    expect(loop.client.info(s).readable).toBeGreaterThan(1_000_000); // its window closed: the rest waits at the server
    // A follower restored from a snapshot now continues with the glue's pending bytes.
    const restored = Rsm.restore(loop.primary.snapshot(), stackFactory);
    expect(restored.digest()).toBe(loop.primary.digest());
    loop.run(3_000_000, () => {
      write();
      for (let d = loop.client.read(loop.nowUs, s); d.length > 0; d = loop.client.read(loop.nowUs, s)) got = got.concat([...d]);
    });
    expect(written).toBe(sent.length);
    expect(got.length).toBe(sent.length);
    expect(Buffer.from(got).equals(Buffer.from(sent))).toBe(true);
    expect(loop.mismatches).toEqual([]);
    expect(loop.outputDiffs).toEqual([]);
  });
});
