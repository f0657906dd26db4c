// Captures written by PcapngWriter, read by the real tshark with checksum validation on.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { collectPcapng } from '../../src/pcap/pcapng.js';
import { readPcapng } from '../../src/pcap/reader.js';
import { openCaptureFile } from '../../src/pcap/capture-file.js';
import { buildTcpPacket, internetChecksum, parseIpv4Addr, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, type TcpSegmentFields } from '../../src/wire/index.js';
import { checkCaptureWithTshark, describeTshark, tsharkFields, tsharkVersion } from '../helpers/tshark.js';

const CLIENT = parseIpv4Addr('192.0.2.1');
const SERVICE = parseIpv4Addr('192.0.2.10');
const enc = new TextEncoder();

/** A whole connection: handshake with options, data both ways, FIN both ways (9 packets). */
function conversation(): { bytes: Uint8Array; fromClient: boolean }[] {
  const c = { port: 40000, isn: 1_000_000 };
  const s = { port: 7, isn: 3_000_000_000 };
  let ipId = 1;
  const out: { bytes: Uint8Array; fromClient: boolean }[] = [];
  const send = (fromClient: boolean, seg: Omit<TcpSegmentFields, 'srcPort' | 'dstPort' | 'window'> & { window?: number }): void => {
    const bytes = buildTcpPacket(
      { src: fromClient ? CLIENT : SERVICE, dst: fromClient ? SERVICE : CLIENT, id: ipId++, dontFragment: true },
      { srcPort: fromClient ? c.port : s.port, dstPort: fromClient ? s.port : c.port, window: 65535, ...seg },
    );
    out.push({ bytes, fromClient });
  };
  const hello = enc.encode('hello, ftcp\n');
  send(true, { seq: c.isn, ack: 0, flags: TCP_SYN, options: [{ kind: 'mss', mss: 1460 }, { kind: 'sackOk' }, { kind: 'ts', val: 100, ecr: 0 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }] });
  send(false, { seq: s.isn, ack: c.isn + 1, flags: TCP_SYN | TCP_ACK, options: [{ kind: 'mss', mss: 1460 }, { kind: 'sackOk' }, { kind: 'ts', val: 500, ecr: 100 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }] });
  const ts = (val: number, ecr: number) => [{ kind: 'nop' as const }, { kind: 'nop' as const }, { kind: 'ts' as const, val, ecr }];
  send(true, { seq: c.isn + 1, ack: s.isn + 1, flags: TCP_ACK, window: 512, options: ts(101, 500) });
  send(true, { seq: c.isn + 1, ack: s.isn + 1, flags: TCP_ACK | TCP_PSH, window: 512, options: ts(102, 500), payload: hello });
  send(false, { seq: s.isn + 1, ack: c.isn + 1 + hello.length, flags: TCP_ACK, window: 512, options: ts(501, 102) });
  send(false, { seq: s.isn + 1, ack: c.isn + 1 + hello.length, flags: TCP_ACK | TCP_PSH, window: 512, options: ts(502, 102), payload: hello });
  send(true, { seq: c.isn + 1 + hello.length, ack: s.isn + 1 + hello.length, flags: TCP_ACK | TCP_FIN, window: 512, options: ts(103, 502) });
  send(false, { seq: s.isn + 1 + hello.length, ack: c.isn + 2 + hello.length, flags: TCP_ACK | TCP_FIN, window: 512, options: ts(503, 103) });
  send(true, { seq: c.isn + 2 + hello.length, ack: s.isn + 2 + hello.length, flags: TCP_ACK, window: 512, options: ts(104, 503) });
  return out;
}

// Made on first use, so a run that skips (no tshark) leaves nothing behind.
let workDir: string | undefined;
const inDir = (name: string): string => join((workDir ??= mkdtempSync(join(tmpdir(), 'ftcp-pcap-'))), name);
afterAll(() => {
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

/** Timestamps past 2^32 us (~71 minutes), to check the split end to end. */
const T0 = 5_000_000_000_000;

describeTshark(`tshark reads PcapngWriter captures (${tsharkVersion() ?? 'tshark missing'})`, () => {
  it('dissects a whole TCP connection with no malformed packets and no bad checksums', () => {
    const path = inDir('clean.pcapng');
    const { writer, file } = openCaptureFile(path);
    const client = writer.addInterface('client', { description: "client's view" });
    const packets = conversation();
    packets.forEach((p, i) => writer.writePacket(client, T0 + i * 1_000 + 123, p.bytes, i === 3 ? 'go-live: epoch 2' : undefined));
    file.close();

    const check = checkCaptureWithTshark(path);
    expect(check).toMatchObject({ packets: packets.length, malformed: 0, badIpChecksums: 0, badTcpChecksums: 0, badChecksums: 0, exitCode: 0, cutShort: false, stderr: '' });
    expect(check.problems).toEqual([]);
    expect(check.expert.error).toBe(0);
    expect(check.comments).toEqual([{ frame: 4, comment: 'go-live: epoch 2' }]);
    expect(check.expert.comment).toBe(1); // tshark files the packet comment as a "comment" expert item

    // The rest of what tshark sees: protocols, interface, timestamps, checksums checked (status 1).
    const run = tsharkFields(path, ['frame.protocols', 'frame.interface_name', 'frame.time_epoch', 'ip.checksum.status', 'tcp.checksum.status', 'tcp.len']);
    expect(run.rows.map((r) => r[0]![0])).toEqual(Array(packets.length).fill('raw:ip:tcp').map((p, i) => (i === 3 || i === 5 ? `${p}:echo` : p)));
    expect(new Set(run.rows.map((r) => r[1]![0]))).toEqual(new Set(['client']));
    expect(run.rows[0]![2]![0]).toBe('5000000.000123000');
    expect(run.rows[9 - 1]![2]![0]).toBe('5000000.008123000');
    expect(run.rows.every((r) => r[3]![0] === '1' && r[4]![0] === '1')).toBe(true);
    expect(run.rows.map((r) => Number(r[5]![0]))).toEqual([0, 0, 0, 12, 0, 12, 0, 0, 0]);
  });

  it('reports a deliberately broken TCP checksum as bad', () => {
    const packets = conversation();
    const broken = packets[3]!.bytes.slice();
    broken[20 + 16] ^= 0x5a; // TCP checksum field
    const { writer, buffer } = collectPcapng();
    writer.addInterface('client');
    writer.writePacket(0, 1, packets[0]!.bytes);
    writer.writePacket(0, 2, broken);
    const path = inDir('bad-tcp.pcapng');
    writeFileSync(path, buffer.toBytes());

    const check = checkCaptureWithTshark(path);
    expect(check).toMatchObject({ packets: 2, malformed: 0, badIpChecksums: 0, badTcpChecksums: 1, badChecksums: 1 });
    expect(check.expert.error).toBeGreaterThanOrEqual(1);
    expect(check.problems.some((p) => p.frame === 2 && p.severity === 'error' && /checksum/i.test(p.message))).toBe(true);
  });

  it('reports a broken IPv4 header checksum and a malformed TCP header', () => {
    const packets = conversation();
    const badIp = packets[2]!.bytes.slice();
    badIp[10] ^= 0x01; // IPv4 header checksum
    // IPv4 says TCP, but carries only 8 bytes of it: the TCP dissector throws ("Malformed Packet").
    const shortTcp = packets[2]!.bytes.slice(0, 28);
    new DataView(shortTcp.buffer).setUint16(2, 28);
    shortTcp[10] = 0;
    shortTcp[11] = 0;
    new DataView(shortTcp.buffer).setUint16(10, internetChecksum(shortTcp, 0, 20));
    const { writer, buffer } = collectPcapng();
    writer.addInterface('client');
    writer.writePacket(0, 1, badIp);
    writer.writePacket(0, 2, shortTcp);
    const path = inDir('bad-ip.pcapng');
    writeFileSync(path, buffer.toBytes());

    const check = checkCaptureWithTshark(path);
    expect(check).toMatchObject({ packets: 2, malformed: 1, badIpChecksums: 1, badTcpChecksums: 0 });
  });

  it('reads a capture cut inside its last block up to that block, as our reader does', () => {
    const { writer, buffer } = collectPcapng();
    writer.addInterface('client');
    const packets = conversation();
    packets.forEach((p, i) => writer.writePacket(0, T0 + i, p.bytes));
    const whole = buffer.toBytes();
    const path = inDir('cut.pcapng');
    writeFileSync(path, whole.subarray(0, whole.length - 10));

    const ours = readPcapng(whole.subarray(0, whole.length - 10));
    expect(ours.packets).toHaveLength(packets.length - 1);
    expect(ours.truncated).toBeDefined();
    const check = checkCaptureWithTshark(path);
    expect(check).toMatchObject({ packets: packets.length - 1, malformed: 0, badChecksums: 0, cutShort: true });
  });

  it('keeps interfaces apart: one IDB per vantage point', () => {
    const { writer, buffer } = collectPcapng();
    const names = ['client', 'primary', 'backup', 'shadow'];
    for (const n of names) writer.addInterface(n);
    conversation().forEach((p, i) => writer.writePacket(i % names.length, T0 + i, p.bytes));
    const path = inDir('multi.pcapng');
    writeFileSync(path, buffer.toBytes());
    const run = tsharkFields(path, ['frame.interface_id', 'frame.interface_name']);
    expect(run.rows.map((r) => `${r[0]![0]}:${r[1]![0]}`)).toEqual(conversation().map((_, i) => `${i % 4}:${names[i % 4]}`));
    expect(checkCaptureWithTshark(path)).toMatchObject({ malformed: 0, badChecksums: 0 });
  });
});
