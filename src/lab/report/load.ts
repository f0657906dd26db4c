/**
 * Reads a run folder for `ftcp report`: every pcapng capture in it (src/pcap/reader.ts), a
 * classic pcap of tcpdump's (the LAN lab's bridge.pcap, src/pcap/classic.ts) and
 * the processes' event logs (replica-*.jsonl, arbiter.jsonl, client.jsonl), into one list of
 * timed rows for the picture (model.ts). Packets keep their frame number and file so the page
 * can name them exactly as Wireshark does.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readPcap } from '../../pcap/classic.js';
import { readPcapng } from '../../pcap/reader.js';
import { packetKey } from '../../replica/run-checks.js';

export interface ReportPacket {
  file: string;
  /** 1-based, as Wireshark numbers frames. */
  frame: number;
  timeUs: number;
  linkType: number;
  data: Uint8Array;
  comments: string[];
}

export interface ReportEvent {
  who: string;
  timeUs: number;
  event: string;
  text: string;
}

export interface RunFolder {
  dir: string;
  captures: Map<string, ReportPacket[]>;
  events: ReportEvent[];
  /** A run's JSON verdict (report.json, written by the commands), when present. */
  verdict?: Record<string, unknown>;
}

export class ReportInputError extends Error {}

/** The names in `dir`, sorted; throws ReportInputError with one clear line when it is no directory. */
export function listRunFolder(dir: string): string[] {
  try {
    if (!statSync(dir).isDirectory()) throw new ReportInputError(`${dir} is not a directory`);
    return readdirSync(dir).sort();
  } catch (error) {
    if (error instanceof ReportInputError) throw error;
    throw new ReportInputError(`${dir}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : String(error)}`);
  }
}

/** Loads `dir`; throws ReportInputError with one clear line when it holds no capture. */
export function loadRunFolder(dir: string): RunFolder {
  const names = listRunFolder(dir);
  const captures = new Map<string, ReportPacket[]>();
  for (const name of names.filter((n) => n.endsWith('.pcapng'))) captures.set(name, readPcapngFile(dir, name));
  // tcpdump's classic pcap: the LAN lab's bridge capture (bridge.pcap).
  for (const name of names.filter((n) => n.endsWith('.pcap'))) captures.set(name, readPcapFile(dir, name));
  if (captures.size === 0) throw new ReportInputError(`${dir} holds no .pcapng or .pcap capture (give the folder a demo, scenario, chaos or soak run wrote)`);
  const events: ReportEvent[] = [];
  for (const name of names.filter((n) => n.endsWith('.jsonl'))) events.push(...readEvents(join(dir, name), name.replace(/\.jsonl$/, '').replace(/^replica-/, '')));
  const run: RunFolder = { dir, captures, events };
  if (names.includes('report.json')) {
    try {
      run.verdict = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Record<string, unknown>;
    } catch {
      // A verdict cut short (a killed run): the page shows the captures' own checks only.
    }
  }
  return run;
}

function readPcapngFile(dir: string, name: string): ReportPacket[] {
  let read;
  try {
    read = readPcapng(new Uint8Array(readFileSync(join(dir, name))));
  } catch (error) {
    throw new ReportInputError(`${join(dir, name)} is not a pcapng capture (${error instanceof Error ? error.message : String(error)})`);
  }
  return read.packets.map((p, i) => ({
    file: name,
    frame: i + 1,
    timeUs: p.timestampUs,
    linkType: read.interfaces.find((f) => f.section === p.section && f.interfaceId === p.interfaceId)?.linkType ?? 101,
    data: p.data,
    comments: p.comments,
  }));
}

function readPcapFile(dir: string, name: string): ReportPacket[] {
  let read;
  try {
    read = readPcap(new Uint8Array(readFileSync(join(dir, name))));
  } catch (error) {
    throw new ReportInputError(`${join(dir, name)} is not a pcap capture (${error instanceof Error ? error.message : String(error)})`);
  }
  return read.packets.map((data, i) => ({ file: name, frame: i + 1, timeUs: read.timesUs[i]!, linkType: read.linkType, data, comments: [] }));
}

function readEvents(path: string, who: string): ReportEvent[] {
  const out: ReportEvent[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue; // the last line of a killed process may be cut
    }
    if (typeof o['atMs'] !== 'number' || typeof o['event'] !== 'string') continue;
    const event = o['event'];
    const rest = Object.entries(o)
      .filter(([k, v]) => !['event', 'atMs', 'name', 'captures', 'clusterKey'].includes(k) && (typeof v !== 'object' || v === null))
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    out.push({ who: typeof o['name'] === 'string' ? o['name'] : who, timeUs: Math.round(o['atMs'] * 1000), event, text: `${event} ${rest}`.trim() });
  }
  return out;
}

/** Every packet of `captures` whose file name matches `test`, as packetKey()s. */
export function packetKeys(packets: readonly ReportPacket[]): Set<string> {
  return new Set(packets.map((p) => packetKey(p.data)));
}
