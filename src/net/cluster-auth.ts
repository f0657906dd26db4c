/**
 * Peer authentication with the cluster key (cluster-key.ts) for the log channel and the
 * embedded arbiter's protocol: a handshake at connect, then every frame wrapped in an
 * envelope with a counter and an HMAC-SHA-256. Sans-I/O: framed-socket.ts drives it.
 *
 * Envelope (big-endian; the length sits at offset 4, as in a log-channel frame):
 *
 *   offset size field
 *   0      1    0xFA (AUTH_MARKER: no unauthenticated frame starts with it: a log-channel
 *               frame starts with its version 1, an arbiter frame with the high byte of a
 *               length <= 1024, i.e. 0)
 *   1      1    version (AUTH_VERSION)
 *   2      1    type: 1 hello, 2 proof, 3 data
 *   3      1    reserved, zero
 *   4      4    envelope length in bytes
 *   hello: 8  16  a random nonce, fresh for every connection
 *   proof: 8  32  HMAC(S, "proof " + own role)
 *   data:  8   8  counter: 1 for the first data frame each way, then +1 per frame
 *          16 ... the inner frame (log-channel or arbiter frame, unchanged)
 *          end-32 32  HMAC(K_role, every byte before it)
 *
 * where S = HMAC(cluster key, "ftcp session v1" + dialer's nonce + listener's nonce) and
 * K_role = HMAC(S, "data " + sender's role), role "dialer" or "listener".
 *
 * Both sides send hello at connect and a proof when they have the other's hello; each side
 * takes data only after the other's proof checked out, and sends none before. A peer with
 * a wrong key fails the proof (both sides see it); a frame from another connection fails
 * its MAC (the nonces differ); a frame sent back to its sender fails too (the role is in
 * the key); a frame replayed or removed within the connection breaks the counter. Every
 * failure refuses the connection: the caller closes it and applies nothing from it.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ClusterKey } from './cluster-key.js';

export const AUTH_MARKER = 0xfa;
export const AUTH_VERSION = 1;
const TYPE_HELLO = 1;
const TYPE_PROOF = 2;
const TYPE_DATA = 3;
const HEADER_BYTES = 8;
const NONCE_BYTES = 16;
const MAC_BYTES = 32;
const COUNTER_BYTES = 8;
export const AUTH_HELLO_BYTES = HEADER_BYTES + NONCE_BYTES;
const PROOF_BYTES = HEADER_BYTES + MAC_BYTES;
/** What the envelope adds to a data frame. */
export const AUTH_OVERHEAD_BYTES = HEADER_BYTES + COUNTER_BYTES + MAC_BYTES;
const TWO32 = 0x1_0000_0000;

export type AuthRole = 'dialer' | 'listener';

export type AuthRefusal = 'no-key' | 'peer-has-key' | 'bad-key' | 'bad-mac' | 'replay' | 'counter-gap' | 'bad-handshake' | 'handshake-timeout';

export const AUTH_REFUSALS: readonly AuthRefusal[] = ['no-key', 'peer-has-key', 'bad-key', 'bad-mac', 'replay', 'counter-gap', 'bad-handshake', 'handshake-timeout'];

/** The reason as the log line says it (no key material, ever). */
export const AUTH_REFUSAL_TEXT: Record<AuthRefusal, string> = {
  'no-key': 'no cluster key (the peer sent unauthenticated frames)',
  'peer-has-key': 'the peer uses a cluster key and this process has none (set FTCP_CLUSTER_KEY or --cluster-key-file)',
  'bad-key': 'bad cluster key (MAC mismatch)',
  'bad-mac': 'bad frame MAC (tampered with, or from another connection)',
  replay: 'replayed frame (its counter does not increase)',
  'counter-gap': 'frame counter skipped (a frame was removed)',
  'bad-handshake': 'malformed cluster-key handshake or envelope',
  'handshake-timeout': 'no cluster-key handshake in time',
};

export function emptyRefusalCounts(): Record<AuthRefusal, number> {
  return Object.fromEntries(AUTH_REFUSALS.map((r) => [r, 0])) as Record<AuthRefusal, number>;
}

export type AuthStep = { type: 'send'; bytes: Uint8Array } | { type: 'ready' } | { type: 'frame'; inner: Uint8Array } | { type: 'refused'; reason: AuthRefusal; detail?: string };

const ascii = (s: string) => Buffer.from(s, 'latin1');

function header(type: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out[0] = AUTH_MARKER;
  out[1] = AUTH_VERSION;
  out[2] = type;
  new DataView(out.buffer).setUint32(4, length);
  return out;
}

function macEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export class AuthSession {
  /** Send this first, at connect. */
  readonly hello: Uint8Array;
  private state: 'hello' | 'proof' | 'ready' | 'refused' = 'hello';
  private readonly nonce: Uint8Array;
  private session: Buffer | undefined;
  private sendKey: Buffer | undefined;
  private recvKey: Buffer | undefined;
  private sent = 0;
  private received = 0;

  constructor(
    private readonly key: ClusterKey,
    readonly role: AuthRole,
    nonce: Uint8Array = randomBytes(NONCE_BYTES),
  ) {
    this.nonce = nonce;
    this.hello = header(TYPE_HELLO, AUTH_HELLO_BYTES);
    this.hello.set(nonce, HEADER_BYTES);
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  /** Wraps an inner frame for sending (only once ready). */
  seal(inner: Uint8Array): Uint8Array {
    if (this.state !== 'ready' || this.sendKey === undefined) throw new Error('cluster auth: seal() before the handshake finished');
    const length = AUTH_OVERHEAD_BYTES + inner.length;
    const out = header(TYPE_DATA, length);
    const view = new DataView(out.buffer);
    this.sent++;
    view.setUint32(HEADER_BYTES, Math.floor(this.sent / TWO32));
    view.setUint32(HEADER_BYTES + 4, this.sent % TWO32);
    out.set(inner, HEADER_BYTES + COUNTER_BYTES);
    out.set(hmac(this.sendKey, out.subarray(0, length - MAC_BYTES)), length - MAC_BYTES);
    return out;
  }

  /** Takes one whole envelope (cut by its length at offset 4); says what follows. */
  receive(frame: Uint8Array): AuthStep {
    if (this.state === 'refused') return this.refuse('bad-handshake', 'frame after a refusal');
    if (frame.length < HEADER_BYTES || frame[0] !== AUTH_MARKER || frame[1] !== AUTH_VERSION || frame[3] !== 0) return this.refuse('bad-handshake', 'not an envelope of this version');
    if (new DataView(frame.buffer, frame.byteOffset, frame.length).getUint32(4) !== frame.length) return this.refuse('bad-handshake', 'envelope length field disagrees with the envelope');
    const type = frame[2];
    if (type === TYPE_HELLO && this.state === 'hello') {
      if (frame.length !== AUTH_HELLO_BYTES) return this.refuse('bad-handshake', 'hello of the wrong length');
      const theirs = frame.subarray(HEADER_BYTES);
      const [dialerNonce, listenerNonce] = this.role === 'dialer' ? [this.nonce, theirs] : [theirs, this.nonce];
      this.session = this.key.mac(ascii('ftcp session v1'), dialerNonce, listenerNonce);
      const proof = header(TYPE_PROOF, PROOF_BYTES);
      proof.set(this.proofMac(this.role), HEADER_BYTES);
      this.state = 'proof';
      return { type: 'send', bytes: proof };
    }
    if (type === TYPE_PROOF && this.state === 'proof') {
      if (frame.length !== PROOF_BYTES) return this.refuse('bad-handshake', 'proof of the wrong length');
      const peer: AuthRole = this.role === 'dialer' ? 'listener' : 'dialer';
      if (!macEqual(frame.subarray(HEADER_BYTES), this.proofMac(peer))) return this.refuse('bad-key');
      this.sendKey = this.dataKey(this.role);
      this.recvKey = this.dataKey(peer);
      this.state = 'ready';
      return { type: 'ready' };
    }
    if (type === TYPE_DATA && this.state === 'ready') return this.open(frame);
    return this.refuse('bad-handshake', `envelope type ${type ?? '?'} while waiting for ${this.state === 'ready' ? 'data' : this.state}`);
  }

  private open(frame: Uint8Array): AuthStep {
    if (frame.length < AUTH_OVERHEAD_BYTES) return this.refuse('bad-mac', 'data envelope too short');
    const end = frame.length - MAC_BYTES;
    if (!macEqual(frame.subarray(end), hmac(this.recvKey!, frame.subarray(0, end)))) return this.refuse('bad-mac');
    const view = new DataView(frame.buffer, frame.byteOffset, frame.length);
    const counter = view.getUint32(HEADER_BYTES) * TWO32 + view.getUint32(HEADER_BYTES + 4);
    if (counter <= this.received) return this.refuse('replay', `counter ${counter} after ${this.received}`);
    if (counter !== this.received + 1) return this.refuse('counter-gap', `counter ${counter} after ${this.received}`);
    this.received = counter;
    return { type: 'frame', inner: frame.subarray(HEADER_BYTES + COUNTER_BYTES, end) }; // a view: frames.ts hands out arrays nothing rewrites
  }

  private proofMac(role: AuthRole): Buffer {
    return hmac(this.session!, ascii(`proof ${role}`));
  }

  /** K_role = HMAC(S, "data " + role). */
  private dataKey(role: AuthRole): Buffer {
    return hmac(this.session!, ascii(`data ${role}`));
  }

  private refuse(reason: AuthRefusal, detail?: string): AuthStep {
    this.state = 'refused';
    return detail === undefined ? { type: 'refused', reason } : { type: 'refused', reason, detail };
  }
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}
