/**
 * Authenticated switch control datagrams: with a cluster key (cluster-key.ts),
 * a host's `register` and the switch's answers carry an HMAC-SHA-256, and a register must
 * echo a nonce the switch gave that host's UDP endpoint, with a counter above the last one
 * the switch took from it (docs/decisions.md, "Switch registrations: a MAC, the switch's
 * nonce per endpoint and a counter").
 *
 * Layout (64 bytes, big-endian; control format version 2 of switch-control.ts):
 *
 *   offset size field
 *   0      1    0x00 (a control datagram)
 *   1      1    2 (AUTH_CONTROL_VERSION)
 *   2      1    type: 1 register, 2 registered, 3 superseded, 4 challenge
 *   3      1    reserved, zero
 *   4      4    virtual IPv4 address (challenge: the register's)
 *   8      4    epoch (challenge: the register's)
 *   12     4    counter: register: the host's, +1 per register sent; answers: the
 *               register's they answer (0 for a superseded nobody asked for)
 *   16     16   nonce: register: the one the switch last gave this endpoint (zeros at
 *               first); answers: the one the next register from this endpoint must carry
 *   32     32   HMAC(K, bytes 0..31), K = HMAC(cluster key, "ftcp switch control v1")
 *
 *   challenge  switch -> host: "register again with this nonce": the answer to a register
 *              whose MAC is right but whose nonce is not the one this switch gave the
 *              endpoint it came from (the host's first register, a restarted switch, or a
 *              register captured and re-sent from elsewhere); also the answer a keyless
 *              host gets (it cannot check it, but it learns that the switch has a key).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Ipv4Addr } from '../wire/addr.js';
import type { ClusterKey } from './cluster-key.js';
import { CONTROL_MARK, type SwitchControl } from './switch-control.js';

export const AUTH_CONTROL_VERSION = 2;
export const AUTH_CONTROL_BYTES = 64;
const NONCE_BYTES = 16;
const SIGNED_BYTES = 32;

export type AuthControlType = SwitchControl['type'] | 'challenge';
const TYPES: readonly AuthControlType[] = ['register', 'registered', 'superseded', 'challenge'];

export interface AuthControl {
  type: AuthControlType;
  address: Ipv4Addr;
  epoch: number;
  counter: number;
  nonce: Uint8Array;
}

/** Why the switch (or a host) refused an authenticated control datagram. */
export type ControlAuthRefusal = 'no-mac' | 'unexpected-mac' | 'bad-mac' | 'stale-nonce' | 'replay';
export const CONTROL_AUTH_REFUSALS: readonly ControlAuthRefusal[] = ['no-mac', 'unexpected-mac', 'bad-mac', 'stale-nonce', 'replay'];

/** The reason as the switch's log line says it. */
export const CONTROL_AUTH_TEXT: Record<ControlAuthRefusal, string> = {
  'no-mac': 'the host has no cluster key (its register carries no MAC; set FTCP_CLUSTER_KEY or --cluster-key-file there)',
  'unexpected-mac': 'the host uses a cluster key and this switch has none (start it with --cluster-key-file or FTCP_CLUSTER_KEY)',
  'bad-mac': 'bad cluster key (MAC mismatch)',
  'stale-nonce': 'a nonce this switch did not give that endpoint (replayed from elsewhere, or from before a restart); challenged',
  replay: 'replayed register (its counter does not increase)',
};

export const ZERO_NONCE = new Uint8Array(NONCE_BYTES);

/** The MAC key of control datagrams: HMAC(cluster key, label), distinct from the log channel's keys. */
export function controlMacKey(key: ClusterKey): Buffer {
  return key.mac(Buffer.from('ftcp switch control v1', 'latin1'));
}

export function freshNonce(): Uint8Array {
  return randomBytes(NONCE_BYTES);
}

/** True for a control datagram of the authenticated format (its MAC may still be wrong). */
export function isAuthControl(d: Uint8Array): boolean {
  return d.length >= 2 && d[0] === CONTROL_MARK && d[1] === AUTH_CONTROL_VERSION;
}

export function encodeAuthControl(m: AuthControl, macKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(AUTH_CONTROL_BYTES);
  const view = new DataView(out.buffer);
  out[0] = CONTROL_MARK;
  out[1] = AUTH_CONTROL_VERSION;
  out[2] = TYPES.indexOf(m.type) + 1;
  view.setUint32(4, m.address >>> 0);
  view.setUint32(8, m.epoch >>> 0);
  view.setUint32(12, m.counter >>> 0);
  out.set(m.nonce.subarray(0, NONCE_BYTES), 16);
  out.set(mac(macKey, out.subarray(0, SIGNED_BYTES)), SIGNED_BYTES);
  return out;
}

/** 'malformed' (counted as bad-control), 'bad-mac', or the datagram. Never throws. */
export function decodeAuthControl(d: Uint8Array, macKey: Uint8Array): AuthControl | 'malformed' | 'bad-mac' {
  if (d.length !== AUTH_CONTROL_BYTES || !isAuthControl(d) || d[3] !== 0) return 'malformed';
  const type = TYPES[d[2]! - 1];
  if (type === undefined) return 'malformed';
  const expected = mac(macKey, d.subarray(0, SIGNED_BYTES));
  if (!timingSafeEqual(expected, d.subarray(SIGNED_BYTES))) return 'bad-mac';
  const view = new DataView(d.buffer, d.byteOffset, d.length);
  return { type, address: view.getUint32(4), epoch: view.getUint32(8), counter: view.getUint32(12), nonce: d.slice(16, 32) };
}

function mac(key: Uint8Array, bytes: Uint8Array): Buffer {
  return createHmac('sha256', key).update(bytes).digest();
}

const sameNonce = (a: Uint8Array, b: Uint8Array) => a.length === b.length && timingSafeEqual(a, b);

/**
 * A host's side: counts its registers, keeps the nonce the switch gave it, checks the
 * switch's answers. Used by the UDP link (udp-link.ts) and the fuzzer's registration.
 */
export class ControlAuthHost {
  private readonly macKey: Buffer;
  private nonce: Uint8Array = ZERO_NONCE;
  private counter = 0;
  /** The counter of the last register a challenge answered (an older challenge is stale). */
  private challengedAt = 0;

  constructor(key: ClusterKey) {
    this.macKey = controlMacKey(key);
  }

  register(address: Ipv4Addr, epoch: number): Uint8Array {
    this.counter = this.counter >= 0xffff_ffff ? 1 : this.counter + 1;
    return encodeAuthControl({ type: 'register', address, epoch, counter: this.counter, nonce: this.nonce }, this.macKey);
  }

  /**
   * An authenticated answer from the switch: the answer, 'challenge' (register again now:
   * the nonce was taken), or a refusal (counted by the caller, never applied).
   */
  receive(d: Uint8Array): SwitchControl | 'challenge' | 'bad-mac' | 'malformed' | 'replay' {
    const m = decodeAuthControl(d, this.macKey);
    if (m === 'malformed' || m === 'bad-mac') return m;
    if (m.type === 'register' || m.counter > this.counter) return 'malformed';
    if (m.type === 'challenge') {
      if (m.counter <= this.challengedAt) return 'replay';
      this.challengedAt = m.counter;
      this.nonce = m.nonce;
      return 'challenge';
    }
    // An answer from this switch run carries the nonce it gave this host (a restarted switch challenges first).
    if (!sameNonce(m.nonce, this.nonce)) return 'replay';
    return { type: m.type, address: m.address, epoch: m.epoch };
  }
}

export type SwitchAuthVerdict =
  | { ok: true; m: SwitchControl; counter: number }
  | { ok: false; reason: ControlAuthRefusal; challenge?: Uint8Array }
  | { ok: false; reason: 'malformed' }
  | { ok: 'challenge'; challenge: Uint8Array };

/**
 * The switch's side: per UDP endpoint, the nonce it gave and the highest counter it took.
 * State is made only for a register whose MAC checked out, and is bounded (the oldest
 * endpoint is forgotten first; it is challenged again if it comes back).
 */
export class ControlAuthSwitch {
  private readonly macKey: Buffer;
  private readonly endpoints = new Map<string, { nonce: Uint8Array; counter: number }>();

  constructor(
    key: ClusterKey,
    private readonly maxEndpoints: number,
  ) {
    this.macKey = controlMacKey(key);
  }

  /** A control datagram of the authenticated format from `endpoint`. */
  check(d: Uint8Array, endpoint: string): SwitchAuthVerdict {
    const m = decodeAuthControl(d, this.macKey);
    if (m === 'malformed') return { ok: false, reason: 'malformed' };
    if (m === 'bad-mac') return { ok: false, reason: 'bad-mac' };
    if (m.type !== 'register') return { ok: false, reason: 'malformed' };
    // Zeros: a host's first register. The endpoint may have been another host's before (a
    // process that ended, its port taken again by a new one whose counter starts over), so it
    // gets a fresh nonce and its counter is taken as it is. A capture of such a register,
    // re-sent, earns only a challenge it cannot answer; it makes the real host's next
    // register stale, and that host is challenged once more and carries on.
    if (sameNonce(m.nonce, ZERO_NONCE)) return { ok: 'challenge', challenge: this.challenge(m, endpoint, true) };
    const state = this.endpoints.get(endpoint);
    if (state === undefined || !sameNonce(state.nonce, m.nonce)) return { ok: false, reason: 'stale-nonce', challenge: this.challenge(m, endpoint, false) };
    if (m.counter <= state.counter) return { ok: false, reason: 'replay' };
    state.counter = m.counter;
    return { ok: true, m: { type: 'register', address: m.address, epoch: m.epoch }, counter: m.counter };
  }

  /** An answer to `endpoint` (registered, superseded), with the nonce its next register must carry. */
  answer(m: SwitchControl, endpoint: string, counter: number): Uint8Array {
    const nonce = this.endpoints.get(endpoint)?.nonce ?? ZERO_NONCE;
    return encodeAuthControl({ ...m, counter, nonce }, this.macKey);
  }

  /** The answer to a keyless host's register: a challenge it cannot use, but that tells it the switch has a key. */
  keylessAnswer(address: Ipv4Addr, epoch: number): Uint8Array {
    return encodeAuthControl({ type: 'challenge', address, epoch, counter: 0, nonce: ZERO_NONCE }, this.macKey);
  }

  /**
   * A challenge with the endpoint's nonce: a fresh one for an endpoint it does not know or a
   * new host at a known one, the same one otherwise (so that two registers in flight do not
   * chase each other's nonces; the counter is what refuses a replay from the same endpoint).
   */
  private challenge(m: AuthControl, endpoint: string, newHost: boolean): Uint8Array {
    let state = this.endpoints.get(endpoint);
    if (newHost && state !== undefined) {
      state.nonce = freshNonce();
      state.counter = m.counter;
    } else if (state === undefined) {
      if (this.endpoints.size >= this.maxEndpoints) this.endpoints.delete(this.endpoints.keys().next().value!);
      state = { nonce: freshNonce(), counter: m.counter };
      this.endpoints.set(endpoint, state);
    }
    // A register with a stale nonce leaves the counter alone: raising it to a replayed
    // register's counter would lock the real host out.
    return encodeAuthControl({ type: 'challenge', address: m.address, epoch: m.epoch, counter: m.counter, nonce: state.nonce }, this.macKey);
  }
}
