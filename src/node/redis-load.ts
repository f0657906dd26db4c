/**
 * The Redis load (`ftcp client --app redis`, issue 6): connections that speak RESP to a
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
import { bulkText, concatBytes, describeValue, encodeCommand, RespError, RespReplyParser, type RespValue } from './resp.js';

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

export class RedisConn extends RequestConn {
  private readonly parser = new RespReplyParser();
  private expecting: Expect[] = [];
  private lastShared = 0;
  readonly state: RedisConnState;

  constructor(index: number, load: ClientLoad, seed: number) {
    super(index, load, seed);
    this.state = { index, counterKey: `ftcp:conn:${index}`, counter: 0, keys: {}, incrs: 0, setGets: 0 };
  }

  protected request(): Uint8Array {
    if (this.rng.below(3) < 2) {
      this.expecting = [{ kind: 'shared' }, { kind: 'own' }];
      return concatBytes([encodeCommand(['INCR', REDIS_COUNTER_KEY]), encodeCommand(['INCR', this.state.counterKey])]);
    }
    const key = `${this.state.counterKey}:k${this.rng.below(4)}`;
    const value = `v${this.requestsDone}-${this.rng.nextU32().toString(36)}`;
    this.expecting = [{ kind: 'set' }, { kind: 'get', key, value }];
    return concatBytes([encodeCommand(['SET', key, value]), encodeCommand(['GET', key])]);
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
      const e = this.expecting.shift();
      if (e === undefined) return this.fail(`redis: an unsolicited reply ${describeValue(r)} after request ${this.requestsDone}`);
      const why = this.check(e, r);
      if (why !== undefined) return this.fail(`redis: request ${this.requestsDone}: ${why}`);
      if (this.expecting.length === 0) this.answeredOne();
    }
  }

  private check(e: Expect, r: RespValue): string | undefined {
    switch (e.kind) {
      case 'shared':
        if (r.type !== 'integer' || !(r.value > this.lastShared)) return `INCR ${REDIS_COUNTER_KEY} answered ${describeValue(r)} after :${this.lastShared} (replies must rise)`;
        this.lastShared = r.value;
        this.load.counterAnswers.push(r.value);
        return undefined;
      case 'own':
        if (r.type !== 'integer' || r.value !== this.state.counter + 1) return `INCR ${this.state.counterKey} answered ${describeValue(r)}, expected :${this.state.counter + 1} (the previous reply plus one)`;
        this.state.counter = r.value;
        this.state.incrs++;
        return undefined;
      case 'set':
        return r.type === 'simple' && r.value === 'OK' ? undefined : `SET answered ${describeValue(r)}, expected +OK`;
      case 'get':
        if (bulkText(r) !== e.value) return `GET ${e.key} answered ${describeValue(r)}, expected the value just set ${JSON.stringify(e.value)}`;
        this.state.keys[e.key] = e.value;
        this.state.setGets++;
        return undefined;
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
