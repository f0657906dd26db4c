/**
 * `ftcp soak --app bulk`: the upload half of "every byte checked". The client checks what it
 * downloads on its own; what it uploads only the server app can check, and its digests live
 * in the replicated state of whichever replica serves now. So the soak asks the primary for
 * them on its control socket (`stats`), every few seconds, and compares each finished round's
 * uploads with them. An upload stays pending while no replica answers (one paused, one being
 * replaced); the app keeps the digests of its last BULK_DIGESTS_KEPT uploads, minutes of a
 * soak, so a check that comes seconds late still finds them.
 */
import { sendControl } from '../net/switchover.js';
import { bulkUploadProblems } from '../replica/run-checks.js';

export interface SoakUpload {
  round: number;
  /** The server's connection number, as the client worked it out; null when it could not. */
  conn: number | null;
  bytes: number;
  sha256: string | null;
}

export interface UploadCounts {
  checked: number;
  broken: number;
  /** Still pending when the soak ended: nobody answered for them. */
  unchecked: number;
}

type Digests = Record<string, { received: number; sha256: string }>;

/** How long a `stats` question may take before the upload checks wait for the next chance. */
const ASK_TIMEOUT_MS = 1000;

export class UploadChecks {
  readonly counts: UploadCounts = { checked: 0, broken: 0, unchecked: 0 };
  private pending: SoakUpload[] = [];
  private lastAskMs = -Infinity;

  constructor(private readonly onBroken: (problem: string) => void) {}

  add(uploads: readonly SoakUpload[]): void {
    this.pending.push(...uploads);
  }

  get waiting(): number {
    return this.pending.length;
  }

  /** Whether it is time to ask again (every `everyMs`, or at once when `force`). */
  due(nowMs: number, everyMs: number, force = false): boolean {
    return this.pending.length > 0 && (force || nowMs - this.lastAskMs >= everyMs);
  }

  /** Asks the replica on `control` for its digests and checks every pending upload against them. False when it did not answer. */
  async askAndCheck(control: string, nowMs: number): Promise<boolean> {
    this.lastAskMs = nowMs;
    const r = await sendControl(control, 'stats', ASK_TIMEOUT_MS);
    if (!r.connected) return false;
    const stats = r.replies.find((x) => x.stage === 'stats')?.stats;
    if (stats === undefined) return false;
    this.check((stats['bulkUploads'] ?? {}) as Digests);
    return true;
  }

  /** Compares every pending upload with `digests` (the server app's, by connection). */
  check(digests: Digests): void {
    for (const u of this.pending) {
      const problems = bulkUploadProblems([{ conn: u.conn ?? '?', bytes: u.bytes, sha256: u.sha256, digest: u.conn === null ? undefined : digests[String(u.conn)] }]);
      this.counts.checked++;
      if (problems.length > 0) {
        this.counts.broken++;
        this.onBroken(`load round ${u.round}: ${problems[0]}`);
      }
    }
    this.pending = [];
  }

  /** The soak ends: what is still pending was not checked. */
  end(): void {
    this.counts.unchecked += this.pending.length;
    this.pending = [];
  }
}
