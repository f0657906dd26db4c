/**
 * The LAN's part of the failover demo's report (`--network lan`, lan.ts): the verdicts the
 * bridge capture and the bridge's fdb give, the JSON object, and the human lines.
 */
import { basename } from 'node:path';
import type { LanDemoSide } from './types.js';

/** What the LAN saw that is wrong: a reset service connection, no GARP after the kill, the service MAC on the wrong port. */
export function lanProblems(lan: LanDemoSide, killed: boolean, survivor: string): string[] {
  const problems: string[] = [];
  const { bridge, report } = lan;
  if (bridge === null) return [`the bridge capture ${report.bridge.file} could not be read`];
  if (bridge.serviceResets > 0) problems.push(`${bridge.serviceResets} RST segment(s) of service connections on the LAN's bridge (tcpdump)`);
  if (!killed) return problems;
  if (lan.garpAfterKill === null) problems.push(`no gratuitous ARP from the service MAC ${report.serviceMac} in the bridge capture after the kill`);
  if (report.serviceMacAt?.host !== survivor) problems.push(`the LAN's bridge has the service MAC on ${report.serviceMacAt === null ? 'no port' : `port ${report.serviceMacAt.port} (${report.serviceMacAt.host ?? '?'})`}, not on ${survivor}'s`);
  return problems;
}

/** The report's `lan` object. */
export function lanJson(lan: LanDemoSide, killAtMs: number | null) {
  const g = lan.garpAfterKill;
  return {
    prefix: lan.report.prefix,
    hosts: lan.report.hosts,
    serviceMac: lan.report.serviceMac,
    bridgeCapture: { ...lan.report.bridge, frames: lan.bridge?.frames ?? null, serviceResets: lan.bridge?.serviceResets ?? null },
    garps: lan.bridge?.garps ?? [],
    garpAfterKill: g === null ? null : { frame: g.frame, afterKillMs: killAtMs === null ? null : Math.round((g.atMs - killAtMs) * 100) / 100 },
    serviceMacAt: lan.report.serviceMacAt,
    linkDelay: lan.report.linkDelay,
    arbiter: lan.report.arbiter,
    conflicts: lan.report.conflicts,
    nstat: lan.report.nstat,
    notes: lan.report.notes,
  };
}

/** The human lines: the GARP, the fdb, the client's kernel counters, the bridge capture. */
export function describeLan(lan: LanDemoSide, killAtMs: number | null): string[] {
  const { report, bridge } = lan;
  const j = lanJson(lan, killAtMs);
  const d = report.nstat.delta;
  const g = j.garpAfterKill;
  return [
    `  LAN: ${report.hosts.map((h) => `${h.name} ${h.address}${h.delayMs > 0 ? ` (+${h.delayMs} ms each way)` : ''}`).join(', ')}; service 192.0.2.10 at ${report.serviceMac} behind each replica's TAP device${report.arbiter?.kind === 'etcd' ? `; arbiter: etcd, one member on each of a, b, arb (${report.arbiter.address})` : ''}${report.linkDelay?.by === 'log-relay' ? `; log channel a<->b through a relay delaying ${report.linkDelay.ms} ms each way (no netem here)` : ''}`,
    `  gratuitous ARP after the kill: ${g === null ? 'NONE' : `frame ${g.frame} of ${basename(report.bridge.file)}${g.afterKillMs === null ? '' : `, +${g.afterKillMs} ms after the kill`}`}; the bridge's fdb has the service MAC on ${report.serviceMacAt === null ? 'no port' : `${report.serviceMacAt.port} (${report.serviceMacAt.host ?? '?'})`}`,
    `  kernel (nstat in ${report.nstat.netns}): ${d === null ? 'counters not read' : `TcpExtTCPDSACKOldSent +${d.TcpExtTCPDSACKOldSent}, TcpExtDelayedACKLost +${d.TcpExtDelayedACKLost}${d.TcpExtTCPDSACKOldSent > 0 ? ': the client\'s kernel received duplicate segment(s), dropped them and said so with a D-SACK' : ': the client\'s kernel received no duplicate data segment'}`}`,
    `  address conflicts on the wire (the replicated stack's counters): ${report.conflicts.length === 0 ? 'not read (no replica stopped with its counters)' : report.conflicts.map((c) => `${c.replica}: ${c.arpConflict} ARP from another MAC for 192.0.2.10, ${c.ownSource} frame(s) from the service MAC not its own`).join('; ')}`,
    `  tcpdump on the LAN's bridge ${report.bridge.device}: ${report.bridge.file} (${bridge?.frames ?? '?'} frames${report.bridge.droppedByKernel ? `; it missed ${report.bridge.droppedByKernel}` : ''}; RST segments of service connections: ${bridge?.serviceResets ?? '?'})`,
    ...report.notes.map((n) => `  note: ${n}`),
  ];
}

/** The capture lines of the human report. */
export function lanCaptureLines(lan: LanDemoSide, dir: string, killed: string, survivor: string): string[] {
  const file = lan.report.bridge.file;
  return [
    `captures in ${dir}/:`,
    `  bridge.pcap (tcpdump on the LAN's bridge: every frame, Ethernet), ${killed}.pcapng (primary), ${survivor}.pcapng (backup), ${survivor}-shadow.pcapng, ${survivor}-log.pcapng and ${killed}-log.pcapng (log channel and arbiter); the replicas' in Ethernet link type`,
    'the cut-over on the LAN (the gratuitous ARPs, then the new primary\'s frames):',
    `  tshark -r ${file} -Y 'arp.isgratuitous || (ip.addr == 192.0.2.10 && (tcp.analysis.retransmission || tcp.analysis.duplicate_ack || tcp.flags.reset == 1))' -T fields -e frame.number -e frame.time_relative -e eth.src -e ip.src -e ip.dst -e tcp.seq -e tcp.len`,
  ];
}
