/**
 * Captures of a replicated run by vantage point (docs/design.md, "Captures"): one pcapng
 * per vantage point (client, primary, backup, shadow, log), with events (go-live,
 * re-emitted segment, fencing, the kill) as packet comments. The simulator and the replica
 * host both write through these.
 *
 * An event with no packet of its own is attached to the next packet written on that
 * vantage point ("event: ..."), so it shows in Wireshark where it took effect.
 */
import { PcapngBuffer, PcapngWriter, type BlockSink } from './pcapng.js';

export type ClusterCaptureName = 'client' | 'primary' | 'backup' | 'shadow' | 'log';
export const CLUSTER_CAPTURES: readonly ClusterCaptureName[] = ['client', 'primary', 'backup', 'shadow', 'log'];

/** One pcapng file; interfaces are added by name on first use. */
export class CaptureFile {
  readonly writer: PcapngWriter;
  private readonly interfaces = new Map<string, number>();
  private readonly pending = new Map<number, string[]>();
  packets = 0;

  constructor(sink: BlockSink, application: string) {
    this.writer = new PcapngWriter(sink, { application });
  }

  iface(name: string, description: string, linkType?: number): number {
    let id = this.interfaces.get(name);
    if (id === undefined) {
      id = this.writer.addInterface(name, { description, ...(linkType !== undefined ? { linkType } : {}) });
      this.interfaces.set(name, id);
    }
    return id;
  }

  /** An event to show on the next packet of interface `id`. */
  note(id: number, text: string): void {
    const list = this.pending.get(id) ?? [];
    list.push(`event: ${text}`);
    this.pending.set(id, list);
  }

  write(id: number, timeUs: number, bytes: Uint8Array, comment?: string): void {
    const notes = this.pending.get(id);
    const parts = [...(notes ?? []), ...(comment !== undefined ? [comment] : [])];
    if (notes !== undefined) this.pending.delete(id);
    this.writer.writePacket(id, timeUs, bytes, parts.length > 0 ? parts.join('; ') : undefined);
    this.packets++;
  }
}

/** Where the captures go: memory (returned in the result), a sink per file, or nowhere. */
export type ClusterCaptureMode = 'memory' | 'none' | ((name: ClusterCaptureName) => BlockSink);

export class ClusterCaptures {
  readonly files = new Map<ClusterCaptureName, CaptureFile>();
  private readonly buffers = new Map<ClusterCaptureName, PcapngBuffer>();

  constructor(mode: ClusterCaptureMode) {
    if (mode === 'none') return;
    for (const name of ['client', 'primary', 'backup', 'shadow', 'log'] as const) {
      let sink: BlockSink;
      if (mode === 'memory') {
        const buffer = new PcapngBuffer();
        this.buffers.set(name, buffer);
        sink = buffer.sink;
      } else {
        sink = mode(name);
      }
      this.files.set(name, new CaptureFile(sink, `ftcp simulator (cluster, ${name})`));
    }
  }

  get(name: ClusterCaptureName): CaptureFile | undefined {
    return this.files.get(name);
  }

  /** In-memory files (mode 'memory'), by name. */
  bytes(): Partial<Record<ClusterCaptureName, Uint8Array>> {
    const out: Partial<Record<ClusterCaptureName, Uint8Array>> = {};
    for (const [name, b] of this.buffers) out[name] = b.toBytes();
    return out;
  }
}
