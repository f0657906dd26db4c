/**
 * A host on the simulated network: one stack, driven as the sans-I/O contract asks.
 *
 * After every input (a packet delivered, a timer firing, a socket call made through
 * `act`) the host drains the stack: pollTransmit() until empty (each packet goes on the
 * network), then pollEvent() one at a time (each goes to the host's handler, which may
 * make socket calls; their packets are drained before the next event), then
 * pollTimeout(), whose deadline becomes a timer task in the simulator's queue.
 *
 * A timer task is never cancelled: re-arming bumps a generation number and a task whose
 * generation is stale does nothing when it pops. That keeps the queue a plain heap.
 */
import type { StackEvent } from '../tcp/types.js';
import { formatIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import type { Network } from './network.js';
import type { SansIoStack } from './stack-api.js';
import type { Simulator } from './world.js';

export type HostEventHandler<S extends SansIoStack> = (host: Host<S>, event: StackEvent) => void;

export class Host<S extends SansIoStack = SansIoStack> {
  /** Handler for the stack's socket events; may make socket calls on `host.stack`. */
  onEvent: HostEventHandler<S> | undefined;
  /** Packets this host put on the network. */
  packetsSent = 0;
  timersFired = 0;
  private timerGeneration = 0;
  private armedUs: number | undefined;
  private draining = false;
  private stackRef: S;

  constructor(
    private readonly sim: Simulator,
    private readonly network: Network,
    readonly name: string,
    readonly address: Ipv4Addr,
    stack: S,
    onEvent?: HostEventHandler<S>,
  ) {
    this.stackRef = stack;
    this.onEvent = onEvent;
    network.attach(address, (nowUs, bytes) => {
      this.stackRef.handlePacket(nowUs, bytes);
      this.drain();
    });
  }

  get stack(): S {
    return this.stackRef;
  }

  get nowUs(): number {
    return this.sim.nowUs;
  }

  /** The deadline of the armed timer task, if any. */
  get timerUs(): number | undefined {
    return this.armedUs;
  }

  /**
   * Swap in another stack (a restored snapshot, a mirroring wrapper). The new stack must
   * be in the same state: the host only re-reads its deadline.
   */
  replaceStack(stack: S): void {
    this.stackRef = stack;
    this.drain();
  }

  /** Make socket calls now (outside any handler) and then drain the stack's outputs. */
  act<R>(fn: (stack: S, nowUs: number) => R): R {
    const result = fn(this.stackRef, this.sim.nowUs);
    this.drain();
    return result;
  }

  /** Drain the stack's outputs; see the file comment. Re-entrant calls are folded into the outer one. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (;;) {
        this.drainTransmit();
        const event = this.stackRef.pollEvent();
        if (event === undefined) break;
        this.onEvent?.(this, event);
      }
      this.armTimer(this.stackRef.pollTimeout());
    } finally {
      this.draining = false;
    }
  }

  private drainTransmit(): void {
    for (;;) {
      const packet = this.stackRef.pollTransmit();
      if (packet === undefined) return;
      this.packetsSent++;
      this.network.send(this.address, packet);
    }
  }

  private armTimer(deadlineUs: number | undefined): void {
    if (deadlineUs === this.armedUs) return;
    this.timerGeneration++;
    this.armedUs = deadlineUs;
    if (deadlineUs === undefined) return;
    if (!Number.isSafeInteger(deadlineUs)) {
      throw new Error(`host ${this.name}: pollTimeout() returned ${deadlineUs}, not an integer µs`);
    }
    const generation = this.timerGeneration;
    this.sim.schedule(Math.max(deadlineUs, this.sim.nowUs), {
      kind: 'timer',
      target: `${this.name} (${formatIpv4Addr(this.address)})`,
      run: () => {
        if (generation !== this.timerGeneration) return;
        this.armedUs = undefined;
        this.timerGeneration++;
        this.timersFired++;
        this.stackRef.handleTimeout(this.sim.nowUs);
        this.drain();
      },
    });
  }
}
