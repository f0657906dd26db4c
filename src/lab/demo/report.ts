/**
 * The live demo's verdicts (from the client's result and the replicas' captures), its
 * report (the JSON object of --json, with the fields of the simulated demo's report), the
 * human lines, and how the run ended.
 */
import { join } from 'node:path';
import type { LabIo, RunOutcome } from '../io.js';
import { compareReemitted, DEMO_MTU, readWireView, splitBrainEpochs, checkBulkUploads } from '../live-cluster.js';
import { DEFAULT_TUN_MTU } from '../netns.js';
import { describeKernel, describeKernelTool, kernelResetProblem, kernelToolSummary } from './kernel.js';
import type { DemoState } from './types.js';
import { describeRedis } from './redis.js';
import { describeLan, lanCaptureLines, lanJson, lanProblems } from './lan-report.js';
import { droppedAsDuplicate, resentLines, resentSegments, whyNoDuplicate } from './resent.js';
import { demoVerdict, loadFinishedText } from './verdict.js';

export type DemoReport = ReturnType<typeof judgeDemo>;

/** The problems found after the run, added to the demo's own, and the report. */
export function judgeDemo(d: DemoState) {
  const { o, failover, killed, clientResult, problems, cluster } = d;
  if (clientResult !== undefined && o.app === 'bulk') problems.push(...checkBulkUploads(clientResult, d.backupExit));
  // a reset seen on the wire, whichever tool was the client (nc cannot say).
  const kernelReset = kernelResetProblem(d.kernelSide?.report);
  if (kernelReset !== undefined) problems.push(kernelReset);

  const a = readWireView(cluster.capturePaths('a').wire);
  const b = readWireView(cluster.capturePaths('b').wire);
  const killedView = failover.killed === 'a' ? a : b;
  const survivorView = failover.killed === 'a' ? b : a;
  const reemitted = killed ? compareReemitted(killedView, survivorView) : { segments: 0, sentByPrimary: 0, identicalToPrimary: 0 };
  if (reemitted.identicalToPrimary !== reemitted.sentByPrimary) problems.push(`${reemitted.sentByPrimary - reemitted.identicalToPrimary} re-emitted segment(s) differ from the primary's copy of the same segment`);
  const split = splitBrainEpochs([a, b]);
  if (split.length > 0) problems.push(`split brain: both replicas emitted client packets in epoch(s) ${split.join(', ')}`);
  // What ended the run, from the real sequence of events (verdict.ts).
  const verdict = demoVerdict(d.seen ?? [], d.marks ?? {});
  if (verdict.kind === 'load-finished-before-kill' && failover.liveMs === null) problems.push(loadFinishedText(verdict, o.killAfterMs));
  else if (killed && failover.liveMs === null && d.falseFailover === undefined) problems.push(`replica ${failover.killed} was killed and nobody went live`);
  if (d.lan !== undefined) problems.push(...lanProblems(d.lan, killed, failover.killed === 'a' ? 'b' : 'a'));
  const clientStreams = (clientResult?.['streams'] as { intact: number; broken: number } | undefined) ?? { intact: 0, broken: o.connections };
  // After a false failover the streams are not the failover's to judge: none counts as broken.
  const streams = d.falseFailover === undefined ? clientStreams : { intact: clientStreams.intact, broken: 0, notJudged: o.connections - clientStreams.intact };
  const resets = (clientResult?.['resets'] as number | undefined) ?? 0;
  if (d.falseFailover === undefined) for (const p of (clientResult?.['problems'] as string[] | undefined) ?? []) problems.push(`client: ${p}`);
  else if (!problems.some((p) => p.startsWith('a false failover'))) problems.push(`a false failover before the kill: ${d.falseFailover}`);
  if (clientResult === undefined && problems.length === 0) problems.push('the client gave no result');
  const survivorName = failover.killed === 'a' ? 'b' : 'a';
  const kernel = d.kernelSide !== undefined || d.lan !== undefined;
  // Each re-sent segment and the client's answer to it: the switch saw the clients (loopback),
  // tcpdump on the bridge saw the client's kernel (LAN).
  const clientCapture = d.lan !== undefined ? d.lan.report.bridge.file : join(d.dir, 'client.pcapng');
  const resent = killed ? resentSegments({ survivor: cluster.capturePaths(survivorName).wire, survivorName, killed: cluster.capturePaths(failover.killed).wire, client: clientCapture }) : [];
  const whyNone = killed ? whyNoDuplicate(resent, failover.goLive, survivorName, failover.killed) : undefined;
  return {
    ok: problems.length === 0,
    seed: o.seed,
    app: o.app,
    connections: o.connections,
    unsafe: o.unsafe,
    streams,
    resets,
    failover: {
      killAtMs: killed ? failover.killAtMs : null,
      detectedMs: failover.detectedMs,
      liveMs: failover.liveMs,
      clientResumedMs: failover.clientResumedMs,
      killed: killed ? failover.killed : null,
      by: failover.by,
      epoch: failover.epoch,
    },
    reemitted: { ...reemitted, droppedByClient: resent.filter(droppedAsDuplicate).length, ...(whyNone !== undefined ? { whyNoDuplicate: whyNone } : {}) },
    // each re-sent segment and the client's answer (the first 100; the counts above are of all)
    resent: resent.slice(0, 100),
    client: {
      duplicateSegmentsDropped: (clientResult?.['duplicateSegmentsDropped'] as number | undefined) ?? null,
      retransmits: (clientResult?.['retransmits'] as number | undefined) ?? null,
      ...(kernel ? kernelToolSummary(clientResult, o.kernelTool ?? 'node') : {}),
    },
    splitBrain: split.length,
    ...(clientResult?.['counter'] !== undefined ? { counter: clientResult['counter'] } : {}),
    ...(o.app === 'http' || o.app === 'redis' ? { divergences: d.divergences.length, divergenceList: d.divergences.slice(0, 20) } : {}),
    ...(d.redisReport !== undefined ? { redis: d.redisReport } : {}),
    ...(d.kernelSide !== undefined ? { kernel: d.kernelSide.report } : {}),
    ...(d.lan !== undefined ? { lan: lanJson(d.lan, killed ? failover.killAtMs : null) } : {}),
    problems,
    captures: {
      client: d.lan !== undefined ? d.lan.report.bridge.file : join(d.dir, 'client.pcapng'),
      primary: cluster.capturePaths(failover.killed).wire,
      backup: cluster.capturePaths(survivorName).wire,
      shadow: cluster.capturePaths(survivorName).shadow,
      log: cluster.capturePaths(survivorName).log,
    },
    command: reproduceCommand(d),
    interrupted: d.interrupted ?? null,
    falseFailover: d.falseFailover ?? null,
    timeline: d.timeline,
  };
}

function reproduceCommand(d: DemoState): string {
  const o = d.o;
  const lan = o.network === 'lan' ? ` --network lan --kernel-tool ${o.kernelTool ?? 'node'}${o.linkDelayMs ? ` --link-delay-ms ${o.linkDelayMs}` : ''}${o.arbiter === 'etcd' ? ' --arbiter etcd' : ''}` : '';
  const kernel = d.kernelNs !== undefined ? ` --client kernel --kernel-tool ${o.kernelTool ?? 'node'} --tun-mtu ${o.tunMtu ?? DEFAULT_TUN_MTU}` : lan;
  const timing = ` --heartbeat-ms ${o.heartbeatMs} --failure-timeout-ms ${o.failureTimeoutMs}${o.failureTimeoutMaxMs !== undefined ? ` --failure-timeout-max-ms ${o.failureTimeoutMaxMs}` : ''}${o.failureTimeoutStartMs !== undefined ? ` --failure-timeout-start-ms ${o.failureTimeoutStartMs}` : ''}`;
  const moment = o.killMoment === 'any' ? ' --kill-moment any' : '';
  return `ftcp demo failover${kernel} --seed ${o.seed} --app ${o.app} --connections ${o.connections} --bytes ${o.bytes} --kill-after-ms ${o.killAfterMs}${moment}${timing}${o.mtu !== DEMO_MTU ? ` --mtu ${o.mtu}` : ''}${o.unsafe ? ' --unsafe-no-output-rule' : ''} --capture-dir ${o.captureDir}`;
}

/** The report as one JSON line (--json), or the human lines. */
export function printDemoReport(report: DemoReport, d: DemoState, io: LabIo): void {
  if (d.o.json) {
    io.stdout(`${JSON.stringify(report)}\n`);
    return;
  }
  const { o, failover } = d;
  if (d.interrupted !== undefined || d.falseFailover !== undefined) {
    io.stdout(`${stoppedEarlyLines(report, d).join('\n')}\n`);
    return;
  }
  const { streams, resets, reemitted, problems, captures } = report;
  const after = (v: number | null) => (v === null ? 'never' : `${v} ms`);
  const survivorName = failover.killed === 'a' ? 'b' : 'a';
  const upstream = o.app === 'http' || o.app === 'redis';
  const lines = [
    `result: ${report.ok ? 'ok' : 'FAILED'}`,
    `  streams: ${streams.intact} intact, ${streams.broken} broken; resets: ${resets}; split brain: ${report.splitBrain} epoch(s)`,
    ...(d.killed ? [`  after the kill: detected ${after(failover.detectedMs)}, live ${after(failover.liveMs)}, client resumed ${after(failover.clientResumedMs)}`] : []),
    `  re-emitted ${reemitted.segments} segment(s); the primary had sent ${reemitted.sentByPrimary} of them, ${reemitted.identicalToPrimary} byte-identical; ${d.kernelSide !== undefined || d.lan !== undefined ? 'what the kernel dropped is below' : `the client dropped ${String(report.client.duplicateSegmentsDropped)} duplicate segment(s)`}`,
    ...(report.resent.length > 0 ? [`  what the client${d.lan !== undefined ? '\'s kernel' : ''} did with each re-sent segment (from the captures${d.lan !== undefined ? ', its answers by frame number in the bridge capture' : ''}; ${reemitted.droppedByClient} it had and dropped as duplicates):`, ...resentLines(report.resent, failover.killed, 8, reemitted.segments)] : []),
    ...(reemitted.whyNoDuplicate !== undefined ? [`  ${reemitted.whyNoDuplicate}`] : []),
    ...(report.counter !== undefined ? [`  counter: ${JSON.stringify(report.counter)}`] : []),
    ...(upstream ? [`  upstream app: ${d.divergences.length} divergence(s) between a replica's own ${o.app === 'http' ? 'HTTP server' : 'Redis'} and the log`] : []),
    ...(d.redisReport !== undefined ? describeRedis(d.redisReport) : []),
    ...(o.app === 'bulk' && d.clientResult !== undefined && !problems.some((p) => p.startsWith('bulk:')) ? [`  bulk: every upload (${((d.clientResult['uploads'] as unknown[] | undefined) ?? []).length}) matches the SHA-256 the surviving server app computed`] : []),
    ...(d.kernelSide !== undefined ? [describeKernelTool(report.client as ReturnType<typeof kernelToolSummary>), ...describeKernel(d.kernelSide.report)] : []),
    ...(d.lan !== undefined ? [describeKernelTool(report.client as ReturnType<typeof kernelToolSummary>), ...describeLan(d.lan, d.killed ? failover.killAtMs : null)] : []),
    ...problems.slice(0, 10).map((p) => `  problem: ${p.split('\n')[0]}`),
    ...(d.lan !== undefined ? lanCaptureLines(d.lan, d.dir, failover.killed, survivorName) : loopbackCaptureLines(d, captures.client, failover.killed, survivorName)),
    'the re-emitted segments:',
    `  tshark -r ${captures.backup} -Y 'frame.comment contains "re-emitted"' -T fields -e frame.number -e tcp.seq -e tcp.len -e frame.comment`,
    `reproduce: ${report.command}`,
  ];
  io.stdout(`${lines.join('\n')}\n`);
}

/** A run that did not get to its verdict: interrupted, or stopped at a false failover. */
function stoppedEarlyLines(report: DemoReport, d: DemoState): string[] {
  const head =
    d.interrupted !== undefined
      ? [`result: interrupted by ${d.interrupted}; every child was stopped, nothing was judged`]
      : d.killed
        ? ['result: FAILED: a false failover before the kill: the pair had split before it, so its streams are not judged', `  ${d.falseFailover}`]
        : ['result: FAILED: a false failover before the kill, so the demo stopped there', `  ${d.falseFailover}`];
  return [...head, `captures and event lines so far: ${d.dir}/`, `reproduce: ${report.command}`];
}

function loopbackCaptureLines(d: DemoState, client: string, killed: string, survivorName: string): string[] {
  return [
    `captures (pcapng, wall-clock timestamps) in ${d.dir}/:`,
    `  client.pcapng (the switch's view of the clients), ${killed}.pcapng (primary), ${survivorName}.pcapng (backup), ${survivorName}-shadow.pcapng, ${survivorName}-log.pcapng and ${killed}-log.pcapng (log channel and arbiter)`,
    'the cut-over, as the client saw it (the switch comments the move of the service address):',
    `  tshark -r ${client} -Y 'frame.comment || tcp.analysis.retransmission || tcp.analysis.duplicate_ack' -T fields -e frame.time_relative -e ip.src -e ip.dst -e tcp.seq -e tcp.len -e frame.comment`,
  ];
}

export function demoOutcome(report: DemoReport, interrupted: boolean): RunOutcome {
  if (interrupted) return 'interrupted';
  if (report.ok) return 'ok';
  if (report.resets > 0) return 'connection';
  if (report.problems.some((p) => p.includes('nobody went live') || p.includes('stalled'))) return 'liveness';
  return 'correctness';
}
