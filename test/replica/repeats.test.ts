// Repeats (src/replica/repeats.ts): a FIN, or a TIME-WAIT ACK, made again only because the
// output rule held the first copy is not sent; anything else that repeats is.
import { describe, expect, it } from 'vitest';
import { HeldRepeats, repeatKey, type RepeatConn } from '../../src/replica/repeats.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { buildTcpPacket } from '../../src/wire/packet.js';
import { TCP_ACK, TCP_FIN, TCP_RST } from '../../src/wire/tcp.js';

const SERVICE = parseIpv4Addr('192.0.2.10');
const CLIENT = parseIpv4Addr('192.0.2.1');
const PORT = 7070;

function out(flags: number, o: { seq?: number; ack?: number; window?: number; id?: number; tsval?: number; payload?: Uint8Array; clientPort?: number } = {}): Uint8Array {
  return buildTcpPacket(
    { src: SERVICE, dst: CLIENT, id: o.id ?? 1 },
    { srcPort: PORT, dstPort: o.clientPort ?? 40000, seq: o.seq ?? 1000, ack: o.ack ?? 5000, flags, window: o.window ?? 512, options: [{ kind: 'ts', val: o.tsval ?? 1, ecr: 7 }], ...(o.payload !== undefined ? { payload: o.payload } : {}) },
  );
}
const key = (p: Uint8Array) => repeatKey(p, false, PORT);
const conn = (timeWait: boolean, rtoUs = 200_000): RepeatConn => ({ timeWait: () => timeWait, rtoUs: () => rtoUs });

describe('repeatKey', () => {
  it('keys FINs and pure ACKs of the service, by flow, flags, seq, length, ack and window, not by timestamps or IP ID', () => {
    const fin = key(out(TCP_FIN | TCP_ACK, { tsval: 1, id: 1 }));
    expect(fin).toMatchObject({ fin: true, pureAck: false });
    expect(key(out(TCP_FIN | TCP_ACK, { tsval: 900, id: 2 }))?.key).toBe(fin!.key);
    expect(key(out(TCP_FIN | TCP_ACK, { ack: 5001 }))?.key).not.toBe(fin!.key);
    expect(key(out(TCP_FIN | TCP_ACK, { window: 600 }))?.key).not.toBe(fin!.key);
    expect(key(out(TCP_FIN | TCP_ACK, { clientPort: 40001 }))?.key).not.toBe(fin!.key);
    expect(key(out(TCP_ACK))).toMatchObject({ fin: false, pureAck: true });
  });
  it('keys nothing else: data, RST, another port', () => {
    expect(key(out(TCP_ACK, { payload: new Uint8Array([1, 2]) }))).toBeUndefined();
    expect(key(out(TCP_RST | TCP_ACK))).toBeUndefined();
    expect(repeatKey(out(TCP_FIN | TCP_ACK), false, 7071)).toBeUndefined();
  });
});

describe('HeldRepeats', () => {
  it('drops a FIN made again while its first copy is held, and keeps it once the first has left an RTO ago', () => {
    const r = new HeldRepeats();
    const first = key(out(TCP_FIN | TCP_ACK, { tsval: 1 }));
    const again = key(out(TCP_FIN | TCP_ACK, { tsval: 300 }));
    expect(r.admit(first, 0, conn(false))).toBe(true);
    expect(r.admit(again, 300_000, conn(false))).toBe(false); // the probe, made during the hold
    r.release(first, 400_000, conn(false, 400_000)); // the hold ends
    expect(r.admit(again, 410_000, conn(false, 800_000))).toBe(false); // the timer again, 10 ms after it left
    expect(r.admit(again, 800_000, conn(false, 800_000))).toBe(true); // a retransmission timeout after it left
  });
  it('keeps the stack\'s own retransmission of a FIN that left at once and was lost', () => {
    const r = new HeldRepeats();
    const first = key(out(TCP_FIN | TCP_ACK, { tsval: 1 }));
    expect(r.admit(first, 0, conn(false))).toBe(true);
    r.release(first, 2_000, conn(false, 200_000)); // the output rule held it 2 ms
    expect(r.admit(key(out(TCP_FIN | TCP_ACK, { tsval: 200 })), 200_000, conn(false, 400_000))).toBe(true); // one RTO after the making
  });
  it('keeps a repeated pure ACK unless the connection is in TIME-WAIT (a duplicate ACK is a signal)', () => {
    const r = new HeldRepeats();
    expect(r.admit(key(out(TCP_FIN | TCP_ACK, { seq: 999 })), 0, conn(false))).toBe(true); // the connection has made its FIN
    const ack = key(out(TCP_ACK));
    expect(r.admit(ack, 1, conn(false))).toBe(true);
    expect(r.admit(ack, 2, conn(false))).toBe(true);
    expect(r.admit(ack, 3, conn(true))).toBe(false);
  });
  it('a TIME-WAIT ACK made again within an RTO of the first leaving is dropped: a FIN that crossed it', () => {
    const r = new HeldRepeats();
    const fin = key(out(TCP_FIN | TCP_ACK, { seq: 999 }));
    expect(r.admit(fin, 0, conn(false))).toBe(true);
    r.release(fin, 10, conn(false));
    const ack = key(out(TCP_ACK));
    expect(r.admit(ack, 20, conn(true))).toBe(true);
    r.release(ack, 800_000, conn(true, 200_000));
    expect(r.admit(ack, 808_000, conn(true))).toBe(false);
    expect(r.admit(ack, 1_100_000, conn(true))).toBe(true);
  });
  it('the pure ACKs of a connection that has made no FIN are never judged', () => {
    const r = new HeldRepeats();
    const ack = key(out(TCP_ACK));
    let asked = 0;
    const c: RepeatConn = { timeWait: () => (asked++, true), rtoUs: () => 1_000_000 };
    expect(r.admit(ack, 0, c)).toBe(true);
    expect(r.admit(ack, 1, c)).toBe(true);
    expect(asked).toBe(0);
  });
});
