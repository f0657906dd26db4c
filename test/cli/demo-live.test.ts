// `ftcp demo failover` with real processes (no --sim), run in-process through runCli: it
// starts the arbiter, the switch, two replicas and a client as children, kill -9s the
// primary, and reports as the simulated demo does. Timing: D 300 ms (TEST_TIMING) on this
// shared machine; no durations are asserted.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { readPcapng } from '../../src/pcap/reader.js';
import { LIVE_SOURCES, TEST_TIMING } from '../helpers/live.js';
import { describeWithDist } from '../helpers/process.js';
import { checkCaptureWithTshark, itWithTshark, tsharkFields } from '../helpers/tshark.js';

interface LiveReport {
  captures: Record<string, string>;
  reemitted: { segments: number; sentByPrimary: number };
}
let lastReport: LiveReport | undefined;


const dir = mkdtempSync(join(tmpdir(), 'ftcp-demo-live-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const timing = ['--heartbeat-ms', String(TEST_TIMING.heartbeatMs), '--failure-timeout-ms', String(TEST_TIMING.failureTimeoutMs)];

describeWithDist('ftcp demo failover (real processes)', [...LIVE_SOURCES, 'cli/demo', 'lab/demo/live', 'lab/demo/report', 'lab/live-cluster'], () => {
  it('--json: the report of the simulated demo, from real processes and a real kill -9', async () => {
    const r = await cli(['demo', 'failover', '--seed', '3', '--app', 'echo', '--connections', '3', '--bytes', '200000', '--kill-after-ms', '150', '--capture-dir', dir, '--json', ...timing]);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(report.problems, r.stdout).toEqual([]);
    expect(r.code).toBe(0);
    expect(report).toMatchObject({ ok: true, seed: 3, app: 'echo', connections: 3, streams: { intact: 3, broken: 0 }, resets: 0, splitBrain: 0, failover: { killed: 'a', by: 'b', epoch: 2 } });
    for (const k of ['detectedMs', 'liveMs']) expect(typeof report.failover[k]).toBe('number');
    expect(report.reemitted.identicalToPrimary).toBe(report.reemitted.sentByPrimary);
    // The kill comes with output in flight: the client had some of what b re-sent, and dropped it.
    expect(report.reemitted.sentByPrimary, r.stdout).toBeGreaterThan(0);
    expect(report.reemitted.droppedByClient, r.stdout).toBeGreaterThan(0);
    expect(report.client.duplicateSegmentsDropped).toBeGreaterThan(0);
    expect(report.resent.filter((s: { answer: string }) => s.answer === 'duplicate-ack' || s.answer === 'd-sack').length).toBe(report.reemitted.droppedByClient);
    expect(Object.keys(report.captures).sort()).toEqual(['backup', 'client', 'log', 'primary', 'shadow']);
    for (const name of ['client', 'primary', 'backup', 'log']) {
      expect(existsSync(report.captures[name])).toBe(true);
      expect(readPcapng(new Uint8Array(readFileSync(report.captures[name]))).packets.length).toBeGreaterThan(0);
    }
    lastReport = report;
  }, 240_000);

  // every capture a real run writes opens in tshark with checksum validation on,
  // with no malformed packet, no bad checksum and no expert error; and the re-emitted
  // segments the old primary had already sent show as retransmissions at the client.
  itWithTshark('the captures of that run pass tshark, and re-emitted duplicates show as retransmissions', () => {
    const report = lastReport;
    expect(report, 'the run above did not produce a report').toBeDefined();
    for (const name of ['client', 'primary', 'backup', 'shadow', 'log']) {
      const path = report!.captures[name]!;
      if (!existsSync(path)) continue; // a shadow with nothing in it is not written
      const check = checkCaptureWithTshark(path);
      expect(check.exitCode, `${name}: ${check.stderr}`).toBe(0);
      expect(check.malformed, name).toBe(0);
      expect(check.badChecksums, name).toBe(0);
      expect(check.problems.filter((p) => p.severity === 'error'), name).toEqual([]);
    }
    const retransmissions = tsharkFields(report!.captures['client']!, ['frame.number'], 'tcp.analysis.retransmission || tcp.analysis.spurious_retransmission').rows.length;
    expect(report!.reemitted.sentByPrimary).toBeGreaterThan(0);
    expect(retransmissions).toBeGreaterThanOrEqual(1);
  });

  it('prints the timeline, the result, the captures and the tshark command', async () => {
    const r = await cli(['demo', 'failover', '--seed', '4', '--app', 'counter', '--connections', '2', '--kill-after-ms', '100', '--capture-dir', dir, ...timing]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/kill -9 replica a \(pid \d+\), the primary/);
    expect(r.stdout).toMatch(/b: LIVE in epoch 2/);
    expect(r.stdout).toMatch(/the demo holds b's acknowledgements for \d+ ms/);
    expect(r.stdout).toMatch(/result: ok/);
    expect(r.stdout).toMatch(/what the client did with each re-sent segment/);
    expect(r.stdout).toMatch(/b\.pcapng#\d+ to 192\.0\.2\.1:\d+, seq \d+, .*byte-identical to what a sent; the client had it and dropped it: (duplicate ACK|ACK \d+ with a D-SACK)/);
    expect(r.stdout).toMatch(/tshark -r \S+client\.pcapng/);
    expect(r.stdout).toMatch(/reproduce: ftcp demo failover --seed 4 --app counter --connections 2/);
  }, 240_000);
});
