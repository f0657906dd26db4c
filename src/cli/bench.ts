/**
 * `ftcp bench` (what `npm run bench` runs): throughput of two ftcp stacks in one process
 * over an in-memory link, side by side with Node's `net` over the kernel's loopback in the
 * same run, and their ratio. Benchmarks are not tests: nothing here asserts a time; a
 * figure below its target is reported as such.
 */
import { createServer, connect as netConnect, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { Stack } from '../tcp/stack.js';
import { parseIpv4Addr } from '../tcp/wire/addr.js';
import { EXIT, type CliIo } from './io.js';

interface Figure {
  key: string;
  what: string;
  value: number;
  unit: string;
  command: string;
}

/** Move `bytes` from a client stack to a server stack over a lossless in-memory link; returns MB/s of wall time. */
export function stackThroughput(bytes: number, mtu: number): { mbPerS: number; seconds: number; virtualSeconds: number } {
  const clientAddr = parseIpv4Addr('192.0.2.1');
  const serverAddr = parseIpv4Addr('192.0.2.10');
  const big = mtu > 1500;
  const bufferBytes = big ? 1 << 20 : 256 * 1024;
  const cfg = { mtu, sendBufferBytes: bufferBytes, recvBufferBytes: Math.min(65_535, bufferBytes) };
  const client = new Stack({ addresses: [clientAddr], seed: 1, ...cfg });
  const server = new Stack({ addresses: [serverAddr], seed: 2, ...cfg });
  let now = 0;
  const listener = server.listen(now, { port: 80 });
  const sock = client.connect(now, { remoteAddress: serverAddr, remotePort: 80 });
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  let written = 0;
  let received = 0;
  let conn: number | undefined;
  const start = performance.now();
  for (let rounds = 0; received < bytes; rounds++) {
    if (rounds > 50_000_000) throw new Error('bench: transfer made no progress');
    let moved = false;
    while (written < bytes) {
      const n = client.write(now, sock, chunk.subarray(0, Math.min(chunk.length, bytes - written)));
      if (n === 0) break;
      written += n;
    }
    for (let p = client.pollTransmit(); p !== undefined; p = client.pollTransmit()) {
      server.handlePacket(now, p);
      moved = true;
    }
    while (client.pollEvent() !== undefined);
    for (let e = server.pollEvent(); e !== undefined; e = server.pollEvent()) {
      if (e.type === 'incoming') conn = server.accept(listener);
    }
    if (conn !== undefined) {
      for (let r = server.read(now, conn); r.length > 0; r = server.read(now, conn)) received += r.length;
    }
    for (let p = server.pollTransmit(); p !== undefined; p = server.pollTransmit()) {
      client.handlePacket(now, p);
      moved = true;
    }
    if (!moved) {
      // Nothing in flight: let virtual time run to the next deadline (delayed ACK, RTO).
      const next = Math.min(client.pollTimeout() ?? Infinity, server.pollTimeout() ?? Infinity);
      if (next === Infinity) throw new Error('bench: stalled with no timer');
      now = Math.max(now + 1, next);
      client.handleTimeout(now);
      server.handleTimeout(now);
    } else {
      now += 10; // 10 µs per round of the link
    }
  }
  const seconds = (performance.now() - start) / 1000;
  return { mbPerS: bytes / 1e6 / seconds, seconds, virtualSeconds: now / 1e6 };
}

/** Move `bytes` through Node's net over 127.0.0.1 in this process; returns MB/s. */
export async function kernelThroughput(bytes: number): Promise<{ mbPerS: number; seconds: number }> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  return new Promise((resolve, reject) => {
    const server = createServer((s) => {
      let got = 0;
      const start = performance.now();
      s.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= bytes) {
          const seconds = (performance.now() - start) / 1000;
          s.destroy();
          server.close();
          resolve({ mbPerS: bytes / 1e6 / seconds, seconds });
        }
      });
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      const c = netConnect(port, '127.0.0.1', () => {
        let sent = 0;
        const pump = () => {
          while (sent < bytes) {
            sent += chunk.length;
            if (!c.write(chunk)) return void c.once('drain', pump);
          }
          c.end();
        };
        pump();
      });
      c.on('error', () => undefined);
    });
  });
}

export function registerBenchCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('bench')
    .description('benchmarks: ftcp stack throughput in one process vs Node net over kernel loopback, same run')
    .option('--quick', 'small sizes, finishes in seconds (smoke runs)')
    .option('--json', 'print one JSON object with every figure as the last line of stdout')
    .action(async (opts: { quick?: boolean; json?: boolean }) => {
      const mb = opts.quick ? 5 : 50;
      const bytes = mb * 1_000_000;
      const flag = opts.quick ? ' --quick' : '';
      const figures: Figure[] = [];
      const say = (s: string) => {
        if (!opts.json) io.stdout(s + '\n');
        else io.stderr(s + '\n');
      };
      say(`ftcp bench${flag}: ${mb} MB per measurement, node ${process.version}`);
      const kernel = await kernelThroughput(bytes);
      figures.push({ key: 'kernel.loopbackMBps', what: 'Node net over kernel loopback', value: kernel.mbPerS, unit: 'MB/s', command: `ftcp bench${flag}` });
      say(`  node net, kernel loopback:         ${kernel.mbPerS.toFixed(1)} MB/s`);
      for (const mtu of [1500, 65535]) {
        const r = stackThroughput(bytes, mtu);
        figures.push({ key: `stack.mbps${mtu}`, what: `two ftcp stacks, in-memory link, MTU ${mtu}`, value: r.mbPerS, unit: 'MB/s', command: `ftcp bench${flag}` });
        figures.push({ key: `stack.ratio${mtu}`, what: `ftcp stack ÷ kernel loopback, MTU ${mtu}`, value: r.mbPerS / kernel.mbPerS, unit: 'ratio', command: `ftcp bench${flag}` });
        say(`  ftcp stacks, in-memory, MTU ${String(mtu).padEnd(5)}:  ${r.mbPerS.toFixed(1)} MB/s  (ratio ${(r.mbPerS / kernel.mbPerS).toFixed(3)})`);
      }
      const ratio = figures.find((f) => f.key === 'stack.ratio65535')!.value;
      if (ratio < 0.5) say(`  target missed: stack.ratio65535 = ${ratio.toFixed(3)} < 0.5 (issue 8)`);
      if (opts.json) {
        const out: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, quick: !!opts.quick, bytes };
        for (const f of figures) out[f.key] = Number(f.value.toPrecision(4));
        io.stdout(JSON.stringify(out) + '\n');
      }
      setExitCode(EXIT.ok);
    });
}
