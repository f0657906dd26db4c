// A tiny loop for RSM tests: one client stack talking to one RSM (the "primary"), with every
// entry also applied to followers; no network, a fixed one-way delay, virtual time.
import { Stack } from '../../src/tcp/stack.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import type { LogEntry } from '../../src/replica/log.js';
import { Rsm, type ApplyResult, type RsmConfig } from '../../src/replica/rsm.js';
import { stackFactory } from '../../src/replica/stack-factory.js';
import type { AppName } from '../../src/proxy/app.js';

export const SERVICE = parseIpv4Addr('192.0.2.10');
export const CLIENT = parseIpv4Addr('192.0.2.1');
export const PORT = 7070;

export function rsmConfig(app: AppName, digestEvery = 4): RsmConfig {
  return { stack: { addresses: [SERVICE], seed: 1234 }, servicePort: PORT, app, appOptions: { bulkBytes: 20_000, seed: 5 }, digestEvery };
}

export class RsmLoop {
  readonly client = new Stack({ addresses: [CLIENT], seed: 99 });
  readonly primary: Rsm;
  readonly followers: Rsm[] = [];
  nowUs = 0;
  readonly entries: LogEntry[] = [];
  readonly results: ApplyResult[] = [];
  /** Per follower: first verify mismatch. */
  readonly mismatches: string[] = [];
  /** Per follower: first entry whose outputs differ from the primary's. */
  readonly outputDiffs: number[] = [];
  private toClient: Array<{ atUs: number; bytes: Uint8Array }> = [];
  private toServer: Array<{ atUs: number; bytes: Uint8Array }> = [];
  readonly delayUs = 1000;

  constructor(readonly config: RsmConfig, followers = 1) {
    this.primary = Rsm.create(config, stackFactory);
    for (let i = 0; i < followers; i++) this.followers.push(Rsm.create(config, stackFactory));
  }

  /** Append and apply an entry to the primary and every follower, comparing outputs. */
  applyEntry(partial: { kind: 'packet'; packet: Uint8Array } | { kind: 'tick' } | { kind: 'app'; socket: number; op: 'write' | 'close' | 'abort'; data?: Uint8Array }): void {
    const entry = { ...partial, index: this.primary.index + 1, epoch: 1, timeUs: this.nowUs, checks: [] } as LogEntry;
    const r = this.primary.apply(entry);
    entry.checks = r.checks;
    if (r.digest !== undefined) entry.digest = r.digest;
    this.entries.push(entry);
    this.results.push(r);
    for (const p of r.packets) this.toClient.push({ atUs: this.nowUs + this.delayUs, bytes: p });
    this.followers.forEach((f, i) => {
      const mine = f.apply(entry);
      const m = f.verify(entry, mine);
      if (m !== undefined && this.mismatches[i] === undefined) this.mismatches[i] = JSON.stringify(m);
      const same = mine.packets.length === r.packets.length && mine.packets.every((p, j) => Buffer.from(p).equals(Buffer.from(r.packets[j]!)));
      if (!same && this.outputDiffs[i] === undefined) this.outputDiffs[i] = entry.index;
    });
  }

  drainClient(): void {
    for (let p = this.client.pollTransmit(); p !== undefined; p = this.client.pollTransmit()) this.toServer.push({ atUs: this.nowUs + this.delayUs, bytes: p });
  }

  /** Advance virtual time by `us`, 100 µs at a time, delivering packets and firing timers. */
  run(us: number, onClientEvent?: () => void): void {
    const end = this.nowUs + us;
    while (this.nowUs < end) {
      this.nowUs += 100;
      const due = (q: Array<{ atUs: number; bytes: Uint8Array }>) => {
        const out = q.filter((x) => x.atUs <= this.nowUs);
        q.splice(0, q.length, ...q.filter((x) => x.atUs > this.nowUs));
        return out;
      };
      for (const p of due(this.toServer)) this.applyEntry({ kind: 'packet', packet: p.bytes });
      const d = this.primary.pollTimeout();
      if (d !== undefined && d <= this.nowUs) this.applyEntry({ kind: 'tick' });
      for (const p of due(this.toClient)) this.client.handlePacket(this.nowUs, p.bytes);
      const cd = this.client.pollTimeout();
      if (cd !== undefined && cd <= this.nowUs) this.client.handleTimeout(this.nowUs);
      this.drainClient();
      onClientEvent?.();
      this.drainClient();
    }
  }
}
