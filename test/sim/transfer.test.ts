// `sim transfer` with the real stack: byte-exact bulk transfers both ways, on a clean link and
// under seeded faults, determinism of whole runs, and snapshot/restore mid-transfer.
//
// Every run prints its seed; a failure names the seed and the CLI command that reproduces it.
// Every capture is checked with tshark (skipped with a printed reason when it is missing).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPcapng } from '../../src/pcap/reader.js';
import { defaultStackFactory } from '../../src/sim/default-stack.js';
import { runTransfer, transferCommandLine, type TransferOptions, type TransferResult } from '../../src/sim/transfer.js';
import { checkCaptureWithTshark, tsharkAvailable } from '../helpers/tshark.js';

const MB10 = 10_000_000;
const FAULTS = { loss: 0.05, duplicate: 0.02, reorder: 0.05, corrupt: 0.01 } as const;
const SWEEP_SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);

const dir = mkdtempSync(join(tmpdir(), 'ftcp-sim-transfer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

if (!tsharkAvailable()) console.warn('[skip] transfer capture checks: tshark not installed (apt-get install -y tshark)');

type RunOptions = Omit<TransferOptions, 'stackFactory'>;

function transfer(options: RunOptions): TransferResult {
  const t0 = performance.now();
  const r = runTransfer({ ...options, stackFactory: defaultStackFactory });
  const wallMs = Math.round(performance.now() - t0);
  console.log(
    `seed ${options.seed}: ${r.ok ? 'ok' : `FAILED (${r.failure?.kind})`}, ${options.bytes} B each way, ` +
      `${(r.durationUs / 1e6).toFixed(3)} s virtual, ${wallMs} ms wall, ${r.events} events, ${r.retransmits} retransmits, ` +
      `faults lost ${r.faults.lost} dup ${r.faults.duplicated} reordered ${r.faults.reordered} corrupted ${r.faults.corrupted}`,
  );
  return r;
}

/** The failure message every assertion carries: what failed, the seed, how to reproduce. */
function why(options: RunOptions, r: TransferResult): string {
  return `seed ${options.seed} failed (${r.failure?.kind ?? 'assertion'}): ${r.failure?.message ?? ''}\n` +
    `  reproduce: ${transferCommandLine(options)}`;
}

function expectTransferred(options: RunOptions, r: TransferResult): void {
  const msg = why(options, r);
  expect(r.ok, msg).toBe(true);
  for (const d of [r.clientToServer, r.serverToClient]) {
    expect(d.bytesSent, msg).toBe(options.bytes);
    expect(d.bytesReceived, msg).toBe(options.bytes);
    expect(d.sha256Received, msg).toBe(d.sha256Sent);
  }
}

/** Write each capture to a file and have tshark read it: no malformed packets, no bad checksums. */
function expectCleanCaptures(options: RunOptions, r: TransferResult): void {
  expect(r.captures.map((c) => c.name)).toEqual(['client', 'server']);
  if (!tsharkAvailable()) return;
  const t0 = performance.now();
  for (const capture of r.captures) {
    const path = join(dir, `seed${options.seed}-${capture.name}.pcapng`);
    writeFileSync(path, capture.bytes);
    try {
      const check = checkCaptureWithTshark(path);
      const msg = `${capture.name} capture of ${why(options, r)}`;
      expect(check.exitCode, `${msg}\n${check.stderr}`).toBe(0);
      expect(check.cutShort, msg).toBe(false);
      expect(check.packets, msg).toBe(readPcapng(capture.bytes).packets.length);
      expect({ malformed: check.malformed, badIpChecksums: check.badIpChecksums, badTcpChecksums: check.badTcpChecksums }, msg)
        .toEqual({ malformed: 0, badIpChecksums: 0, badTcpChecksums: 0 });
    } finally {
      rmSync(path, { force: true });
    }
  }
  console.log(`seed ${options.seed}: tshark checked both captures in ${Math.round(performance.now() - t0)} ms wall`);
}

describe('sim transfer, real stack', () => {
  it('moves 10 MB each way byte-exact on a clean link', () => {
    const options: RunOptions = { seed: 1, bytes: MB10 };
    const r = transfer(options);
    expectTransferred(options, r);
    expect(r.retransmits, why(options, r)).toBe(0);
    expectCleanCaptures(options, r);
  });

  it.each(SWEEP_SEEDS)('moves 10 MB each way byte-exact under loss 0.05, dup 0.02, reorder 0.05, corrupt 0.01 (seed %i)', (seed) => {
    const options: RunOptions = { seed, bytes: MB10, ...FAULTS };
    const r = transfer(options);
    expectTransferred(options, r);
    // The faults happened and the stacks coped with them.
    expect(r.faults.lost * r.faults.duplicated * r.faults.reordered * r.faults.corrupted, why(options, r)).toBeGreaterThan(0);
    expect(r.retransmits, why(options, r)).toBeGreaterThan(0);
    // Drops for packets that failed to parse: checksums, or a header field the flipped bit made invalid.
    const parseDrops = (['client', 'server'] as const)
      .flatMap((name) => Object.entries(r.stats[name].drops))
      .filter(([reason]) => /^(ipv4-|tcp-|not-)|^bad-port$/.test(reason))
      .reduce((n, [, count]) => n + (count ?? 0), 0);
    // Every corrupted copy was dropped before TCP used it (a flipped bit may make a header invalid before the checksum is read).
    expect(parseDrops, why(options, r)).toBe(r.faults.corrupted);
    expectCleanCaptures(options, r);
  });

  it('gives byte-identical captures for the same seed, and a restored snapshot emits the same bytes', () => {
    const options: RunOptions = { seed: 77, bytes: 2_000_000, ...FAULTS };
    const a = transfer(options);
    const b = transfer(options);
    const mirrored = transfer({ ...options, mirrorAtFraction: 0.5 });
    expectTransferred(options, a);
    for (const [label, other] of [['second run', b], ['mirrored run', mirrored]] as const) {
      expect(other.ok, `${label}: ${why(options, other)}`).toBe(true);
      for (let i = 0; i < 2; i++) {
        expect(Buffer.from(other.captures[i]!.bytes).equals(a.captures[i]!.bytes), `${label}: ${a.captures[i]!.name} capture differs; ${why(options, a)}`).toBe(true);
      }
    }
    const m = mirrored.mirror!;
    expect(m.client.mismatch, why(options, mirrored)).toBeUndefined();
    expect(m.server.mismatch, why(options, mirrored)).toBeUndefined();
    // The mirror started mid-transfer and compared a good share of the remaining traffic.
    expect(m.atUs).toBeGreaterThan(0);
    expect(m.atUs).toBeLessThan(mirrored.durationUs);
    expect(m.client.packetsCompared + m.server.packetsCompared).toBeGreaterThan(1000);
    console.log(`snapshot at ${m.atUs} µs: client ${m.snapshotBytes.client} B, server ${m.snapshotBytes.server} B; ` +
      `compared ${m.client.packetsCompared} + ${m.server.packetsCompared} packets`);
    expectCleanCaptures(options, a);
  });
});
