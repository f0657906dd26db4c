/**
 * The Redis load (`ftcp client --app redis`): connections that speak RESP to a
 * real redis-server behind the replicated service, and check every reply.
 *
 * Each request is a pipeline of two commands, one outstanding request per connection:
 *   incr:    INCR ftcp:counter          (shared by all connections)
 *            INCR ftcp:conn:<i>         (this connection's own)
 *   set/get: SET ftcp:conn:<i>:k<j> v   then   GET ftcp:conn:<i>:k<j>
 * Checks, reply by reply: the shared counter's replies rise on every connection (and,
 * across all connections, are exactly 1..N at the end: LoadClient.result); this
 * connection's own counter answers exactly the previous reply plus one; SET answers +OK and
 * the GET right after it returns the value just set; no reply comes that was not asked for;
 * at EOF every request has its two replies. What the connection last saw (its counter, its
 * keys) is reported, so the orchestrator can ask the surviving Redis directly afterwards.
 */
import { ClientConn, RequestConn, type ClientLoad } from '../sim/cluster-load.js';
import type { Prng } from '../tcp/prng.js';
import { bulkText, concatBytes, describeValue, encodeCommand, RespError, RespReplyParser, type RespValue } from '../net/resp.js';

export const REDIS_COUNTER_KEY = 'ftcp:counter';

/** What one connection last saw, for the check against the surviving Redis. */
export interface RedisConnState {
  index: number;
  /** Key and value of this connection's own counter (the last INCR reply). */
  counterKey: string;
  counter: number;
  /** Every key this connection set, with the value it set last. */
  keys: Record<string, string>;
  incrs: number;
  setGets: number;
}

type Expect = { kind: 'shared' } | { kind: 'own' } | { kind: 'set' } | { kind: 'get'; key: string; value: string };

/** A reply as the checks see it: an integer, or text (a status, a bulk string; null for nil). */
export interface RedisReply {
  int: number | undefined;
  text: string | null;
  /** For messages. */
  shown: string;
}

export function replyFromResp(r: RespValue): RedisReply {
  return { int: r.type === 'integer' ? r.value : undefined, text: r.type === 'simple' ? r.value : r.type === 'bulk' ? bulkText(r) : r.type === 'integer' ? String(r.value) : null, shown: describeValue(r) };
}

/**
 * The requests and checks of one connection, whatever carries them: RESP on the ftcp stack
 * (RedisConn) or redis-cli on the kernel's TCP (redis-cli-load.ts).
 */
export class RedisChecks {
  private expecting: Expect[] = [];
  private lastShared = 0;
  readonly state: RedisConnState;

  constructor(
    index: number,
    private readonly rng: Prng,
    /** Every shared-counter reply of the whole load, in arrival order. */
    private readonly counterAnswers: number[],
  ) {
    this.state = { index, counterKey: `ftcp:conn:${index}`, counter: 0, keys: {}, incrs: 0, setGets: 0 };
  }

  /** The commands of request `n` (a pipeline of two); their replies are checked by reply(). */
  next(n: number): string[][] {
    if (this.rng.below(3) < 2) {
      this.expecting = [{ kind: 'shared' }, { kind: 'own' }];
      return [['INCR', REDIS_COUNTER_KEY], ['INCR', this.state.counterKey]];
    }
    const key = `${this.state.counterKey}:k${this.rng.below(4)}`;
    const value = `v${n}-${this.rng.nextU32().toString(36)}`;
    this.expecting = [{ kind: 'set' }, { kind: 'get', key, value }];
    return [['SET', key, value], ['GET', key]];
  }

  /** Replies of the current request still to come. */
  get awaiting(): number {
    return this.expecting.length;
  }

  /** Checks one reply; returns why it is wrong, or undefined. */
  reply(r: RedisReply): string | undefined {
    const e = this.expecting.shift();
    if (e === undefined) return `an unsolicited reply ${r.shown}`;
    switch (e.kind) {
      case 'shared':
        if (r.int === undefined || !(r.int > this.lastShared)) return `INCR ${REDIS_COUNTER_KEY} answered ${r.shown} after :${this.lastShared} (replies must rise)`;
        this.lastShared = r.int;
        this.counterAnswers.push(r.int);
        return undefined;
      case 'own':
        if (r.int !== this.state.counter + 1) return `INCR ${this.state.counterKey} answered ${r.shown}, expected :${this.state.counter + 1} (the previous reply plus one)`;
        this.state.counter = r.int;
        this.state.incrs++;
        return undefined;
      case 'set':
        return r.text === 'OK' ? undefined : `SET answered ${r.shown}, expected +OK`;
      case 'get':
        if (r.text !== e.value) return `GET ${e.key} answered ${r.shown}, expected the value just set ${JSON.stringify(e.value)}`;
        this.state.keys[e.key] = e.value;
        this.state.setGets++;
        return undefined;
    }
  }
}

export class RedisConn extends RequestConn {
  private readonly parser = new RespReplyParser();
  private readonly checks: RedisChecks;

  constructor(index: number, load: ClientLoad, seed: number) {
    super(index, load, seed);
    this.checks = new RedisChecks(index, this.rng, load.counterAnswers);
  }

  get state(): RedisConnState {
    return this.checks.state;
  }

  protected request(): Uint8Array {
    return concatBytes(this.checks.next(this.requestsDone).map((c) => encodeCommand(c)));
  }

  protected onData(data: Uint8Array): void {
    let replies: RespValue[];
    try {
      replies = this.parser.push(data);
    } catch (error) {
      return this.fail(`redis: request ${this.requestsDone}: ${error instanceof RespError ? error.message : String(error)}`);
    }
    for (const r of replies) {
      if (this.error !== undefined) return;
      const why = this.checks.reply(replyFromResp(r));
      if (why !== undefined) return this.fail(`redis: request ${this.requestsDone}: ${why}`);
      if (this.checks.awaiting === 0) this.answeredOne();
    }
  }

  protected override onEof(): { kind: 'ok' } | { kind: 'broken'; why: string } {
    if (this.parser.pending > 0) return { kind: 'broken', why: `redis: EOF after a partial reply (${this.parser.pending} bytes)` };
    return super.onEof();
  }
}

/** ClientLoad's makeConn for the redis load. */
export function makeRedisConn(index: number, load: ClientLoad, seed: number): ClientConn {
  return new RedisConn(index, load, seed);
}
