/**
 * StackConfig with every default filled in and every limit checked (DESIGN.md: every
 * limit is explicit and configurable). A bad configuration is API misuse: StackError EINVAL.
 */
import type { Ipv4Addr } from '../wire/addr.js';
import { StackError, STACK_PROFILES, type CongestionControlName, type StackConfig, type StackProfile } from './types.js';

export interface ResolvedConfig {
  addresses: Ipv4Addr[];
  seed: number;
  mtu: number;
  mslMs: number;
  sendBufferBytes: number;
  recvBufferBytes: number;
  reassemblyLimitBytes: number;
  listenBacklog: number;
  maxConnections: number;
  rtoInitialMs: number;
  rtoMinMs: number;
  rtoMaxMs: number;
  maxRetries: number;
  synRetries: number;
  delayedAckMs: number;
  keepAliveIdleMs: number;
  keepAliveIntervalMs: number;
  keepAliveProbes: number;
  ttl: number;
  windowScaling: boolean;
  windowScale: number;
  timestamps: boolean;
  sack: boolean;
  dsack: boolean;
  congestionControl: CongestionControlName;
  rack: boolean;
  prr: boolean;
  challengeAckLimit: number;
  synCookies: boolean;
  profile: StackProfile;
  hystart: boolean;
  /** Present only when configured, so a stack without it snapshots as before (default 2). */
  minTsoSegs?: number;
  /** Present only when configured (default false). */
  slowStartAfterIdle?: boolean;
}

/** The largest window a segment can carry without window scaling (RFC 9293 §3.1). */
export const MAX_WINDOW = 65_535;
/** RFC 7323 §2.3: the shift count is limited to 14. */
export const MAX_WSCALE = 14;
/** Default receive and send buffers (docs/decisions.md: "Buffers of 1 MiB"). */
export const DEFAULT_BUFFER_BYTES = 1_048_576;
/** IPv4 (20) + TCP (20) fixed headers: the MSS we announce is mtu - 40 (RFC 6691). */
export const IP_TCP_HEADER_BYTES = 40;
/** Smallest MSS we agree to use, whatever the peer announces (Linux TCP_MIN_MSS). */
export const MIN_MSS = 88;
/** RFC 9293 §3.7.1 / RFC 6691: the send MSS when the peer sent no MSS option. */
export const DEFAULT_PEER_MSS = 536;

function bool(name: string, value: boolean | undefined, dflt: boolean): boolean {
  const v = value ?? dflt;
  if (typeof v !== 'boolean') throw new StackError('EINVAL', `config.${name} must be a boolean, got ${String(value)}`);
  return v;
}

function int(name: string, value: number | undefined, dflt: number, min: number, max: number): number {
  const v = value ?? dflt;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new StackError('EINVAL', `config.${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return v;
}

export function resolveConfig(c: StackConfig): ResolvedConfig {
  if (c === null || typeof c !== 'object') throw new StackError('EINVAL', 'config must be an object');
  if (!Array.isArray(c.addresses) || c.addresses.length === 0) {
    throw new StackError('EINVAL', 'config.addresses must list at least one local IPv4 address');
  }
  for (const a of c.addresses) {
    if (!Number.isInteger(a) || a <= 0 || a > 0xffffffff) throw new StackError('EINVAL', `config.addresses: bad address ${String(a)}`);
  }
  if (!Number.isInteger(c.seed)) throw new StackError('EINVAL', `config.seed must be an integer, got ${String(c.seed)}`);
  const recvBufferBytes = int('recvBufferBytes', c.recvBufferBytes, DEFAULT_BUFFER_BYTES, 1, 1 << 30);
  const cc = c.congestionControl ?? 'cubic';
  if (cc !== 'cubic' && cc !== 'newreno') throw new StackError('EINVAL', `config.congestionControl must be 'cubic' or 'newreno', got ${String(c.congestionControl)}`);
  const profile = c.profile ?? 'rfc';
  if (!STACK_PROFILES.includes(profile)) throw new StackError('EINVAL', `config.profile must be 'rfc' or 'linux', got ${String(c.profile)}`);
  const rtoMinMs = int('rtoMinMs', c.rtoMinMs, 200, 1, 3_600_000);
  const rtoMaxMs = int('rtoMaxMs', c.rtoMaxMs, 120_000, rtoMinMs, 3_600_000);
  return {
    addresses: c.addresses.map((a) => a >>> 0),
    seed: c.seed >>> 0,
    mtu: int('mtu', c.mtu, 1500, 68 + 20, 65_535),
    mslMs: int('mslMs', c.mslMs, 30_000, 0, 3_600_000),
    sendBufferBytes: int('sendBufferBytes', c.sendBufferBytes, DEFAULT_BUFFER_BYTES, 1, 1 << 30),
    recvBufferBytes,
    reassemblyLimitBytes: int('reassemblyLimitBytes', c.reassemblyLimitBytes, recvBufferBytes, 0, 1 << 30),
    listenBacklog: int('listenBacklog', c.listenBacklog, 128, 1, 1 << 20),
    maxConnections: int('maxConnections', c.maxConnections, 10_000, 1, 1 << 24),
    rtoInitialMs: int('rtoInitialMs', c.rtoInitialMs, 1000, rtoMinMs, rtoMaxMs),
    rtoMinMs,
    rtoMaxMs,
    maxRetries: int('maxRetries', c.maxRetries, 15, 0, 1000),
    synRetries: int('synRetries', c.synRetries, 6, 0, 1000),
    // RFC 9293 §3.8.6.3 (MUST-40): the delay MUST be less than 0.5 s.
    delayedAckMs: int('delayedAckMs', c.delayedAckMs, 40, 0, 499),
    keepAliveIdleMs: int('keepAliveIdleMs', c.keepAliveIdleMs, 7_200_000, 1, 1 << 30),
    keepAliveIntervalMs: int('keepAliveIntervalMs', c.keepAliveIntervalMs, 75_000, 1, 1 << 30),
    keepAliveProbes: int('keepAliveProbes', c.keepAliveProbes, 9, 1, 1000),
    ttl: int('ttl', c.ttl, 64, 1, 255),
    windowScaling: bool('windowScaling', c.windowScaling, true),
    windowScale: int('windowScale', c.windowScale, 8, 0, MAX_WSCALE),
    timestamps: bool('timestamps', c.timestamps, true),
    sack: bool('sack', c.sack, true),
    dsack: bool('dsack', c.dsack, true),
    congestionControl: cc,
    rack: bool('rack', c.rack, true),
    prr: bool('prr', c.prr, true),
    challengeAckLimit: int('challengeAckLimit', c.challengeAckLimit, 1000, 0, 1 << 30),
    synCookies: bool('synCookies', c.synCookies, true),
    profile,
    hystart: bool('hystart', c.hystart, false),
    ...(c.minTsoSegs !== undefined ? { minTsoSegs: int('minTsoSegs', c.minTsoSegs, 2, 1, 255) } : {}),
    ...(c.slowStartAfterIdle !== undefined ? { slowStartAfterIdle: bool('slowStartAfterIdle', c.slowStartAfterIdle, false) } : {}),
  };
}
