// The live demo's verdict when it did not fail over cleanly (src/lab/demo/verdict.ts), read
// from the replicas' own stamps, not from when their lines reached the demo: a primary that
// won the test-and-set during the demo's hold and whose line came after the kill is a false
// failover, not broken streams; a load that ended before the kill is said to have ended.
// The LiveDemo's own event handler is driven with such a sequence (no process is started).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoVerdict, falseFailoverText, loadFinishedText, type DemoMarks, type SeenEvent } from '../../../src/lab/demo/verdict.js';
import { LiveDemo, loadDoneAtMs } from '../../../src/lab/demo/live.js';
import { judgeDemo } from '../../../src/lab/demo/report.js';
import type { ChildEvent } from '../../../src/lab/children.js';

const event = (e: object) => e as unknown as ChildEvent;

const timing = { heartbeatMs: 10, failureTimeoutMs: 50 };
// The in-flight kill moment: hold 1000..1017, lose until 1037, kill at 1040.
const marks: DemoMarks = { holdFromMs: 1000, holdToMs: 1017, ownFaultAtMs: 1037, killAtMs: 1040 };

describe('demoVerdict', () => {
  it('the primary won during the hold, its line seen after the kill: a false failover during the hold', () => {
    const events: SeenEvent[] = [
      { replica: 'b', event: 'lost', atMs: 1100, epoch: 1 }, // b suspected the killed a, and lost: a had won
      { replica: 'a', event: 'won', atMs: 1012, epoch: 1 },
    ];
    const v = demoVerdict(events, { ...marks, loadDoneAtMs: 1500 });
    expect(v).toEqual({ kind: 'false-failover', replica: 'a', event: 'won', epoch: 1, atMs: 1012, duringHold: true, afterKillSeen: true });
    if (v.kind !== 'false-failover') throw new Error('unreachable');
    const text = falseFailoverText(v, 0, timing);
    expect(text).toMatch(/^replica a reported won in epoch 1 during the demo's hold of the backup's acknowledgements, before the kill \(at \+1012 ms; its line reached the demo only after the kill/);
    expect(text).toMatch(/rerun with --heartbeat-ms 50 --failure-timeout-ms 250, or let the failure detector adapt: --failure-timeout-max-ms 500$/);
  });
  it('a failover stamped before the demo touched anything: a false failover while both ran', () => {
    const v = demoVerdict([{ replica: 'b', event: 'live', atMs: 900, epoch: 1 }], marks);
    expect(v).toMatchObject({ kind: 'false-failover', replica: 'b', duringHold: false });
  });
  it('the real failover, stamped after the demo\'s fault: no false failover', () => {
    expect(demoVerdict([{ replica: 'b', event: 'won', atMs: 1090, epoch: 1 }, { replica: 'b', event: 'live', atMs: 1091, epoch: 1 }], { ...marks, loadDoneAtMs: 1300 })).toEqual({ kind: 'none' });
  });
  it('the load ended before the kill: said so, not "nobody went live"', () => {
    const v = demoVerdict([], { ...marks, loadDoneAtMs: 1030 });
    expect(v).toEqual({ kind: 'load-finished-before-kill', loadDoneAtMs: 1030, killAtMs: 1040 });
    if (v.kind !== 'load-finished-before-kill') throw new Error('unreachable');
    expect(loadFinishedText(v, 800)).toBe('the load finished before the kill (its last stream ended 10 ms before the kill -9 at --kill-after-ms 800): nothing was left to fail over; lower --kill-after-ms or raise --bytes');
    expect(demoVerdict([], { ...marks, loadDoneAtMs: 1041 })).toEqual({ kind: 'none' });
    // a false failover says more than an early end
    expect(demoVerdict([{ replica: 'a', event: 'won', atMs: 1010 }], { ...marks, loadDoneAtMs: 1030 }).kind).toBe('false-failover');
  });
  it('a failover stamped after the demo began stopping the pair is the stop\'s, not a false one', () => {
    const won: SeenEvent = { replica: 'a', event: 'won', atMs: 2000, epoch: 0 };
    expect(demoVerdict([won], { stopAtMs: 1990 })).toEqual({ kind: 'none' });
    expect(demoVerdict([won], { stopAtMs: 2010 }).kind).toBe('false-failover');
  });
  it('when the load ended: the result\'s stamp, else its start plus its elapsed time', () => {
    expect(loadDoneAtMs(event({ event: 'result', atMs: 5 }), 1)).toBe(5);
    expect(loadDoneAtMs(event({ event: 'result', elapsedMs: 40 }), 1000)).toBe(1040);
  });
});

describe('LiveDemo: the events of a primary that won during the hold, arriving after the kill', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ftcp-verdict-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const out: string[] = [];
  const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t), nowMs: () => 0 };
  const o = { app: 'counter' as const, connections: 3, seed: 1, seedFromClock: false, bytes: 1000, killAfterMs: 300, captureDir: dir, unsafe: false, ...timing, json: true, mtu: 1500, noReport: true };

  it('names the false failover, counts no stream as broken, and does not say nobody went live', () => {
    const demo = new LiveDemo(o, io);
    const d = demo as unknown as { beforeKill: boolean; onEvent(label: string, e: object): void };
    const t = demo.marks;
    // What kill() records as it goes: the hold, the end of the demo's steps, the kill.
    Object.assign(t, { holdFromMs: 5000, holdToMs: 5017, ownFaultAtMs: 5037, killAtMs: 5040 });
    d.beforeKill = false;
    demo.killed = true;
    demo.failover.killAtMs = 5040;
    // The lines as they arrive: b's (after the kill) first, then a's, stamped in the hold.
    d.onEvent('replica b', { event: 'suspect', name: 'b', epoch: 1, atMs: 5095 });
    expect(demo.falseFailover).toBeUndefined();
    d.onEvent('replica b', { event: 'lost', name: 'b', epoch: 1, atMs: 5096 });
    expect(demo.falseFailover).toBeUndefined(); // stamped after the demo's fault: not by itself false
    d.onEvent('replica a', { event: 'won', name: 'a', epoch: 1, atMs: 5012 });
    expect(demo.falseFailover).toMatch(/^replica a reported won in epoch 1 during the demo's hold/);
    expect(demo.seen.map((e) => `${e.replica} ${e.event}`)).toEqual(['b lost', 'a won']);
    const report = judgeDemo(demo);
    expect(report.ok).toBe(false);
    expect(report.streams).toEqual({ intact: 0, broken: 0, notJudged: 3 });
    expect(report.problems.some((p) => p.includes('nobody went live'))).toBe(false);
    expect(report.problems.some((p) => p.startsWith('a false failover before the kill: replica a reported won'))).toBe(true);
    expect(report.falseFailover).toBe(demo.falseFailover);
  });

  it('the load ended before the kill: the report says so instead of "nobody went live"', () => {
    const demo = new LiveDemo({ ...o, seed: 2 }, io);
    Object.assign(demo.marks, { holdFromMs: 5000, holdToMs: 5017, ownFaultAtMs: 5037, killAtMs: 5040, loadDoneAtMs: 5020 });
    (demo as unknown as { beforeKill: boolean }).beforeKill = false;
    demo.killed = true;
    demo.clientResult = event({ event: 'result', streams: { intact: 3, broken: 0 }, resets: 0, problems: [] });
    const report = judgeDemo(demo);
    expect(report.problems.some((p) => p.includes('nobody went live'))).toBe(false);
    expect(report.problems).toContain('the load finished before the kill (its last stream ended 20 ms before the kill -9 at --kill-after-ms 300): nothing was left to fail over; lower --kill-after-ms or raise --bytes');
    expect(report.streams).toEqual({ intact: 3, broken: 0 });
  });

  it('a step failed before the kill: what the stop makes the other replica do is no false failover', () => {
    const demo = new LiveDemo({ ...o, seed: 3 }, io);
    const d = demo as unknown as { onEvent(label: string, e: object): void };
    // The demo began stopping everything at 7000 (its cleanup after the failed step); a exits
    // first, b suspects it at once, wins and goes live.
    demo.marks.stopAtMs = 7000;
    d.onEvent('replica b', { event: 'suspect', name: 'b', epoch: 0, atMs: 7004, silentMs: 1, reason: 'channel-lost' });
    d.onEvent('replica b', { event: 'won', name: 'b', epoch: 0, atMs: 7005 });
    d.onEvent('replica b', { event: 'live', name: 'b', epoch: 1, atMs: 7006, r: 0, lastIndex: 0, reemitted: 0, reemittedEntries: 0 });
    expect(demo.falseFailover).toBeUndefined();
    expect(judgeDemo(demo).problems.some((p) => p.startsWith('a false failover'))).toBe(false);
    // The same event stamped before the stop began is one.
    d.onEvent('replica b', { event: 'won', name: 'b', epoch: 0, atMs: 6990 });
    expect(demo.falseFailover).toMatch(/^replica b reported won in epoch 0 while both replicas were running/);
  });
});
