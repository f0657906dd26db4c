/**
 * A host in a real process: one ftcp stack behind a UdpLink, driven as the sans-I/O
 * contract asks (the real-time twin of src/sim/host.ts). After every input (a packet from
 * the link, a timer, a socket call through `act`) it drains the stack: pollTransmit()
 * onto the link, pollEvent() to the handler, pollTimeout() into one setTimeout.
 *
 * It also serves as the load's scheduler (src/sim/cluster-load.ts LoadScheduler): tasks
 * at a time on the same clock become timers.
 */
import type { SimTask } from '../sim/world.js';
import type { Stack } from '../tcp/stack.js';
import type { StackEvent } from '../tcp/types.js';
import type { ProcessClock } from '../net/clock.js';
import type { UdpLink } from '../net/udp-link.js';

export class RealHost {
  onEvent: ((host: RealHost, event: StackEvent) => void) | undefined;
  /** Called after each packet the stack sent (captures). */
  onTransmit: ((packet: Uint8Array) => void) | undefined;
  /** Called with each packet received, before the stack sees it (captures). */
  onReceive: ((packet: Uint8Array) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private armedUs: number | undefined;
  private draining = false;
  private stopped = false;
  private readonly tasks = new Set<NodeJS.Timeout>();

  constructor(
    readonly stack: Stack,
    private readonly link: UdpLink,
    private readonly clock: ProcessClock,
  ) {
    link.onPacket((packet) => {
      if (this.stopped) return;
      this.onReceive?.(packet);
      this.stack.handlePacket(this.clock.nowUs(), packet);
      this.drain();
    });
  }

  get nowUs(): number {
    return this.clock.nowUs();
  }

  act<R>(fn: (stack: Stack, nowUs: number) => R): R {
    const r = fn(this.stack, this.clock.nowUs());
    this.drain();
    return r;
  }

  /** Runs `task` at `timeUs` on the host's clock (LoadScheduler). */
  schedule(timeUs: number, task: SimTask): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.tasks.delete(t);
      if (!this.stopped) task.run();
    }, Math.max(0, (timeUs - this.clock.nowUs()) / 1000));
    this.tasks.add(t);
  }

  /** No more inputs, timers or tasks. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const t of this.tasks) clearTimeout(t);
    this.tasks.clear();
  }

  drain(): void {
    if (this.draining || this.stopped) return;
    this.draining = true;
    try {
      for (;;) {
        for (let p = this.stack.pollTransmit(); p !== undefined; p = this.stack.pollTransmit()) {
          this.onTransmit?.(p);
          this.link.send(p);
        }
        const event = this.stack.pollEvent();
        if (event === undefined) break;
        this.onEvent?.(this, event);
      }
      this.arm(this.stack.pollTimeout());
    } finally {
      this.draining = false;
    }
  }

  private arm(deadlineUs: number | undefined): void {
    if (deadlineUs === this.armedUs && this.timer !== undefined) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedUs = deadlineUs;
    if (deadlineUs === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedUs = undefined;
      if (this.stopped) return;
      this.stack.handleTimeout(this.clock.nowUs());
      this.drain();
    }, Math.max(0, (deadlineUs - this.clock.nowUs()) / 1000));
  }
}
