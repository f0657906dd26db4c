// Going live, step 1 (src/replica/go-live.ts reemitOutputs): every shadowed output above r is
// re-emitted except a pure ACK that a finished client would answer with a RST: one followed
// by a FIN of its connection, or one of a connection the new primary has in TIME-WAIT or no
// more. The close-time campaign (test/sim/close-sweep.test.ts) runs the filter in whole
// failovers; here its edge cases are judged one by one against an RSM whose connections are
// in known states, with hand-made outputs: several connections interleaved, a FIN carrying
// data, a RST, a client end the RSM never had, packets that are not the service's.
import { describe, expect, it } from 'vitest';
import { reemitOutputs } from '../../src/replica/go-live.js';
import type { Rsm } from '../../src/replica/rsm.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST } from '../../src/wire/tcp.js';
import { buildTcpPacket } from '../../src/wire/packet.js';
import { CLIENT, PORT, RsmLoop, rsmConfig, SERVICE } from './rsm-harness.js';

/** Client ports of the connections below, by the state the RSM ends with. */
const PORTS = { open: 40001, other: 40002, timeWait: 40003, gone: 40004, never: 40009 } as const;

/**
 * An echo RSM with four connections from CLIENT: `open` and `other` ESTABLISHED, `timeWait`
 * closed by the service first (TIME-WAIT there), `gone` closed by the client first (the
 * service's LAST-ACK ended: no connection). `never` is a port the RSM never saw.
 */
function rsmWithStates(): Rsm {
  const loop = new RsmLoop(rsmConfig('echo'), 0);
  const sockets = new Map<number, number>();
  for (const port of [PORTS.open, PORTS.other, PORTS.timeWait, PORTS.gone]) {
    sockets.set(port, loop.client.connect(loop.nowUs, { remoteAddress: SERVICE, remotePort: PORT, localPort: port }));
    loop.drainClient();
    loop.run(10_000);
  }
  const served = (port: number) => loop.primary.connections().find((s) => loop.primary.info(s).remotePort === port)!;
  // The service closes first; the client answers with its own FIN: the service waits in TIME-WAIT.
  loop.applyEntry({ kind: 'app', socket: served(PORTS.timeWait), op: 'close' });
  loop.run(10_000);
  loop.client.close(loop.nowUs, sockets.get(PORTS.timeWait)!);
  loop.drainClient();
  loop.run(10_000);
  // The client closes first; the echo service closes back; the client's last ACK ends LAST-ACK.
  loop.client.close(loop.nowUs, sockets.get(PORTS.gone)!);
  loop.drainClient();
  loop.run(20_000);
  return loop.primary;
}

function out(port: number, flags: number, payload = ''): Uint8Array {
  return buildTcpPacket({ src: SERVICE, dst: CLIENT, id: 0 }, { srcPort: PORT, dstPort: port, seq: 1000, ack: 2000, flags, window: 65535, payload: new TextEncoder().encode(payload) });
}
const ack = (port: number) => out(port, TCP_ACK);
const fin = (port: number, data = '') => out(port, TCP_ACK | TCP_FIN | (data.length > 0 ? TCP_PSH : 0), data);
const rst = (port: number) => out(port, TCP_ACK | TCP_RST);

/** The packets reemitOutputs keeps, entry by entry, each named as it was given. */
function kept(rsm: Rsm, entries: Array<Array<[string, Uint8Array]>>): string[][] {
  const names = new Map<Uint8Array, string>();
  const shadowed = entries.map((e, i) => ({ index: 10 + i, packets: e.map(([n, p]) => (names.set(p, n), p)) }));
  const result = reemitOutputs(rsm, shadowed);
  expect(result.map((s) => s.index), 'every entry is kept, in order').toEqual(shadowed.map((s) => s.index));
  return result.map((s) => s.packets.map((p) => names.get(p)!));
}

describe('go-live re-emits every shadowed output but the pure ACKs a finished client would answer with a RST', () => {
  const rsm = rsmWithStates();

  it('sets up the states the cases need', () => {
    const state = (port: number) => {
      const s = rsm.connections().find((c) => rsm.info(c).remotePort === port);
      return s === undefined ? 'none' : rsm.info(s).state;
    };
    expect([state(PORTS.open), state(PORTS.other), state(PORTS.timeWait), state(PORTS.gone), state(PORTS.never)]).toEqual(['ESTABLISHED', 'ESTABLISHED', 'TIME-WAIT', 'none', 'none']);
  });

  it('connections interleaved: an ACK is left out only for a FIN of its own connection after it', () => {
    const { open, other } = PORTS;
    expect(kept(rsm, [[['ack open', ack(open)], ['ack other', ack(other)]], [['fin other', fin(other)]], [['ack open 2', ack(open)], ['ack other 2', ack(other)]]])).toEqual([
      ['ack open'],
      ['fin other'],
      ['ack open 2', 'ack other 2'],
    ]);
  });

  it('an ACK after its connection\'s last FIN is kept (a half-closed service still acknowledges); a retransmitted FIN counts as the last', () => {
    const { open } = PORTS;
    expect(kept(rsm, [[['fin', fin(open)]], [['ack after', ack(open)]]])).toEqual([['fin'], ['ack after']]);
    // 'ack 2' goes: a FIN follows it. The identical 'fin again' goes too, as a repeat of
    // the FIN re-emitted just before it (src/replica/repeats.ts).
    expect(kept(rsm, [[['ack 1', ack(open)], ['fin', fin(open)]], [['ack 2', ack(open)]], [['fin again', fin(open)]]])).toEqual([['fin'], [], []]);
  });

  it('a FIN carrying data stands for a FIN, and is itself re-emitted', () => {
    const { open } = PORTS;
    expect(kept(rsm, [[['ack', ack(open)]], [['data+fin', fin(open, 'bye\n')]]])).toEqual([[], ['data+fin']]);
  });

  it('a RST is not a FIN: the ACK before it stays while its connection is open, and every RST is re-emitted', () => {
    const { open, gone, never } = PORTS;
    expect(kept(rsm, [[['ack', ack(open)], ['rst', rst(open)]]])).toEqual([['ack', 'rst']]);
    expect(kept(rsm, [[['rst gone', rst(gone)], ['rst never', rst(never)]]])).toEqual([['rst gone', 'rst never']]);
  });

  it('a pure ACK of a connection in TIME-WAIT, one no longer held, and one never held is left out; their other segments are not', () => {
    const { timeWait, gone, never } = PORTS;
    expect(kept(rsm, [[['ack tw', ack(timeWait)], ['ack gone', ack(gone)], ['ack never', ack(never)]], [['data gone', out(gone, TCP_ACK | TCP_PSH, 'x')], ['fin tw', fin(timeWait)]]])).toEqual([
      [],
      ['data gone', 'fin tw'],
    ]);
  });

  it('leaves alone what is not a TCP packet of the service, and returns an untouched entry as it was', () => {
    const foreign = buildTcpPacket({ src: SERVICE, dst: CLIENT, id: 0 }, { srcPort: PORT + 1, dstPort: PORTS.gone, seq: 1, ack: 1, flags: TCP_ACK, window: 1000 });
    const junk = Uint8Array.of(0x45, 0, 0, 20);
    expect(kept(rsm, [[['foreign ack', foreign], ['junk', junk]]])).toEqual([['foreign ack', 'junk']]);
    const shadowed = [{ index: 1, packets: [ack(PORTS.open)] }, { index: 2, packets: [ack(PORTS.gone)] }];
    const result = reemitOutputs(rsm, shadowed);
    expect(result[0]).toBe(shadowed[0]);
    expect(result[1]).not.toBe(shadowed[1]);
    expect(shadowed[1]!.packets.length, 'the input is not changed').toBe(1);
  });
});
