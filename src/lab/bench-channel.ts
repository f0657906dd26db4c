/**
 * What the cluster-key envelope (src/net/cluster-auth.ts, AES-256-GCM) costs the log
 * channel, in-process and without sockets: `mib` MiB of `frameBytes`-byte inner frames are
 * sealed, cut from the stream by the envelope FrameReader and opened, as a keyed
 * FramedSocket does at each end; against the same frames through a keyless channel's
 * framing (nothing to seal, the same FrameReader cuts them, nothing to open). Returns
 * throughputs in MB/s (10^6 bytes of inner frame per second), by wall clock and by this
 * process's CPU time; no assertions: the numbers belong in `npm run bench`.
 */
import { performance } from 'node:perf_hooks';
import { AuthSession, envelopeReaderOptions } from '../net/cluster-auth.js';
import { ClusterKey } from '../net/cluster-key.js';
import { FrameReader, type FrameReaderOptions } from '../net/frames.js';

export interface ChannelBenchOptions {
  /** Inner bytes to move, MiB. Default 64. */
  mib?: number;
  /** Inner frame size. Default 64 KiB. */
  frameBytes?: number;
}

/** Throughput of one variant: wall clock, and CPU time of this process (user + system), which a loaded machine disturbs less. */
export interface Throughput {
  MBps: number;
  cpuMBps: number;
}

export interface ChannelBenchResult {
  frameBytes: number;
  frames: number;
  /** Inner bytes moved per variant. */
  bytes: number;
  aead: { seal: Throughput; open: Throughput; sealOpen: Throughput };
  cleartext: { sealOpen: Throughput };
}

/** Wall and CPU milliseconds, added up over the parts of a run. */
class Stopwatch {
  wallMs = 0;
  cpuMs = 0;
  private wall0 = 0;
  private cpu0: NodeJS.CpuUsage = { user: 0, system: 0 };

  start(): void {
    this.wall0 = performance.now();
    this.cpu0 = process.cpuUsage();
  }

  stop(): void {
    const cpu = process.cpuUsage(this.cpu0);
    this.wallMs += performance.now() - this.wall0;
    this.cpuMs += (cpu.user + cpu.system) / 1000;
  }
}

/** A dialer and a listener with a fresh random key, past the handshake. */
function sessionPair(): { dialer: AuthSession; listener: AuthSession } {
  const key = ClusterKey.fromText(ClusterKey.generateText(), 'bench');
  const dialer = new AuthSession(key, 'dialer');
  const listener = new AuthSession(key, 'listener');
  const dp = dialer.receive(listener.hello);
  const lp = listener.receive(dialer.hello);
  if (dp.type !== 'send' || lp.type !== 'send') throw new Error('bench-channel: no proof');
  if (dialer.receive(lp.bytes).type !== 'ready' || listener.receive(dp.bytes).type !== 'ready') throw new Error('bench-channel: handshake failed');
  return { dialer, listener };
}

/** A frame of the inner protocol's shape (its length at offset 4), with varied bytes. */
function innerFrame(bytes: number): Uint8Array {
  const f = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) f[i] = (i * 131 + 7) & 0xff;
  new DataView(f.buffer).setUint32(4, bytes);
  return f;
}

const mbps = (bytes: number, ms: number) => (ms > 0 ? bytes / 1e3 / ms : Infinity);
const throughput = (bytes: number, ...w: Stopwatch[]): Throughput => ({
  MBps: mbps(bytes, w.reduce((a, x) => a + x.wallMs, 0)),
  cpuMBps: mbps(bytes, w.reduce((a, x) => a + x.cpuMs, 0)),
});
/** Frames sealed, then opened, a batch at a time (bounded memory; two clock reads per batch). */
const BATCH_BYTES = 8 * 1024 * 1024;

function runAead(inner: Uint8Array, frames: number, framing: FrameReaderOptions): { seal: Stopwatch; open: Stopwatch } {
  const { dialer, listener } = sessionPair();
  const reader = new FrameReader(envelopeReaderOptions(framing));
  const seal = new Stopwatch();
  const open = new Stopwatch();
  const batch = Math.max(1, Math.floor(BATCH_BYTES / inner.length));
  for (let done = 0; done < frames; done += batch) {
    const n = Math.min(batch, frames - done);
    const sealed: Uint8Array[] = [];
    seal.start();
    for (let i = 0; i < n; i++) sealed.push(dialer.seal(inner));
    seal.stop();
    let opened = 0;
    open.start();
    for (const env of sealed) {
      for (const f of reader.push(env).frames) {
        const step = listener.receive(f);
        if (step.type === 'frame' && step.inner.length === inner.length) opened++;
      }
    }
    open.stop();
    if (opened !== n) throw new Error(`bench-channel: ${opened} of ${n} frames opened`);
  }
  return { seal, open };
}

function runCleartext(inner: Uint8Array, frames: number, framing: FrameReaderOptions): Stopwatch {
  const reader = new FrameReader(framing);
  const w = new Stopwatch();
  let cut = 0;
  w.start();
  for (let i = 0; i < frames; i++) cut += reader.push(inner).frames.length;
  w.stop();
  if (cut !== frames) throw new Error(`bench-channel: ${cut} of ${frames} cleartext frames cut`);
  return w;
}

export function benchChannel(opts: ChannelBenchOptions = {}): ChannelBenchResult {
  const frameBytes = opts.frameBytes ?? 64 * 1024;
  const mib = opts.mib ?? 64;
  if (!(frameBytes >= 8 && Number.isInteger(frameBytes))) throw new RangeError(`bench-channel: frameBytes must be an integer >= 8, got ${frameBytes}`);
  if (!(mib > 0)) throw new RangeError(`bench-channel: mib must be more than 0, got ${mib}`);
  const frames = Math.max(1, Math.round((mib * 1024 * 1024) / frameBytes));
  const inner = innerFrame(frameBytes);
  const framing: FrameReaderOptions = { lengthOffset: 4, minBytes: 8, maxBytes: frameBytes };
  // Warm-up (JIT, OpenSSL's first contexts): an eighth of the run, at least 8 frames, unmeasured.
  const warm = Math.max(8, frames >> 3);
  runAead(inner, warm, framing);
  runCleartext(inner, warm, framing);
  const { seal, open } = runAead(inner, frames, framing);
  const clear = runCleartext(inner, frames, framing);
  const bytes = frames * frameBytes;
  return {
    frameBytes,
    frames,
    bytes,
    aead: { seal: throughput(bytes, seal), open: throughput(bytes, open), sealOpen: throughput(bytes, seal, open) },
    cleartext: { sealOpen: throughput(bytes, clear) },
  };
}
