// Vantage-point captures, fed with valid TCP packets built by the wire codec (no stack
// needed): what each side records, and what tshark makes of it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapngBuffer } from '../../src/pcap/pcapng.js';
import { readPcapng } from '../../src/pcap/reader.js';
import { attachCapture } from '../../src/sim/capture.js';
import { Network } from '../../src/sim/network.js';
import { Simulator } from '../../src/sim/world.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { buildTcpPacket } from '../../src/wire/packet.js';
import { TCP_ACK, TCP_PSH } from '../../src/wire/tcp.js';
import { checkCaptureWithTshark, itWithTshark } from '../helpers/tshark.js';

const A = parseIpv4Addr('192.0.2.1');
const B = parseIpv4Addr('192.0.2.10');
const dir = mkdtempSync(join(tmpdir(), 'ftcp-sim-capture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(seed: number) {
  const sim = new Simulator();
  const net = new Network(sim, seed, { loss: 0.1, duplicate: 0.1, reorder: 0.1, corrupt: 0.1, delayUs: 1000 });
  net.attach(A, () => {});
  net.attach(B, () => {});
  const aBuf = new PcapngBuffer();
  const bBuf = new PcapngBuffer();
  attachCapture(net, 'client', A, aBuf.sink);
  attachCapture(net, 'server', B, bBuf.sink);
  for (let i = 0; i < 400; i++) {
    sim.schedule(i * 100, {
      kind: 'send',
      target: 'A',
      run: () =>
        net.send(A, buildTcpPacket({ src: A, dst: B, id: i }, {
          srcPort: 40000, dstPort: 5001, seq: 1000 + i * 100, ack: 1, flags: TCP_ACK | TCP_PSH, window: 65535,
          payload: new Uint8Array(100).fill(i & 0xff),
        })),
    });
  }
  sim.run({});
  return { net, client: aBuf.toBytes(), server: bBuf.toBytes() };
}

describe('attachCapture', () => {
  const { net, client, server } = run(1);
  const c = net.counters();
  const clientFile = readPcapng(client);
  const serverFile = readPcapng(server);

  it("records every packet at the sender's egress, with a comment for each fault", () => {
    expect(clientFile.packets.length).toBe(400);
    const comments = clientFile.packets.map((p) => p.comments.join(' ')).join('\n');
    expect(comments.match(/lost in flight/g)?.length).toBe(c.lost);
    expect(comments.match(/duplicated in flight/g)?.length).toBe(c.duplicated);
    expect(comments.match(/corrupted in flight/g)?.length).toBe(c.corrupted);
    expect(c.lost * c.duplicated * c.corrupted * c.reordered).toBeGreaterThan(0);
  });

  it("records what arrived at the receiver, leaving out corrupted copies", () => {
    expect(serverFile.packets.length).toBe(c.delivered - c.corrupted);
    expect(serverFile.packets.every((p, i) => i === 0 || p.timestampUs >= serverFile.packets[i - 1]!.timestampUs)).toBe(true);
  });

  it('gives byte-identical files for the same seed', () => {
    const again = run(1);
    expect(Buffer.from(again.client).equals(client)).toBe(true);
    expect(Buffer.from(again.server).equals(server)).toBe(true);
  });

  itWithTshark('writes files tshark reads with no malformed packets and no bad checksums', () => {
    for (const [name, bytes] of [['client', client], ['server', server]] as const) {
      const path = join(dir, `${name}.pcapng`);
      writeFileSync(path, bytes);
      const check = checkCaptureWithTshark(path);
      expect(check.exitCode, check.stderr).toBe(0);
      expect(check.packets).toBe(name === 'client' ? 400 : c.delivered - c.corrupted);
      expect(check.malformed).toBe(0);
      expect(check.badChecksums).toBe(0);
    }
  });
});
