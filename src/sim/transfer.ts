/**
 * The `sim transfer` scenario: two stacks on a simulated network, one connection, N bytes
 * each way at the same time, checked end to end by SHA-256.
 *
 * The client (192.0.2.1) connects to the server (192.0.2.10, TEST-NET-1, RFC 5737). Both
 * write their seeded byte stream as fast as their send buffers take it, shut down their
 * sending side when done, read until EOF, then close. Everything random (the stacks' ISNs
 * and ports, every fault on every link, the bytes themselves) is derived from one seed, so
 * a seed reproduces a run packet for packet, and its captures byte for byte.
 */
import { createHash, type Hash } from 'node:crypto';
import type { BlockSink } from '../pcap/pcapng.js';
import { PcapngBuffer } from '../pcap/pcapng.js';
import type { SocketId, StackConfig, StackEvent, StackStats } from '../tcp/types.js';
import { parseIpv4Addr } from '../wire/addr.js';
import { attachCapture } from './capture.js';
import { formatUs } from './clock.js';
import { Host } from './host.js';
import { MirroredStack, type MirrorReport } from './mirror.js';
import { Network, type FaultCounters, type LinkParams } from './network.js';
import { PatternStream } from './pattern.js';
import { deriveSeed } from '../tcp/seed.js';
import type { StackApi } from './stack-api.js';
import { Simulator } from './world.js';

export const CLIENT_ADDRESS = parseIpv4Addr('192.0.2.1');
export const SERVER_ADDRESS = parseIpv4Addr('192.0.2.10');
/**
 * The server's port: 7, which Wireshark dissects as Echo (RFC 862), i.e. as opaque payload.
 * On a port with no registered dissector Wireshark tries its heuristic dissectors on the
 * random payload, and some (Thrift, seen with TShark 4.0) claim the conversation and then
 * report every retransmission as a "Malformed" reassembly error. A registered port is tried
 * before the heuristics, so the captures open clean.
 */
export const SERVER_PORT = 7;

/** How the scenario makes stacks; the default is src/tcp/stack.ts (see default-stack.ts). */
export interface StackFactory {
  create(config: StackConfig): StackApi;
  restore(snapshot: Uint8Array): StackApi;
}

export interface TransferOptions {
  /** The run seed (u32). */
  seed: number;
  /** Bytes to send in each direction. */
  bytes: number;
  /** Fault probabilities, per packet, on both directions (CLI: --loss --dup --reorder --corrupt). Default 0. */
  loss?: number;
  duplicate?: number;
  reorder?: number;
  corrupt?: number;
  /** One-way delay (CLI: --delay-ms). Default 10 ms. */
  delayUs?: number;
  /** Further link parameters (jitter, bandwidth, ...), applied to both directions. */
  link?: Partial<LinkParams>;
  /** Overrides for both stacks' configuration (addresses and seed are the scenario's). */
  stackConfig?: Partial<Omit<StackConfig, 'addresses' | 'seed'>>;
  stackFactory: StackFactory;
  /**
   * Captures: 'memory' (default) returns them in the result; a function gets a sink per
   * vantage point ('client', 'server') to stream them elsewhere; 'none' records nothing.
   */
  capture?: 'memory' | 'none' | ((name: 'client' | 'server') => BlockSink);
  /** Liveness bound on simulator events. Default: 1_000_000 + 200 per KB transferred. */
  maxEvents?: number;
  /** Called now and then while the run goes (every few thousand events). */
  onProgress?: (progress: TransferProgress) => void;
  /**
   * Snapshot both stacks when this fraction (0..1) of all bytes has been received, restore
   * the snapshots into fresh stacks, and from then on feed both copies the same inputs and
   * compare every output (MirroredStack). The run itself is unchanged.
   */
  mirrorAtFraction?: number;
}

export interface TransferProgress {
  nowUs: number;
  /** Bytes received so far, both directions together. */
  receivedBytes: number;
  /** 2 * bytes. */
  totalBytes: number;
}

export interface DirectionResult {
  bytesSent: number;
  bytesReceived: number;
  sha256Sent: string;
  sha256Received: string;
  /** Same length and same digest. */
  match: boolean;
  /** First offset where the received bytes differ from the stream that was sent. */
  firstMismatchOffset?: number;
}

export type TransferFailureKind =
  /** The received bytes are not the sent bytes. */
  | 'correctness'
  /** The run stopped making progress (nothing scheduled, or the event bound was hit). */
  | 'liveness'
  /** A connection ended abnormally (reset, timed out, refused). */
  | 'connection'
  /** The stack threw (a bug or API misuse). */
  | 'crash'
  /** A stack restored from a snapshot behaved differently from the original. */
  | 'determinism';

export interface TransferResult {
  ok: boolean;
  failure?: { kind: TransferFailureKind; message: string };
  seed: number;
  bytes: number;
  clientToServer: DirectionResult;
  serverToClient: DirectionResult;
  /** Virtual time from connect() until both sides had read EOF. */
  durationUs: number;
  /** Virtual time when the run ended (both connections closed, or the failure). */
  endUs: number;
  events: number;
  /** Segments retransmitted by both stacks together. */
  retransmits: number;
  faults: FaultCounters;
  stats: { client: StackStats; server: StackStats };
  /** pcapng files, client's view then server's; empty unless capture is 'memory'. */
  captures: { name: string; bytes: Uint8Array }[];
  mirror?: { atUs: number; snapshotBytes: { client: number; server: number }; client: MirrorReport; server: MirrorReport };
}

const CHUNK_BYTES = 65_536;

/** One direction of the transfer: the sender's stream and the receiver's check of it. */
class Flow {
  readonly source: PatternStream;
  readonly expected: PatternStream;
  pending: Uint8Array | undefined;
  sent = 0;
  received = 0;
  eof = false;
  firstMismatchOffset: number | undefined;
  readonly sentHash: Hash = createHash('sha256');
  readonly receivedHash: Hash = createHash('sha256');

  constructor(seed: number, length: number) {
    this.source = new PatternStream(seed, length);
    this.expected = new PatternStream(seed, length);
  }

  get allWritten(): boolean {
    return this.pending === undefined && this.source.remaining === 0;
  }

  onReceived(data: Uint8Array): void {
    this.receivedHash.update(data);
    if (this.firstMismatchOffset === undefined) {
      const want = this.expected.next(data.length);
      const a = Buffer.from(data.buffer, data.byteOffset, data.length);
      if (want.length !== data.length || !a.equals(want)) {
        let i = 0;
        while (i < want.length && want[i] === data[i]) i++;
        this.firstMismatchOffset = this.received + i;
      }
    }
    this.received += data.length;
  }

  result(): DirectionResult {
    const sha256Sent = this.sentHash.digest('hex');
    const sha256Received = this.receivedHash.digest('hex');
    const out: DirectionResult = {
      bytesSent: this.sent,
      bytesReceived: this.received,
      sha256Sent,
      sha256Received,
      match: this.sent === this.received && sha256Sent === sha256Received,
    };
    if (this.firstMismatchOffset !== undefined) out.firstMismatchOffset = this.firstMismatchOffset;
    else if (this.received < this.sent) out.firstMismatchOffset = this.received;
    return out;
  }
}

/** One side's application: writes its flow, reads the other, shuts down, closes. */
class Endpoint {
  socket: SocketId | undefined;
  listener: SocketId | undefined;
  shutdownDone = false;
  closeDone = false;
  closed = false;
  closedError: string | undefined;

  constructor(
    readonly name: 'client' | 'server',
    readonly host: Host<StackApi>,
    readonly out: Flow,
    readonly inFlow: Flow,
    private readonly fail: (kind: TransferFailureKind, message: string) => void,
  ) {}

  get finished(): boolean {
    return this.shutdownDone && this.inFlow.eof;
  }

  onEvent(event: StackEvent): void {
    const stack = this.host.stack;
    const nowUs = this.host.nowUs;
    switch (event.type) {
      case 'incoming': {
        if (event.socket !== this.listener) return;
        const socket = stack.accept(event.socket);
        if (socket === undefined) return;
        if (this.socket !== undefined) {
          this.fail('connection', `${this.name}: a second connection arrived (socket ${socket}) while socket ${this.socket} is open`);
          return;
        }
        this.socket = socket;
        this.pump();
        return;
      }
      case 'connected':
      case 'writable':
        if (event.socket === this.socket) this.pump();
        return;
      case 'readable':
        if (event.socket === this.socket) this.readAll();
        return;
      case 'eof':
        if (event.socket !== this.socket) return;
        this.readAll();
        this.inFlow.eof = true;
        this.maybeClose();
        return;
      case 'closed':
        if (event.socket !== this.socket) return;
        this.closed = true;
        if (event.error !== undefined) {
          this.closedError = event.error;
          this.fail('connection', `${this.name}: connection closed with ${event.error} at ${formatUs(nowUs)} virtual`);
        } else if (!this.finished) {
          this.fail('connection', `${this.name}: connection closed at ${formatUs(nowUs)} virtual before the transfer finished`);
        }
        return;
    }
  }

  /** Write as much of the outgoing flow as the send buffer takes; shut down after the last byte. */
  pump(): void {
    const socket = this.socket;
    if (socket === undefined || this.shutdownDone) return;
    const stack = this.host.stack;
    const nowUs = this.host.nowUs;
    const flow = this.out;
    while (!flow.allWritten) {
      const chunk = flow.pending ?? flow.source.next(CHUNK_BYTES);
      const accepted = stack.write(nowUs, socket, chunk);
      if (accepted > 0) {
        flow.sentHash.update(chunk.subarray(0, accepted));
        flow.sent += accepted;
      }
      if (accepted < chunk.length) {
        flow.pending = chunk.subarray(accepted);
        return;
      }
      flow.pending = undefined;
    }
    stack.shutdown(nowUs, socket);
    this.shutdownDone = true;
    this.maybeClose();
  }

  readAll(): void {
    const socket = this.socket;
    if (socket === undefined) return;
    for (;;) {
      const data = this.host.stack.read(this.host.nowUs, socket);
      if (data.length === 0) return;
      this.inFlow.onReceived(data);
    }
  }

  maybeClose(): void {
    if (this.closeDone || !this.finished || this.socket === undefined) return;
    this.closeDone = true;
    this.host.stack.close(this.host.nowUs, this.socket);
  }

  describe(): string {
    const base = `${this.name}: wrote ${this.out.sent}/${this.out.source.length} B, read ${this.inFlow.received} B` +
      `${this.inFlow.eof ? ' + EOF' : ''}${this.shutdownDone ? ', shut down' : ''}${this.closeDone ? ', close() called' : ''}`;
    if (this.socket === undefined) return `${base}, no connection`;
    try {
      const i = this.host.stack.info(this.socket);
      return `${base}; socket ${i.id} ${i.state} sndUna=${i.sndUna} sndNxt=${i.sndNxt} sndWnd=${i.sndWnd} rcvNxt=${i.rcvNxt} ` +
        `rcvWnd=${i.rcvWnd} unacked=${i.unacked} readable=${i.readable} rto=${i.rtoMs}ms; timer ${this.host.timerUs === undefined ? 'none' : formatUs(this.host.timerUs)}`;
    } catch (error) {
      return `${base}; socket ${this.socket}: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
}

export function runTransfer(options: TransferOptions): TransferResult {
  const { seed, bytes } = options;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new RangeError(`seed must be a u32, got ${seed}`);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`bytes must be a non-negative integer, got ${bytes}`);

  const sim = new Simulator();
  const network = new Network(sim, deriveSeed(seed, 'network'), {
    delayUs: options.delayUs ?? 10_000,
    loss: options.loss ?? 0,
    duplicate: options.duplicate ?? 0,
    reorder: options.reorder ?? 0,
    corrupt: options.corrupt ?? 0,
    ...options.link,
  });

  const buffers = attachCaptures(network, options.capture ?? 'memory');

  const factory = options.stackFactory;
  const makeStack = (name: string, address: number): StackApi =>
    factory.create({ ...options.stackConfig, addresses: [address], seed: deriveSeed(seed, 'stack', name) });
  const clientHost = new Host<StackApi>(sim, network, 'client', CLIENT_ADDRESS, makeStack('client', CLIENT_ADDRESS));
  const serverHost = new Host<StackApi>(sim, network, 'server', SERVER_ADDRESS, makeStack('server', SERVER_ADDRESS));

  const c2s = new Flow(deriveSeed(seed, 'data', 'client->server'), bytes);
  const s2c = new Flow(deriveSeed(seed, 'data', 'server->client'), bytes);
  let failure: TransferResult['failure'];
  const fail = (kind: TransferFailureKind, message: string): void => {
    failure ??= { kind, message };
  };
  const client = new Endpoint('client', clientHost, c2s, s2c, fail);
  const server = new Endpoint('server', serverHost, s2c, c2s, fail);
  clientHost.onEvent = (_host, event) => client.onEvent(event);
  serverHost.onEvent = (_host, event) => server.onEvent(event);

  const totalBytes = 2 * bytes;
  const maxEvents = options.maxEvents ?? 1_000_000 + Math.ceil((totalBytes / 1000) * 200);
  const onProgress = options.onProgress;
  const progress = onProgress && (() => onProgress({ nowUs: sim.nowUs, receivedBytes: c2s.received + s2c.received, totalBytes }));
  const runOptions = { maxEvents, ...(progress ? { onProgress: progress, progressEvery: 512 } : {}) };
  const stalled = (message: string): void =>
    fail('liveness', `${message}\n  ${client.describe()}\n  ${server.describe()}`);

  let durationUs = 0;
  let mirror: TransferResult['mirror'];
  let events = 0;
  try {
    serverHost.act((stack, nowUs) => {
      server.listener = stack.listen(nowUs, { port: SERVER_PORT });
    });
    const startUs = sim.nowUs;
    clientHost.act((stack, nowUs) => {
      client.socket = stack.connect(nowUs, { remoteAddress: SERVER_ADDRESS, remotePort: SERVER_PORT });
    });

    const transferred = (): boolean => failure !== undefined || (client.finished && server.finished);
    if (options.mirrorAtFraction !== undefined) {
      const fraction = options.mirrorAtFraction;
      const reached = (): boolean => transferred() || c2s.received + s2c.received >= fraction * totalBytes;
      const outcome = sim.run({ ...runOptions, until: reached });
      events += outcome.events;
      if (outcome.stall !== undefined) stalled(outcome.stall);
      if (failure === undefined) mirror = startMirror(sim.nowUs, clientHost, serverHost, factory);
    }
    if (failure === undefined) {
      const outcome = sim.run({ ...runOptions, maxEvents: maxEvents - events, until: transferred });
      events += outcome.events;
      if (outcome.stall !== undefined) stalled(outcome.stall);
    }
    durationUs = sim.nowUs - startUs;
    if (failure === undefined) {
      // Let the closing handshakes and TIME-WAIT play out; an idle simulator is also an end.
      const outcome = sim.run({ ...runOptions, maxEvents: maxEvents - events, until: () => failure !== undefined || (client.closed && server.closed) });
      events += outcome.events;
      if (outcome.reason === 'max-events' && outcome.stall !== undefined) stalled(`while closing: ${outcome.stall}`);
    }
  } catch (error) {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    fail('crash', `stack threw at ${formatUs(sim.nowUs)} virtual: ${text}`);
  }

  const clientToServer = c2s.result();
  const serverToClient = s2c.result();
  if (failure === undefined) checkTransfer(clientToServer, serverToClient, mirror, fail);

  const clientStats = clientHost.stack.stats();
  const serverStats = serverHost.stack.stats();
  const result: TransferResult = {
    ok: failure === undefined,
    seed,
    bytes,
    clientToServer,
    serverToClient,
    durationUs,
    endUs: sim.nowUs,
    events,
    retransmits: clientStats.retransmits + serverStats.retransmits,
    faults: network.counters(),
    stats: { client: clientStats, server: serverStats },
    captures: buffers.map(({ name, buffer }) => ({ name, bytes: buffer.toBytes() })),
  };
  if (failure !== undefined) result.failure = failure;
  if (mirror !== undefined) result.mirror = mirror;
  return result;
}

/** One pcapng per host, written by a tap on the network; the in-memory ones are returned. */
function attachCaptures(network: Network, mode: NonNullable<TransferOptions['capture']>): { name: string; buffer: PcapngBuffer }[] {
  const buffers: { name: string; buffer: PcapngBuffer }[] = [];
  const sinkFor = (name: 'client' | 'server'): BlockSink | undefined => {
    if (mode === 'none') return undefined;
    if (mode === 'memory') {
      const buffer = new PcapngBuffer();
      buffers.push({ name, buffer });
      return buffer.sink;
    }
    return mode(name);
  };
  for (const [name, address] of [['client', CLIENT_ADDRESS], ['server', SERVER_ADDRESS]] as const) {
    const sink = sinkFor(name);
    if (sink !== undefined) attachCapture(network, name, address, sink);
  }
  return buffers;
}

/** The end of a run without failure: both streams arrived intact, and a mirrored stack did not diverge. */
function checkTransfer(clientToServer: DirectionResult, serverToClient: DirectionResult, mirror: TransferResult['mirror'], fail: (kind: TransferFailureKind, message: string) => void): void {
  for (const [label, r] of [['client->server', clientToServer], ['server->client', serverToClient]] as const) {
    if (!r.match) {
      fail('correctness', `${label}: sent ${r.bytesSent} B (sha256 ${r.sha256Sent}) but received ${r.bytesReceived} B ` +
        `(sha256 ${r.sha256Received})${r.firstMismatchOffset !== undefined ? `, first difference at byte ${r.firstMismatchOffset}` : ''}`);
      return;
    }
  }
  if (mirror === undefined) return;
  for (const [label, report] of [['client', mirror.client], ['server', mirror.server]] as const) {
    if (report.mismatch !== undefined) fail('determinism', `${label} stack restored from its snapshot diverged: ${report.mismatch}`);
  }
}

function startMirror(atUs: number, clientHost: Host<StackApi>, serverHost: Host<StackApi>, factory: StackFactory): NonNullable<TransferResult['mirror']> {
  const wrap = (host: Host<StackApi>): { stack: MirroredStack; snapshotBytes: number } => {
    const snapshot = host.stack.snapshot();
    const stack = new MirroredStack(host.stack, factory.restore(snapshot));
    host.replaceStack(stack);
    return { stack, snapshotBytes: snapshot.length };
  };
  const c = wrap(clientHost);
  const s = wrap(serverHost);
  return { atUs, snapshotBytes: { client: c.snapshotBytes, server: s.snapshotBytes }, client: c.stack.report, server: s.stack.report };
}

/** The CLI command that reproduces a run with these options (for failure messages). */
export function transferCommandLine(options: Pick<TransferOptions, 'seed' | 'bytes' | 'loss' | 'duplicate' | 'reorder' | 'corrupt' | 'delayUs'>): string {
  const parts = ['ftcp sim transfer', `--bytes ${options.bytes}`, `--seed ${options.seed}`];
  if (options.loss) parts.push(`--loss ${options.loss}`);
  if (options.duplicate) parts.push(`--dup ${options.duplicate}`);
  if (options.reorder) parts.push(`--reorder ${options.reorder}`);
  if (options.corrupt) parts.push(`--corrupt ${options.corrupt}`);
  if (options.delayUs !== undefined && options.delayUs !== 10_000) parts.push(`--delay-ms ${options.delayUs / 1000}`);
  return parts.join(' ');
}

