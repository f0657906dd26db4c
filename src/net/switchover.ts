/**
 * Planned switchover in a real process: how an operator tells a running primary to hand
 * the service to its backup (`ftcp switchover`, or SIGTERM of the process), and how the
 * process learns that the handover is over. The protocol itself is the replicas'
 * (PrimaryRole.startHandover, src/replica/primary.ts); this file is the plumbing.
 *
 *   control socket  `ftcp replica --control PATH` listens on a Unix socket (mode 0600, so
 *                   only the replica's own user can ask). A client writes one line,
 *                   `switchover`; the replica answers JSON lines: a refusal
 *                   ({ok: false, stage: "refused"}), or {stage: "handing-over"} and, when it
 *                   is over, {stage: "done"} (the backup is live; this replica exits 0) or
 *                   {ok: false, stage: "failed"} (the backup fell silent; this one serves on).
 *   HandoverWatch   settles one handover on the replica's events: `handed-over` (done),
 *                   `handover-failed`, or, when SIGTERM asked for it, the log channel
 *                   going down (the backup is stopping too: there is nobody to wait for).
 *
 * Why a Unix socket rather than the log channel or a signal: the log channel's listener
 * takes the newest connection as the channel, so an operator's connection would push the
 * backup off; a signal cannot say "refused, this is a backup" to whoever sent it.
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import * as net from 'node:net';
import type { ReplicaEvent } from '../replica/outbox.js';
import { LinkError } from './udp-link.js';

/** What asked for the handover. */
export type HandoverTrigger = 'SIGTERM' | 'ftcp switchover';

export type HandoverOutcome = { ok: true; epoch: number; peer: string; message: string } | { ok: false; message: string };

/** A handover asked of the host: refused at once (why), or started (its outcome to come). */
export type HandoverStart = { refused: string } | { done: Promise<HandoverOutcome> };

/** One handover at a time, settled by the replica's events. */
export class HandoverWatch {
  private pending: { by: HandoverTrigger; resolve: (o: HandoverOutcome) => void } | undefined;
  /** When the last handover was asked for (the signal's or the control command's arrival), wall clock ms. */
  private askedAtMs: number | undefined;
  private moved = false;
  private onMoved: (() => void) | undefined;

  constructor(private readonly name: string) {}

  get active(): boolean {
    return this.pending !== undefined;
  }

  get by(): HandoverTrigger | undefined {
    return this.pending?.by;
  }

  /** The `handover` line's askedAtMs. */
  askedAt(): { askedAtMs?: number } {
    return this.askedAtMs !== undefined ? { askedAtMs: this.askedAtMs } : {};
  }

  start(by: HandoverTrigger, askedAtMs?: number): Promise<HandoverOutcome> {
    this.askedAtMs = askedAtMs;
    return new Promise((resolve) => (this.pending = { by, resolve }));
  }

  /** A replica event: settles the handover when it ends it. True when the handover is done (the process should exit). */
  onEvent(e: ReplicaEvent): boolean {
    if (e.type === 'handed-over') {
      this.settle({ ok: true, epoch: e.epoch, peer: e.peer, message: `replica ${this.name} handed the service over to ${e.peer}, live in epoch ${e.epoch}` });
      return true;
    }
    if (e.type === 'handover-failed') this.settle({ ok: false, message: `replica ${this.name} could not hand over to ${e.peer}: ${e.reason}; it serves alone in epoch ${e.epoch + 1}` });
    return false;
  }

  /** The switch moved the service address away from this replica (its `superseded`). */
  addressMoved(): void {
    this.moved = true;
    const then = this.onMoved;
    this.onMoved = undefined;
    then?.();
  }

  /**
   * Handed over (`e`): the old primary forwards late client packets until the switch says
   * the address moved, since every packet the switch sent here before the move is read
   * before that answer (one socket, in order); then `graceMs` more to forward them, and it
   * is done (`finish`). Without that answer (a TAP link, a lost datagram), after boundMs.
   */
  finishWhenMoved(e: ReplicaEvent, graceMs: number, boundMs: number, finish: () => void): void {
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(bound);
      setTimeout(() => this.onEvent(e) && finish(), graceMs);
    };
    const bound = setTimeout(end, boundMs);
    bound.unref();
    if (this.moved) end();
    else this.onMoved = end;
  }

  /** The log channel went down: with SIGTERM the backup is going too, so stop waiting. */
  channelDown(): void {
    if (this.pending?.by === 'SIGTERM') this.settle({ ok: false, message: `replica ${this.name}: the log channel to its backup went down during the handover` });
  }

  /** No answer in time (SIGTERM's bound). */
  giveUp(message: string): void {
    this.settle({ ok: false, message });
  }

  private settle(o: HandoverOutcome): void {
    const p = this.pending;
    this.pending = undefined;
    p?.resolve(o);
  }
}

/** A line of the control socket's answer. */
export interface ControlReply {
  ok: boolean;
  stage: 'refused' | 'handing-over' | 'done' | 'failed' | 'stats';
  message: string;
  /** The answer to `stats`: the replica's statistics, as in its `exit` line. */
  stats?: Record<string, unknown>;
}

/** sockaddr_un's path: 108 bytes with the terminating NUL (Linux unix(7)). */
export const MAX_SOCKET_PATH_BYTES = 107;

export const CONTROL_COMMAND_SWITCHOVER = 'switchover';
/** Asks for the replica's statistics (its `exit` line's, now); changes nothing. */
export const CONTROL_COMMAND_STATS = 'stats';
const MAX_REQUEST_BYTES = 256;
/** close() waits this long at most for answers still being written. */
const CLOSE_WAIT_MS = 1000;

/** The replica's end of the control socket. */
export class ControlServer {
  private readonly sockets = new Set<net.Socket>();
  /** Answers being written: close() lets them finish (the last one says how the handover ended). */
  private readonly answering = new Set<Promise<void>>();

  private constructor(
    private readonly server: net.Server,
    readonly path: string,
  ) {}

  /**
   * Listens on `path`; a socket file left by a replica that was killed is removed first,
   * one that answers is another replica's (LinkError). Every request line is handed to
   * `handle`, which answers with the replies to write.
   */
  static async listen(path: string, handle: (command: string) => AsyncIterable<ControlReply>): Promise<ControlServer> {
    await removeStaleSocket(path);
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(new LinkError(`--control ${path}: cannot listen (${error.code ?? error.message})`)));
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    const control = new ControlServer(server, path);
    server.on('error', () => {});
    server.on('connection', (socket) => control.serve(socket, handle));
    return control;
  }

  private serve(socket: net.Socket, handle: (command: string) => AsyncIterable<ControlReply>): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl < 0 && text.length <= MAX_REQUEST_BYTES) return;
      socket.off('data', onData);
      const command = (nl < 0 ? text : text.slice(0, nl)).trim();
      const answer = (async () => {
        for await (const reply of handle(command)) if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
        socket.end();
      })();
      this.answering.add(answer);
      void answer.finally(() => this.answering.delete(answer));
    };
    socket.on('data', onData);
  }

  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.answering), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    for (const s of this.sockets) s.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new LinkError(`--control ${path}: a file that is not a socket is there; pick another path`);
  const answers = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (answers) throw new LinkError(`--control ${path}: another process listens there (another replica?); pick another path`);
  unlinkSync(path);
}

/** The control socket's answers to one command, for a caller that asks by Unix socket. */
export type ControlResult = { connected: false; message: string } | { connected: true; replies: ControlReply[]; ended: boolean };

/**
 * Sends `command` to the replica at `path` and collects its replies until it closes the
 * connection or `timeoutMs` passes (then `ended` is false).
 */
export function sendControl(path: string, command: string, timeoutMs: number, onReply?: (r: ControlReply) => void): Promise<ControlResult> {
  return new Promise((resolve) => {
    const replies: ControlReply[] = [];
    let buffered = '';
    let connected = false;
    const socket = net.connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ connected: true, replies, ended: false });
    }, timeoutMs);
    socket.once('connect', () => {
      connected = true;
      socket.write(`${command}\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const r = JSON.parse(line) as ControlReply;
          replies.push(r);
          onReply?.(r);
        } catch {
          // not ours: ignored
        }
      }
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (connected) resolve({ connected: true, replies, ended: false });
      else resolve({ connected: false, message: describeControlError(path, error) });
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ connected: true, replies, ended: true });
    });
  });
}

function describeControlError(path: string, error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
      return `no control socket at ${path}: is the replica running, and was it started with --control ${path}?`;
    case 'ECONNREFUSED':
      return `nothing listens on ${path} (a replica that has exited left it); start the replica with --control ${path}`;
    case 'EACCES':
      return `no permission to use ${path}: run as the replica's user`;
    case 'ENOTSOCK':
      return `${path} is not a socket: give the path of the replica's --control`;
    default:
      return `cannot reach the control socket ${path}: ${error.code ?? error.message}`;
  }
}
