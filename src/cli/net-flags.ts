/**
 * Validation of the network flags shared by the process commands (switch, arbiter, and
 * later replica and client), in the style of validate.ts: the message names the flag,
 * says what is expected and repeats what was given.
 */
import { parseEndpoint, type Endpoint } from '../net/endpoint.js';
import { checkMtu } from '../net/udp-link.js';
import { parseIpv4Addr, type Ipv4Addr } from '../wire/addr.js';
import { UsageError } from './io.js';

/** HOST:PORT on this machine (IPv4); port 0 allowed when listening. */
/** Where a replica's or a client's UDP link to the switch binds by default: loopback, any free port. */
export const DEFAULT_LINK_BIND = '127.0.0.1:0';

export function parseEndpointFlag(flag: string, text: string, opts: { allowPortZero?: boolean } = {}): Endpoint {
  try {
    return parseEndpoint(text, opts);
  } catch (error) {
    throw new UsageError(`${flag}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A virtual IPv4 address (dotted quad), e.g. the service address 192.0.2.10. */
export function parseVirtualAddressFlag(flag: string, text: string): Ipv4Addr {
  try {
    return parseIpv4Addr(text.trim());
  } catch {
    throw new UsageError(`${flag} must be an IPv4 address such as 192.0.2.10, got ${text}`);
  }
}

export function parseMtuFlag(flag: string, text: string): number {
  const t = text.trim();
  const value = /^\d+$/.test(t) ? Number(t) : NaN;
  try {
    return checkMtu(value);
  } catch (error) {
    throw new UsageError(`${flag}: ${error instanceof Error ? error.message.replace(/, got .*$/, '') : String(error)}, got ${text}`);
  }
}
