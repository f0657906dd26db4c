/**
 * The log channel's own round trip, measured at the primary for `ftcp bench` (
 * `logRttP50Us`): from the moment an append frame is handed to the channel to the moment
 * the ack that covers its last entry arrives. The replica process (replica-process.ts)
 * feeds it every frame it sends and receives; its summary goes into the `exit` stats.
 *
 * It only peeks at the frame headers (src/replica/channel.ts, src/replica/log.ts): the
 * type byte, an append's entry count and first entry index, an ack's index.
 */


const APPEND = 1;
const ACK = 3;
const TWO32 = 0x1_0000_0000;
/** Samples kept (the first ones); enough for percentiles, bounded memory. */
const MAX_SAMPLES = 200_000;
/** Appends awaiting their ack; a backup that never answers must not grow this forever. */
const MAX_PENDING = 100_000;

function u64(frame: Uint8Array, at: number): number | undefined {
  if (frame.length < at + 8) return undefined;
  const v = new DataView(frame.buffer, frame.byteOffset + at, 8);
  return v.getUint32(0) * TWO32 + v.getUint32(4);
}

export interface LogRttSummary {
  samples: number;
  p50Us: number | null;
  p99Us: number | null;
}

export class LogRttProbe {
  /** [last index of the append, time it was sent (µs)], in send order. */
  private pending: Array<[number, number]> = [];
  private head = 0;
  readonly samplesUs: number[] = [];

  /** A frame the replica sent on the log channel at `nowUs`. */
  sent(frame: Uint8Array, nowUs: number): void {
    if (frame[1] !== APPEND || frame.length < 22) return;
    // append body at 12: u64 r, u16 count, then entry frames; an entry's index is at its offset 8.
    const count = (frame[20]! << 8) | frame[21]!;
    const first = u64(frame, 22 + 8);
    if (count === 0 || first === undefined) return;
    if (this.pending.length - this.head >= MAX_PENDING) return;
    this.pending.push([first + count - 1, nowUs]);
  }

  /** A frame the replica received on the log channel at `nowUs`. */
  received(frame: Uint8Array, nowUs: number): void {
    if (frame[1] !== ACK) return;
    const index = u64(frame, 12);
    if (index === undefined) return;
    while (this.head < this.pending.length && this.pending[this.head]![0] <= index) {
      if (this.samplesUs.length < MAX_SAMPLES) this.samplesUs.push(nowUs - this.pending[this.head]![1]);
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }

  summary(): LogRttSummary {
    const at = (p: number) => (this.samplesUs.length === 0 ? null : percentile(this.samplesUs, p));
    return { samples: this.samplesUs.length, p50Us: at(50), p99Us: at(99) };
  }
}

/** The p-th percentile (0..100) of `samples` by nearest rank; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0 || !(p >= 0 && p <= 100)) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}
