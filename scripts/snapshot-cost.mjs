#!/usr/bin/env node
// What a join's state transfer costs, phase by phase: an RSM (bulk app) with N connections,
// each holding `bytes` of unsent data in its send buffer (the client's window is open, the
// server's app wrote that much), then Rsm.snapshot() and Rsm.restore() as the primary and the
// joiner run them, with the log channel's chunk encoding and decoding around them.
// Reads dist/ (npx tsc -p tsconfig.build.json first). CPU ms are process.cpuUsage (user +
// system) over the phase; wall ms are the phase's elapsed time on this (shared) machine.
//
//   node scripts/snapshot-cost.mjs [--conns N] [--bytes B] [--repeat R] [--json]
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Rsm } from '../dist/replica/rsm.js';
import { stackFactory } from '../dist/replica/stack-factory.js';
import { Stack } from '../dist/tcp/stack.js';
import { parseIpv4Addr } from '../dist/wire/addr.js';
import { decodeChannel, encodeChannel, snapshotMessages } from '../dist/replica/channel.js';
import { installNativeCrc32 } from '../dist/net/native-crc.js';

function fail(message) {
  process.stderr.write(`snapshot-cost: ${message}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({ options: { conns: { type: 'string', default: '2' }, bytes: { type: 'string', default: '900000' }, repeat: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } } }).values;
} catch (e) {
  fail(e.message);
}
const int = (name, text, min, max) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer ${min}..${max}, got '${text}'`);
  return n;
};
const conns = int('conns', args.conns, 1, 60_000);
const bytes = int('bytes', args.bytes, 0, 1 << 20);
const repeat = int('repeat', args.repeat, 1, 100);
installNativeCrc32(); // as the replica processes run

const SERVICE = parseIpv4Addr('192.0.2.10');
const PORT = 7070;
const config = { stack: { addresses: [SERVICE], seed: 1234, maxConnections: 100_000, listenBacklog: 65_535 }, servicePort: PORT, app: 'bulk', appOptions: { bulkBytes: bytes, seed: 5 }, digestEvery: 0 };
const rsm = Rsm.create(config, stackFactory);
// Clients on enough addresses that N connections fit in the ephemeral port range.
const clients = [];
for (let i = 0; i < Math.ceil(conns / 20_000); i++) clients.push(new Stack({ addresses: [parseIpv4Addr(`192.0.2.${100 + i}`)], seed: 99 + i, maxConnections: 100_000 }));
let index = 0;
let now = 1000;
const toServer = [];
const apply = (entry) => {
  const r = rsm.apply({ ...entry, index: ++index, epoch: 1, timeUs: now, checks: [] });
  for (const p of r.packets) for (const c of clients) c.handlePacket(now, p);
};
for (let i = 0; i < conns; i++) clients[Math.floor(i / 20_000)].connect(now, { remoteAddress: SERVICE, remotePort: PORT });
// Two rounds: the SYNs, then the handshakes' ACKs; the app has then written its bytes and the
// first window of them is in flight, the rest waits in the send buffer (as early in a transfer).
for (let round = 0; round < 2; round++) {
  for (const c of clients) for (let p = c.pollTransmit(); p !== undefined; p = c.pollTransmit()) toServer.push(p);
  if (toServer.length === 0) break;
  now += 1000;
  for (const p of toServer.splice(0)) apply({ kind: 'packet', packet: p });
}
let buffered = 0;
for (const s of rsm.connections()) buffered += rsm.info(s).unacked;

function phase(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, wall, cpu: (c.user + c.system) / 1000 };
}

const rows = [];
for (let r = 0; r < repeat; r++) {
  const take = phase(() => rsm.snapshot());
  const snap = take.value;
  const chunks = phase(() => snapshotMessages(2, rsm.index, snap).map((m) => encodeChannel(m)));
  const receive = phase(() => {
    const whole = new Uint8Array(snap.length);
    for (const f of chunks.value) {
      const d = decodeChannel(f);
      if (!d.ok) throw new Error(d.message);
      whole.set(d.message.chunk, d.message.offset);
    }
    return whole;
  });
  const restore = phase(() => Rsm.restore(receive.value, stackFactory));
  if (restore.value.digest() !== rsm.digest()) fail('the restored RSM has another digest');
  rows.push({ take, chunks, receive, restore, bytes: snap.length });
}

const best = (k, f) => Math.min(...rows.map((row) => row[k][f]));
// The first run is what a primary pays once per join (cold code, no warmed-up JIT).
const first = (k, f) => rows[0][k][f];
const out = {
  conns: rsm.connections().length,
  bufferedBytes: buffered,
  snapshotBytes: rows[0].bytes,
  firstTakeCpuMs: first('take', 'cpu'),
  firstRestoreCpuMs: first('restore', 'cpu'),
  takeCpuMs: best('take', 'cpu'),
  takeWallMs: best('take', 'wall'),
  chunkEncodeCpuMs: best('chunks', 'cpu'),
  chunkDecodeCpuMs: best('receive', 'cpu'),
  restoreCpuMs: best('restore', 'cpu'),
  restoreWallMs: best('restore', 'wall'),
};
if (args.json) process.stdout.write(`${JSON.stringify(out)}\n`);
else {
  const f = (n) => n.toFixed(1);
  process.stdout.write(
    `${out.conns} connection(s), ${out.bufferedBytes} bytes buffered, snapshot ${out.snapshotBytes} bytes (best of ${repeat}; first run: take cpu ${f(out.firstTakeCpuMs)} ms, restore cpu ${f(out.firstRestoreCpuMs)} ms):\n` +
      `  take     cpu ${f(out.takeCpuMs)} ms, wall ${f(out.takeWallMs)} ms\n` +
      `  chunks   encode cpu ${f(out.chunkEncodeCpuMs)} ms, decode cpu ${f(out.chunkDecodeCpuMs)} ms\n` +
      `  restore  cpu ${f(out.restoreCpuMs)} ms, wall ${f(out.restoreWallMs)} ms\n`,
  );
}
