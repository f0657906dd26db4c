/**
 * The report's model: the run folder (load.ts) as lanes and marks for the sequence diagram,
 * bytes per client connection over time for the chart, and the captures' own checks
 * (src/replica/run-checks.ts) for the verdict table. Pure: no I/O.
 */
import { formatIpv4Addr } from '../../wire/addr.js';
import { parseTcpPacket } from '../../wire/packet.js';
import { seqDiff } from '../../wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../wire/tcp.js';
import { compareReemitted, packetKey } from '../../replica/run-checks.js';
import type { ReportPacket, RunFolder } from './load.js';

export type MarkKind = 'packet' | 'log' | 'held' | 'reemitted' | 'answer' | 'kill' | 'silence' | 'tas' | 'live' | 'event';

export interface Mark {
  lane: string;
  timeUs: number;
  kind: MarkKind;
  label: string;
  /** "file#frame" for a packet, as Wireshark's frame number. */
  ref?: string;
  /** For re-emitted segments: byte-identical to what the old primary sent. */
  identical?: boolean;
}

export interface ConnSeries {
  conn: string;
  points: [timeUs: number, bytes: number][];
}

export interface ReportModel {
  lanes: string[];
  marks: Mark[];
  startUs: number;
  endUs: number;
  cutoverUs: number | null;
  series: ConnSeries[];
  checks: [string, string][];
}

const LINK_ETHERNET = 1;

function ipOf(p: ReportPacket): Uint8Array {
  return p.linkType === LINK_ETHERNET ? p.data.subarray(14) : p.data;
}

function laneOfFile(file: string): string {
  const stem = file.replace(/\.pcap(ng)?$/, '');
  if (stem === 'client' || stem === 'bridge') return 'client';
  if (stem.endsWith('-log') || stem === 'log') return `log → ${stem.replace(/-?log$/, '') || 'backup'}`;
  if (stem.endsWith('-shadow') || stem === 'shadow') return `${stem.replace(/-?shadow$/, '') || 'backup'} (held)`;
  return `replica ${stem}`;
}

function laneOfEvent(who: string): string {
  if (who === 'client' || who === 'arbiter') return who;
  if (who === 'switch') return 'network';
  return `replica ${who}`;
}

function describe(p: ReportPacket): { label: string; tcp?: { conn: string; fromClient: boolean; flags: number; seq: number; ack: number; len: number; dsack: boolean } } {
  const r = parseTcpPacket(ipOf(p), false);
  if (!r.ok) return { label: p.comments[0] ?? `frame ${p.frame}` };
  const s = r.segment;
  const flags = [s.flags & TCP_SYN ? 'SYN' : '', s.flags & TCP_FIN ? 'FIN' : '', s.flags & TCP_RST ? 'RST' : '', s.flags & TCP_ACK ? 'ACK' : ''].filter(Boolean).join(',');
  const src = `${formatIpv4Addr(r.ip.src)}:${s.srcPort}`;
  const dst = `${formatIpv4Addr(r.ip.dst)}:${s.dstPort}`;
  const fromClient = !formatIpv4Addr(r.ip.src).endsWith('.10');
  const conn = fromClient ? `${src}` : `${dst}`;
  // RFC 2883 §4: a D-SACK is a first SACK block at or below the cumulative ACK.
  const sack = s.options.find((o) => o.kind === 'sack');
  const dsack = sack !== undefined && sack.kind === 'sack' && sack.blocks.length > 0 && seqDiff(sack.blocks[0]!.left, s.ack) < 0;
  return {
    label: `${src} → ${dst} [${flags}] seq ${s.seq} ack ${s.ack} len ${s.payload.length}${dsack ? ' D-SACK' : ''}`,
    tcp: { conn, fromClient, flags: s.flags, seq: s.seq, ack: s.ack, len: s.payload.length, dsack },
  };
}

/** Builds the model of a loaded run folder. */
export function buildModel(run: RunFolder): ReportModel {
  const marks: Mark[] = [];
  const wire = [...run.captures].filter(([f]) => /^[a-z0-9]+\.pcapng$/.test(f) && f !== 'client.pcapng' && f !== 'bridge.pcapng');
  const resent = verdictResent(run.verdict);
  const keysByFile = new Map(wire.map(([f, ps]) => [f, new Set(ps.map((p) => packetKey(p.data)))]));
  for (const [file, packets] of run.captures) {
    const lane = laneOfFile(file);
    for (const p of packets) {
      const d = describe(p);
      const comment = p.comments.join('; ');
      let kind: MarkKind = lane.startsWith('log') ? 'log' : lane.endsWith('(held)') ? 'held' : 'packet';
      let identical: boolean | undefined;
      if (/re-emitted/.test(comment)) {
        kind = 'reemitted';
        const key = packetKey(p.data);
        identical = [...keysByFile].some(([f, keys]) => f !== file && keys.has(key));
      }
      marks.push({ lane, timeUs: p.timeUs, kind, label: `${d.label}${comment ? ` — ${comment}` : ''}`, ref: `${file}#${p.frame}`, ...(identical !== undefined ? { identical } : {}) });
    }
  }
  for (const e of run.events) {
    const kind: MarkKind = e.event === 'suspect' ? 'silence' : e.event === 'won' || e.event === 'lost' || e.event === 'granted' ? 'tas' : e.event === 'live' ? 'live' : e.event === 'killed' ? 'kill' : 'event';
    marks.push({ lane: laneOfEvent(e.who), timeUs: e.timeUs, kind, label: e.text });
  }
  addKill(run, marks);
  const reemitTimes = marks.filter((m) => m.kind === 'reemitted').map((m) => m.timeUs);
  const firstReemit = reemitTimes.length > 0 ? Math.min(...reemitTimes) : null;
  const client = run.captures.get('client.pcapng') ?? run.captures.get('bridge.pcapng') ?? run.captures.get('bridge.pcap') ?? [];
  const series = markAnswers(client, marks, firstReemit, resent);
  marks.sort((a, b) => a.timeUs - b.timeUs);
  const times = marks.map((m) => m.timeUs);
  const live = marks.find((m) => m.kind === 'live' && (firstReemit === null || m.timeUs <= firstReemit + 1_000_000));
  const lanes = orderLanes([...new Set(marks.map((m) => m.lane))]);
  return { lanes, marks, startUs: Math.min(...times), endUs: Math.max(...times), cutoverUs: live?.timeUs ?? firstReemit, series, checks: checksOf(run, marks, wire, resent) };
}

/** The kill: the verdict names the killed replica; its capture's last frame is the moment. */
function addKill(run: RunFolder, marks: Mark[]): void {
  const failover = run.verdict?.['failover'] as { killed?: string } | undefined;
  const killed = failover?.killed;
  if (killed === undefined) return;
  const own = run.captures.get(`${killed}.pcapng`) ?? [];
  const evs = run.events.filter((e) => e.who === killed);
  const last = Math.max(own.at(-1)?.timeUs ?? 0, evs.at(-1)?.timeUs ?? 0);
  if (last > 0) marks.push({ lane: `replica ${killed}`, timeUs: last, kind: 'kill', label: `kill -9 replica ${killed} (its last record)` });
}

/** A re-sent segment and the client's answer as the demo judged them (its verdict's `resent`, src/lab/demo/resent.ts). */
interface JudgedAnswer {
  ref: string;
  answer: string;
  answerRef: string | null;
}

/** The verdict's `resent` list, when the run's command judged each re-sent segment; undefined otherwise. */
function verdictResent(verdict: Record<string, unknown> | undefined): JudgedAnswer[] | undefined {
  const list = verdict?.['resent'];
  if (!Array.isArray(list)) return undefined;
  return list.filter((x): x is JudgedAnswer => typeof x === 'object' && x !== null && typeof (x as JudgedAnswer).ref === 'string' && typeof (x as JudgedAnswer).answer === 'string');
}

const JUDGED: Record<string, string> = { 'd-sack': 'D-SACK', 'duplicate-ack': 'duplicate ACK' };

/**
 * Client-side answers to the re-sent segments and bytes delivered per connection. With the
 * demo's judgement (`judged`) each answer is the exact frame it named; without, any duplicate
 * ACK or D-SACK from a client after the first re-sent segment.
 */
function markAnswers(client: readonly ReportPacket[], marks: Mark[], firstReemit: number | null, judged: JudgedAnswer[] | undefined): ConnSeries[] {
  const lastAck = new Map<string, number>();
  const base = new Map<string, number>();
  const series = new Map<string, ConnSeries>();
  const byRef = new Map((judged ?? []).filter((j) => j.answerRef !== null && JUDGED[j.answer] !== undefined).map((j) => [j.answerRef!, j]));
  for (const p of client) {
    const d = describe(p);
    const t = d.tcp;
    if (t === undefined) continue;
    const ref = `${p.file}#${p.frame}`;
    const j = byRef.get(ref);
    if (j !== undefined) marks.push({ lane: 'client', timeUs: p.timeUs, kind: 'answer', label: `client answers a re-sent segment: ${JUDGED[j.answer]!} — to ${j.ref}: ${d.label}`, ref });
    if (t.fromClient) {
      const pure = t.len === 0 && (t.flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0;
      const dup = pure && lastAck.get(t.conn) === t.ack;
      if (judged === undefined && (dup || t.dsack) && firstReemit !== null && p.timeUs >= firstReemit) {
        marks.push({ lane: 'client', timeUs: p.timeUs, kind: 'answer', label: `client answers a re-sent segment: ${t.dsack ? 'D-SACK' : 'duplicate ACK'} — ${d.label}`, ref });
      }
      lastAck.set(t.conn, t.ack);
      continue;
    }
    if (t.flags & TCP_SYN) base.set(t.conn, t.seq + 1);
    const b = base.get(t.conn);
    if (b === undefined || t.len === 0) continue;
    let s = series.get(t.conn);
    if (s === undefined) series.set(t.conn, (s = { conn: t.conn, points: [] }));
    const top = Math.max(s.points.at(-1)?.[1] ?? 0, seqDiff(t.seq, b) + t.len);
    s.points.push([p.timeUs, top]);
  }
  return [...series.values()];
}

function orderLanes(lanes: string[]): string[] {
  const rank = (l: string) => (l === 'client' ? 0 : l === 'network' ? 1 : l.startsWith('replica') ? 2 : l.startsWith('log') || l.endsWith('(held)') ? 3 : l === 'arbiter' ? 5 : 4);
  return lanes.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function checksOf(run: RunFolder, marks: readonly Mark[], wire: [string, ReportPacket[]][], resent: readonly JudgedAnswer[] | undefined): [string, string][] {
  const rows: [string, string][] = [];
  const v = run.verdict;
  if (v !== undefined) {
    for (const k of ['ok', 'streams', 'resets', 'splitBrain', 'divergences', 'failover', 'counter', 'client']) if (v[k] !== undefined) rows.push([k, JSON.stringify(v[k])]);
    const problems = v['problems'];
    if (Array.isArray(problems)) rows.push(['problems', problems.length === 0 ? 'none' : problems.join(' | ')]);
  }
  const reemitted = marks.filter((m) => m.kind === 'reemitted');
  const all = wire.flatMap(([, ps]) => ps);
  const reData = all.filter((p) => /re-emitted/.test(p.comments.join(';')));
  const sent = new Set(all.filter((p) => !/re-emitted/.test(p.comments.join(';'))).map((p) => packetKey(p.data)));
  const c = compareReemitted(sent, reData.map((p) => p.data));
  rows.push(['re-emitted segments (captures)', `${reemitted.length}; the old primary had sent ${c.sentByPrimary}, ${c.identicalToPrimary} byte-identical`]);
  rows.push(['client answers (dup ACK / D-SACK after go-live)', `${marks.filter((m) => m.kind === 'answer').length}${resent !== undefined ? ' (each the frame the run judged as the answer to a re-sent segment)' : ''}`]);
  // The demo's own reading of the captures (src/lab/demo/resent.ts), when the verdict has it.
  const demo = v?.['reemitted'] as { droppedByClient?: unknown; whyNoDuplicate?: unknown } | undefined;
  if (typeof demo?.droppedByClient === 'number') rows.push(['re-sent segments the client had and dropped', String(demo.droppedByClient)]);
  if (typeof demo?.whyNoDuplicate === 'string') rows.push(['why no duplicate', demo.whyNoDuplicate]);
  else if (reemitted.length === 0) rows.push(['why nothing was re-sent', 'the survivor held no output the old primary might not have delivered (or no failover happened)']);
  return rows;
}
