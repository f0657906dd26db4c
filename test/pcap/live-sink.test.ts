// The live pcapng stream (--capture-live): to a file it is byte-identical to the capture
// file; a FIFO nobody reads is refused at once, never a hang; a viewer that falls behind
// costs dropped packet blocks, counted, never the header blocks and never a stall; and
// `ftcp switch --capture-live -` puts a pcapng stream on stdout and its text on stderr.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UdpSwitch } from '../../src/net/switch.js';
import { UdpLink } from '../../src/net/udp-link.js';
import { LIVE_QUEUE_LIMIT, LiveCapture, teeSinks } from '../../src/pcap/live-sink.js';
import { PcapngWriter } from '../../src/pcap/pcapng.js';
import { readPcapng } from '../../src/pcap/reader.js';
import { parseIpv4Addr } from '../../src/wire/index.js';
import { tcpPacket, until } from '../helpers/net.js';
import { describeWithDist } from '../helpers/process.js';

const dir = fs.mkdtempSync(join(tmpdir(), 'ftcp-live-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const bin = join(import.meta.dirname, '../../bin/ftcp.js');

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path} failed: ${r.stderr.toString()}`);
}

/** A block whose type field says enhanced packet block, `bytes` long. */
function packetBlock(bytes: number): Uint8Array {
  const b = new Uint8Array(bytes);
  new DataView(b.buffer).setUint32(0, 6, true);
  return b;
}

describe('LiveCapture', () => {
  it('to a file: the same bytes as the capture file, through a switch forwarding packets', async () => {
    const file = join(dir, 'switch.pcapng');
    const livePath = join(dir, 'switch-live.pcapng');
    const live = LiveCapture.open(livePath);
    const sw = await UdpSwitch.start({ listen: { host: '127.0.0.1', port: 0 }, capturePath: file, live });
    const client = await UdpLink.open({ peer: sw.local, retryMs: 20, refreshMs: 200 });
    const server = await UdpLink.open({ peer: sw.local, retryMs: 20, refreshMs: 200 });
    let got = 0;
    server.onPacket(() => got++);
    const CLIENT = parseIpv4Addr('192.0.2.1');
    const SERVICE = parseIpv4Addr('192.0.2.10');
    client.announce(CLIENT, 0);
    server.announce(SERVICE, 1);
    await Promise.all([client.whenRegistered(CLIENT), server.whenRegistered(SERVICE)]);
    for (let i = 0; i < 10; i++) client.send(tcpPacket(CLIENT, SERVICE, i * 100, i + 1));
    await until(() => got === 10, 5000, 'forwarded packets');
    await client.close();
    await server.close();
    await sw.close();
    const disk = fs.readFileSync(file);
    const streamed = fs.readFileSync(livePath);
    expect(readPcapng(new Uint8Array(streamed)).packets.length).toBeGreaterThanOrEqual(10);
    expect(streamed.equals(disk)).toBe(true);
    expect(live.stats).toEqual({ written: expect.any(Number), dropped: 0, failed: null });
  });

  it('a FIFO nobody reads is refused at once with what to do', () => {
    const fifo = join(dir, 'unread.fifo');
    mkfifo(fifo);
    expect(() => LiveCapture.open(fifo)).toThrow(/nobody is reading the FIFO .*unread\.fifo; start the viewer first \(wireshark -k -i /);
  });

  it('a path that cannot be created is one line', () => {
    expect(() => LiveCapture.open(join(dir, 'no-such-dir', 'x.pcapng'))).toThrow(/^cannot create .*no-such-dir.*ENOENT/);
  });

  it('a FIFO with a reader gets the stream; a reader that stops reading costs counted packet blocks, never the header', async () => {
    const fifo = join(dir, 'slow.fifo');
    mkfifo(fifo);
    const reader = fs.createReadStream(fifo);
    reader.pause();
    await new Promise((r) => setTimeout(r, 50)); // the reader's open is under way in the thread pool
    const live = LiveCapture.open(fifo);
    const writer = new PcapngWriter(teeSinks(live.sink), { application: 'test' });
    writer.addInterface('x', { description: 'test' });
    const block = packetBlock(64 * 1024);
    const blocks = Math.ceil((LIVE_QUEUE_LIMIT * 1.5) / block.length);
    for (let i = 0; i < blocks; i++) live.write(block);
    const stats = live.stats;
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.written + stats.dropped).toBe(blocks + 2); // + SHB + IDB, both written
    // The reader drains what was queued: the header blocks first.
    const chunks: Buffer[] = [];
    reader.on('data', (c) => chunks.push(c as Buffer));
    reader.resume();
    await live.close();
    await new Promise<void>((r) => reader.on('close', () => r()));
    const all = Buffer.concat(chunks);
    expect(all.readUInt32LE(0)).toBe(0x0a0d0d0a);
    expect(all.length % 4).toBe(0); // whole blocks
    expect(all.length).toBeGreaterThanOrEqual((stats.written - 2) * block.length);
  });
});

describeWithDist('ftcp switch --capture-live -', ['cli/main', 'pcap/live-sink'], () => {
  it('writes a pcapng stream to stdout and its own lines to stderr; SIGTERM ends both cleanly', async () => {
    const child = spawn(process.execPath, [bin, 'switch', '--listen', '127.0.0.1:0', '--no-capture', '--capture-live', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await until(() => /listening on 127\.0\.0\.1:\d+/.test(err), 10_000, 'the listening line on stderr');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    const stream = new Uint8Array(Buffer.concat(out));
    const parsed = readPcapng(stream);
    expect(parsed.interfaces.length).toBeGreaterThanOrEqual(1);
    expect(err).toMatch(/live capture to standard output: \d+ blocks/);
    expect(Buffer.concat(out).toString('latin1')).not.toMatch(/listening on/);
  });

  it('ftcp replica: --capture-live without captures is one line, exit 2', () => {
    const r = spawnSync(process.execPath, [bin, 'replica', '--role', 'primary', '--name', 'a', '--alone', '--no-capture-dir', '--capture-live', '-'], { timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.toString().trim().split('\n')[0]).toMatch(/--capture-live streams the wire capture, which --no-capture-dir turns off/);
  });

  it('a FIFO without a reader: one line, exit 2, no hang', () => {
    const fifo = join(dir, 'cli.fifo');
    mkfifo(fifo);
    const r = spawnSync(process.execPath, [bin, 'switch', '--listen', '127.0.0.1:0', '--no-capture', '--capture-live', fifo], { timeout: 20_000 });
    expect(r.status).toBe(2);
    const lines = r.stderr.toString().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/--capture-live: nobody is reading the FIFO/);
  });
});
