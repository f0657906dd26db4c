/**
 * Timeline lines in time order. The lines of a live run come from several processes, each
 * stamped when it happened, and reach the orchestrator in a slightly different order (a
 * child's line sits in a pipe while the orchestrator notes its own step). Lines are held
 * for a short window and released sorted by their time, so a printed timeline never goes
 * backwards within the window; flush() releases the rest at the end.
 */
export class OrderedLines {
  private pending: Array<{ atMs: number; text: string; seq: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;

  constructor(
    private readonly release: (text: string, atMs: number) => void,
    private readonly holdMs = 100,
  ) {}

  add(text: string, atMs: number): void {
    this.pending.push({ atMs, text, seq: this.seq++ });
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.holdMs);
  }

  /** Releases every held line, earliest first (ties in the order they came). */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const lines = this.pending.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
    this.pending = [];
    for (const l of lines) this.release(l.text, l.atMs);
  }
}
