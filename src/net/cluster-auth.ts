/**
 * Peer authentication and encryption with the cluster key (cluster-key.ts) for the log
 * channel and the embedded arbiter's protocol: a handshake at connect, then every frame
 * sealed with AES-256-GCM under a key of its direction, with a counter in the header.
 * Sans-I/O: framed-socket.ts drives it.
 *
 * Envelope, version 2 (big-endian; the length sits at offset 4, as in a log-channel frame):
 *
 *   offset size field
 *   0      1    0xFA (AUTH_MARKER: no unauthenticated frame starts with it: a log-channel
 *               frame starts with its version 1, an arbiter frame with the high byte of a
 *               length <= 1024, i.e. 0)
 *   1      1    version (AUTH_VERSION, 2; version 1 carried the inner frame in clear)
 *   2      1    type: 1 hello, 2 proof, 3 data
 *   3      1    reserved, zero
 *   4      4    envelope length in bytes
 *   hello: 8  16  a random nonce, fresh for every connection
 *   proof: 8  32  HMAC(K_proof, "proof " + own role)
 *   data:  8   8  counter: 1 for the first data frame each way, then +1 per frame
 *          16  n  the inner frame (log-channel or arbiter frame), encrypted: n = its length
 *          16+n 16 GCM tag
 *
 * Data frames: AES-256-GCM under K_role (the sender's role), associated data bytes 0..15
 * (header and counter: nothing of them can change unseen), 96-bit nonce = 4 bytes of
 * direction (0,0,0,1 sent by the dialer; 0,0,0,2 by the listener) + the 8-byte counter.
 * The counter grows by one per frame and a key lives for one connection, so no nonce
 * repeats under a key. Keys (HMAC-SHA-256; S is fresh per connection):
 *
 *   S       = HMAC(cluster key, "ftcp session v2" + dialer's nonce + listener's nonce)
 *   K_proof = HMAC(S, "ftcp v2 proof")
 *   K_role  = HMAC(S, "ftcp v2 aead " + role), role "dialer" or "listener"
 *
 * Both sides send hello at connect and a proof when they have the other's hello; each side
 * takes data only after the other's proof checked out, and sends none before. A peer with
 * a wrong key fails the proof (both sides see it); a frame from another connection fails
 * its tag (the nonces differ); a frame sent back to its sender fails too (the role is in
 * the key); a frame replayed or removed within the connection breaks the counter (checked
 * after the tag, so that the reason is exact). A peer whose first envelope has another
 * version is refused as such (an older ftcp). Every failure refuses the connection: the
 * caller closes it and applies nothing from it. What a wire-tapper still sees: frame sizes
 * and timing, and the handshake's nonces.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { ClusterKey } from './cluster-key.js';
import type { FrameReaderOptions } from './frames.js';

export const AUTH_MARKER = 0xfa;
export const AUTH_VERSION = 2;
const TYPE_HELLO = 1;
const TYPE_PROOF = 2;
const TYPE_DATA = 3;
const HEADER_BYTES = 8;
const NONCE_BYTES = 16;
const MAC_BYTES = 32;
const COUNTER_BYTES = 8;
const TAG_BYTES = 16;
/** Header and counter: the associated data of a data frame, and where its ciphertext starts. */
const AAD_BYTES = HEADER_BYTES + COUNTER_BYTES;
const AEAD = 'aes-256-gcm';
export const AUTH_HELLO_BYTES = HEADER_BYTES + NONCE_BYTES;
const PROOF_BYTES = HEADER_BYTES + MAC_BYTES;
/** What the envelope adds to a data frame. */
export const AUTH_OVERHEAD_BYTES = AAD_BYTES + TAG_BYTES;
const TWO32 = 0x1_0000_0000;
const DIRECTION: Record<AuthRole, number> = { dialer: 1, listener: 2 };

export type AuthRole = 'dialer' | 'listener';

export type AuthRefusal = 'no-key' | 'peer-has-key' | 'wrong-version' | 'bad-key' | 'bad-mac' | 'replay' | 'counter-gap' | 'bad-handshake' | 'handshake-timeout';

export const AUTH_REFUSALS: readonly AuthRefusal[] = ['no-key', 'peer-has-key', 'wrong-version', 'bad-key', 'bad-mac', 'replay', 'counter-gap', 'bad-handshake', 'handshake-timeout'];

/** The reason as the log line says it (no key material, ever). */
export const AUTH_REFUSAL_TEXT: Record<AuthRefusal, string> = {
  'no-key': 'no cluster key (the peer sent unauthenticated frames)',
  'peer-has-key': 'the peer uses a cluster key and this process has none (set FTCP_CLUSTER_KEY or --cluster-key-file)',
  'wrong-version': `cluster-key envelope version mismatch (this process speaks version ${AUTH_VERSION}, encrypted; run one ftcp release on every process)`,
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

/** How to cut a keyed stream into envelopes, for an inner protocol framed by `inner`. */
export function envelopeReaderOptions(inner: FrameReaderOptions): FrameReaderOptions {
  return { lengthOffset: 4, minBytes: HEADER_BYTES, maxBytes: inner.maxBytes + AUTH_OVERHEAD_BYTES };
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

/** The 96-bit GCM nonce: the sender's direction, then the frame's counter (bytes 8..15 of the envelope). */
function gcmNonce(sender: AuthRole, counterBytes: Uint8Array): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(DIRECTION[sender], 0);
  nonce.set(counterBytes, 4);
  return nonce;
}

export class AuthSession {
  /** Send this first, at connect. */
  readonly hello: Uint8Array;
  private state: 'hello' | 'proof' | 'ready' | 'refused' = 'hello';
  private readonly nonce: Uint8Array;
  private readonly peer: AuthRole;
  private session: Buffer | undefined;
  private sendKey: KeyObject | undefined;
  private recvKey: KeyObject | undefined;
  private sent = 0;
  private received = 0;

  constructor(
    private readonly key: ClusterKey,
    readonly role: AuthRole,
    nonce: Uint8Array = randomBytes(NONCE_BYTES),
  ) {
    this.nonce = nonce;
    this.peer = role === 'dialer' ? 'listener' : 'dialer';
    this.hello = header(TYPE_HELLO, AUTH_HELLO_BYTES);
    this.hello.set(nonce, HEADER_BYTES);
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  /** Encrypts and wraps an inner frame for sending (only once ready). */
  seal(inner: Uint8Array): Uint8Array {
    if (this.state !== 'ready' || this.sendKey === undefined) throw new Error('cluster auth: seal() before the handshake finished');
    if (this.sent >= Number.MAX_SAFE_INTEGER) throw new Error('cluster auth: frame counter exhausted; reconnect');
    const length = AUTH_OVERHEAD_BYTES + inner.length;
    const out = header(TYPE_DATA, length);
    const view = new DataView(out.buffer);
    this.sent++;
    view.setUint32(HEADER_BYTES, Math.floor(this.sent / TWO32));
    view.setUint32(HEADER_BYTES + 4, this.sent % TWO32);
    const cipher = createCipheriv(AEAD, this.sendKey, gcmNonce(this.role, out.subarray(HEADER_BYTES, AAD_BYTES)), { authTagLength: TAG_BYTES });
    cipher.setAAD(out.subarray(0, AAD_BYTES));
    out.set(cipher.update(inner), AAD_BYTES);
    cipher.final();
    out.set(cipher.getAuthTag(), length - TAG_BYTES);
    return out;
  }

  /** Takes one whole envelope (cut by its length at offset 4); says what follows. */
  receive(frame: Uint8Array): AuthStep {
    if (this.state === 'refused') return this.refuse('bad-handshake', 'frame after a refusal');
    if (frame.length < HEADER_BYTES || frame[0] !== AUTH_MARKER) return this.refuse('bad-handshake', 'not an envelope');
    if (frame[1] !== AUTH_VERSION) {
      // The first envelope of a connection says which version the peer speaks; later, a different byte is damage.
      if (this.state === 'hello') return this.refuse('wrong-version', `the peer speaks version ${frame[1]!}${frame[1] === 1 ? ', an older ftcp (authenticated, not encrypted)' : ''}`);
      return this.refuse('bad-handshake', 'not an envelope of this version');
    }
    if (frame[3] !== 0) return this.refuse('bad-handshake', 'reserved byte not zero');
    if (new DataView(frame.buffer, frame.byteOffset, frame.length).getUint32(4) !== frame.length) return this.refuse('bad-handshake', 'envelope length field disagrees with the envelope');
    const type = frame[2];
    if (type === TYPE_HELLO && this.state === 'hello') {
      if (frame.length !== AUTH_HELLO_BYTES) return this.refuse('bad-handshake', 'hello of the wrong length');
      const theirs = frame.subarray(HEADER_BYTES);
      const [dialerNonce, listenerNonce] = this.role === 'dialer' ? [this.nonce, theirs] : [theirs, this.nonce];
      this.session = this.key.mac(ascii('ftcp session v2'), dialerNonce, listenerNonce);
      const proof = header(TYPE_PROOF, PROOF_BYTES);
      proof.set(this.proofMac(this.role), HEADER_BYTES);
      this.state = 'proof';
      return { type: 'send', bytes: proof };
    }
    if (type === TYPE_PROOF && this.state === 'proof') {
      if (frame.length !== PROOF_BYTES) return this.refuse('bad-handshake', 'proof of the wrong length');
      if (!macEqual(frame.subarray(HEADER_BYTES), this.proofMac(this.peer))) return this.refuse('bad-key');
      this.sendKey = this.dataKey(this.role);
      this.recvKey = this.dataKey(this.peer);
      this.state = 'ready';
      return { type: 'ready' };
    }
    if (type === TYPE_DATA && this.state === 'ready') return this.open(frame);
    return this.refuse('bad-handshake', `envelope type ${type ?? '?'} while waiting for ${this.state === 'ready' ? 'data' : this.state}`);
  }

  private open(frame: Uint8Array): AuthStep {
    if (frame.length < AUTH_OVERHEAD_BYTES) return this.refuse('bad-mac', 'data envelope too short');
    const end = frame.length - TAG_BYTES;
    const decipher = createDecipheriv(AEAD, this.recvKey!, gcmNonce(this.peer, frame.subarray(HEADER_BYTES, AAD_BYTES)), { authTagLength: TAG_BYTES });
    decipher.setAAD(frame.subarray(0, AAD_BYTES));
    decipher.setAuthTag(frame.subarray(end));
    let inner: Buffer;
    try {
      inner = decipher.update(frame.subarray(AAD_BYTES, end));
      decipher.final(); // throws when the tag does not match; the plaintext is then dropped unread
    } catch {
      return this.refuse('bad-mac');
    }
    const view = new DataView(frame.buffer, frame.byteOffset, frame.length);
    const counter = view.getUint32(HEADER_BYTES) * TWO32 + view.getUint32(HEADER_BYTES + 4);
    if (counter <= this.received) return this.refuse('replay', `counter ${counter} after ${this.received}`);
    if (counter !== this.received + 1) return this.refuse('counter-gap', `counter ${counter} after ${this.received}`);
    this.received = counter;
    return { type: 'frame', inner: new Uint8Array(inner.buffer, inner.byteOffset, inner.length) };
  }

  /** HMAC(K_proof, "proof " + role). */
  private proofMac(role: AuthRole): Buffer {
    return hmac(hmac(this.session!, ascii('ftcp v2 proof')), ascii(`proof ${role}`));
  }

  /** K_role = HMAC(S, "ftcp v2 aead " + role), as a 256-bit AES key. */
  private dataKey(role: AuthRole): KeyObject {
    return createSecretKey(hmac(this.session!, ascii(`ftcp v2 aead ${role}`)));
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
