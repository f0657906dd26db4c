/**
 * The arbiter on an etcd cluster (DESIGN.md, "The arbiter"): the same request/response
 * interface as ArbiterClient (arbiter-client.ts), selected with
 * `ftcp replica --arbiter etcd://host:port[,host:port...]`.
 *
 * The test-and-set of epoch n of a service is one etcd transaction on the key
 * `ftcp/<service>/epoch/<n>`:
 *
 *   if create_revision(key) == 0 then put(key, asker) else get(key)
 *
 * Exactly one transaction can find the key absent, so exactly one asker is ever written
 * there, and every answer (the asker's own name when its put succeeded, else the value
 * read) names that winner. Asking again is safe, as with the embedded arbiter. Several
 * replicated services share one etcd cluster by their `<service>` (by convention the
 * service address, as with the embedded arbiter).
 *
 * Contact and the output fence (docs/decisions.md, "The etcd arbiter fences output from
 * the last successful contact"): every transaction and a keep-alive read every
 * keepAliveMs are linearizable, so an answer needs a quorum of the etcd cluster. The time
 * of contact is when the answered request was *sent* (etcd's state is known to have been
 * reached at some instant after that, never before). outputAllowed() is true while
 * now < lastContact + contactTimeoutMs; ReplicaProcess holds every client packet while it
 * is false, and releases them in order when contact returns (onContact).
 *
 * Like ArbiterClient, send() never throws and never retries on its own: the replica asks
 * again every arbiterRetryMs. A request for an (epoch, replica) already in flight is not
 * sent twice.
 */
import { createRequire } from 'node:module';
import type { noop as Noop } from 'cockatiel';
import type { Etcd3 } from 'etcd3';
import { encodeArbiter, type ArbiterRequest, type ArbiterResponse } from '../replica/arbiter.js';
import { formatEndpoint, type Endpoint } from './endpoint.js';

const load = createRequire(import.meta.url);

/** What ReplicaProcess needs of an arbiter: ArbiterClient (embedded) and EtcdArbiter both fit. */
export interface ReplicaArbiter {
  send(request: ArbiterRequest): void;
  onResponse(handler: (bytes: Uint8Array, response: ArbiterResponse) => void): void;
  onError(handler: (message: string) => void): void;
  testAndSet(epoch: number, replica: string, opts?: { timeoutMs?: number; retryMs?: number }): Promise<ArbiterResponse>;
  close(): void;
  readonly stats: object;
  /** False while a replica must hold its client packets (the etcd fence); absent: always allowed. */
  outputAllowed?(): boolean;
  /** Contact lost (false) and regained (true), with the time of the last successful contact. */
  onContact?(handler: (inContact: boolean, lastContactMs: number) => void): void;
  /** When the request answered last was sent (wall clock ms), for the replica's timings. */
  answeredRequestSentAtMs?(): number | undefined;
}

export interface EtcdArbiterOptions {
  endpoints: Endpoint[];
  /** The service whose epochs are asked about; the key prefix is ftcp/<service>/. */
  service: string;
  /** L: output is allowed only until the last successful contact + L. Default 1000 ms. */
  contactTimeoutMs?: number;
  /** A linearizable read this often proves contact. Default L / 4. */
  keepAliveMs?: number;
  /** Deadline of one etcd call attempt. Default L / 2. */
  requestTimeoutMs?: number;
  /** The flag named in error messages ("--arbiter"). */
  flag?: string;
}

export interface EtcdArbiterStats {
  requestsSent: number;
  responses: number;
  /** Transactions whose put succeeded: epochs this client wrote. */
  granted: number;
  keepAlives: number;
  failures: number;
  /** Requests not sent: the same question was in flight, or the client was closed. */
  deduplicated: number;
  dropped: number;
  contactLost: number;
  contactRegained: number;
}

export const ETCD_SCHEME = 'etcd://';

/** The key of epoch n's flag. */
export function etcdEpochKey(service: string, epoch: number): string {
  return `ftcp/${service}/epoch/${epoch}`;
}

/** `etcd://h:p,h:p`, for messages and child arguments. */
export function formatEtcdUrl(endpoints: readonly Endpoint[]): string {
  return ETCD_SCHEME + endpoints.map(formatEndpoint).join(',');
}

export class EtcdArbiter implements ReplicaArbiter {
  readonly stats: EtcdArbiterStats = { requestsSent: 0, responses: 0, granted: 0, keepAlives: 0, failures: 0, deduplicated: 0, dropped: 0, contactLost: 0, contactRegained: 0 };
  readonly client: Etcd3;
  /** Send time (wall clock ms) of the last answered request; undefined before the first. */
  lastContactMs: number | undefined;
  lastError: string | undefined;
  private inContact = false;
  /** A keep-alive failed since the last contact: later ones are counted, not reported again. */
  private keepAliveFailing = false;
  private readonly inFlight = new Set<string>();
  private responseHandler: ((bytes: Uint8Array, response: ArbiterResponse) => void) | undefined;
  private errorHandler: ((message: string) => void) | undefined;
  private contactHandler: ((inContact: boolean, lastContactMs: number) => void) | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private closed = false;
  private nextId = 0x4000_0000;
  private readonly opts: Required<EtcdArbiterOptions>;

  constructor(opts: EtcdArbiterOptions) {
    if (opts.endpoints.length === 0) throw new RangeError('etcd arbiter: at least one endpoint');
    const contactTimeoutMs = opts.contactTimeoutMs ?? 1000;
    this.opts = { contactTimeoutMs, keepAliveMs: Math.max(10, Math.floor(contactTimeoutMs / 4)), requestTimeoutMs: Math.max(10, Math.floor(contactTimeoutMs / 2)), flag: '--arbiter', ...opts };
    const deadlineMs = this.opts.requestTimeoutMs;
    // etcd3 (and its gRPC) is loaded here, on first use, not when any `ftcp` command starts:
    // it is half the start-up time of every command that never talks to etcd.
    const { Etcd3: Client } = load('etcd3') as { Etcd3: typeof Etcd3 };
    const { noop } = load('cockatiel') as { noop: typeof Noop };
    this.client = new Client({
      hosts: opts.endpoints.map((e) => `http://${formatEndpoint(e)}`),
      dialTimeout: deadlineMs,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + deadlineMs }),
      // No per-host circuit breaker: etcd3's default keeps a member that failed three calls
      // (say, while the cluster had no quorum) out for 5 s after it is back, which here
      // means 5 s more of held output. The default global policy (3 tries, each on another
      // member) stays: a dead member costs one refused connection.
      faultHandling: { host: () => noop },
    });
  }

  get where(): string {
    return formatEtcdUrl(this.opts.endpoints);
  }

  onResponse(handler: (bytes: Uint8Array, response: ArbiterResponse) => void): void {
    this.responseHandler = handler;
  }

  onError(handler: (message: string) => void): void {
    this.errorHandler = handler;
  }

  onContact(handler: (inContact: boolean, lastContactMs: number) => void): void {
    this.contactHandler = handler;
  }

  /** The fence: true while now < last successful contact + L. */
  outputAllowed(nowMs = Date.now()): boolean {
    return this.lastContactMs !== undefined && nowMs < this.lastContactMs + this.opts.contactTimeoutMs;
  }

  /**
   * Waits for one successful contact (a linearizable read), then keeps contact every
   * keepAliveMs. Rejects with a one-line message when etcd does not answer in timeoutMs.
   */
  async start(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!(await this.touch())) {
      if (this.closed) throw new Error('etcd arbiter closed');
      if (Date.now() >= until) throw new Error(`no quorum of the etcd cluster at ${this.where} answered within ${timeoutMs} ms (${this.lastError ?? 'no answer'}); start etcd first, or point ${this.opts.flag} at it`);
      await new Promise((r) => setTimeout(r, Math.min(100, this.opts.keepAliveMs)));
    }
    this.keepAlive = setInterval(() => void this.touch(), this.opts.keepAliveMs);
  }

  /** Sends a request (from Replica.pollArbiter()). Never throws; failures are counted and reported. */
  send(request: ArbiterRequest): void {
    if (this.closed) {
      this.stats.dropped++;
      return;
    }
    const key = `${request.epoch}/${request.replica}`;
    if (this.inFlight.has(key)) {
      this.stats.deduplicated++;
      return;
    }
    this.inFlight.add(key);
    void this.ask(request.epoch, request.replica).then((winner) => {
      this.inFlight.delete(key);
      if (winner === undefined || this.closed) return;
      const r: ArbiterResponse = { type: 'response', id: request.id, epoch: request.epoch, replica: request.replica, winner };
      this.responseHandler?.(encodeArbiter(r), r);
    });
  }

  /** Asks for the test-and-set of `epoch` as `replica` (again every retryMs) until answered; rejects after timeoutMs. */
  async testAndSet(epoch: number, replica: string, opts: { timeoutMs?: number; retryMs?: number } = {}): Promise<ArbiterResponse> {
    const until = Date.now() + (opts.timeoutMs ?? 5000);
    const id = this.nextId++ >>> 0;
    for (;;) {
      const winner = await this.ask(epoch, replica);
      if (winner !== undefined) return { type: 'response', id, epoch, replica, winner };
      if (this.closed || Date.now() + (opts.retryMs ?? 200) >= until) throw new Error(this.lastError ?? `no answer from etcd at ${this.where}`);
      await new Promise((r) => setTimeout(r, opts.retryMs ?? 200));
    }
  }

  /** One transaction: the winner, or undefined when etcd did not answer (counted and reported). */
  private async ask(epoch: number, replica: string): Promise<string | undefined> {
    this.stats.requestsSent++;
    const sentMs = Date.now();
    try {
      const { winner, granted } = await this.transaction(epoch, replica);
      if (this.closed) return undefined;
      if (granted) this.stats.granted++;
      this.stats.responses++;
      this.contact(sentMs);
      return winner;
    } catch (error) {
      if (!this.closed) this.failed(`the test-and-set of epoch ${epoch} at etcd ${this.where} failed: ${describeEtcdError(error)}; asking again`);
      return undefined;
    }
  }

  /** The transaction itself: put the asker if the key was never created, else read the winner. */
  async transaction(epoch: number, replica: string): Promise<{ winner: string; granted: boolean }> {
    const key = etcdEpochKey(this.opts.service, epoch);
    const result = await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(replica)).else(this.client.get(key)).commit();
    if (result.succeeded) return { winner: replica, granted: true };
    const kv = result.responses[0]?.response_range?.kvs[0];
    if (kv === undefined) throw new Error(`etcd answered the transaction on ${key} with neither a put nor the key`);
    return { winner: kv.value.toString(), granted: false };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
    if (this.expiry !== undefined) clearTimeout(this.expiry);
    this.client.close();
  }

  // ---- contact ------------------------------------------------------------------------

  /** One linearizable read (needs a quorum); true when answered. */
  private async touch(): Promise<boolean> {
    const sentMs = Date.now();
    this.stats.keepAlives++;
    try {
      await this.client.get(`ftcp/${this.opts.service}/contact`).exec();
    } catch (error) {
      if (this.closed) return false;
      if (this.keepAliveFailing) this.stats.failures++;
      else this.failed(`etcd at ${this.where} did not answer a read: ${describeEtcdError(error)}`);
      this.keepAliveFailing = true;
      return false;
    }
    if (!this.closed) this.contact(sentMs);
    return true;
  }

  private contact(sentMs: number): void {
    this.keepAliveFailing = false;
    if (this.lastContactMs !== undefined && sentMs <= this.lastContactMs) return;
    // The lease may have run out before its expiry timer ran: report the loss, then the return.
    if (this.inContact && !this.outputAllowed()) this.setContact(false);
    this.lastContactMs = sentMs;
    if (this.expiry !== undefined) clearTimeout(this.expiry);
    const leftMs = sentMs + this.opts.contactTimeoutMs - Date.now();
    if (leftMs <= 0) return; // answered too late to extend anything: still out of contact
    this.expiry = setTimeout(() => this.setContact(false), leftMs);
    this.expiry.unref();
    this.setContact(true);
  }

  private setContact(inContact: boolean): void {
    if (inContact === this.inContact || this.closed) return;
    this.inContact = inContact;
    if (inContact && this.stats.contactLost > 0) this.stats.contactRegained++;
    if (!inContact) this.stats.contactLost++;
    this.contactHandler?.(inContact, this.lastContactMs ?? 0);
  }

  private failed(message: string): void {
    this.stats.failures++;
    this.lastError = message;
    this.errorHandler?.(message);
  }
}

/**
 * One short line for an etcd client error: the gRPC messages are long, nested and carry
 * timings, so repeats of one failure would never read alike.
 */
export function describeEtcdError(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, 200);
  const first = error.message.split(/[\n,]/)[0]!.replace(/ after [\d.]+s$/, '').replace(/\. Last error: Error: /, ': ').replace(/\. Resolution note: .*$/, '');
  return `${error.constructor.name}: ${first}`.slice(0, 200);
}
