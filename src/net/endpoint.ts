/**
 * Real-world addresses of the processes (HOST:PORT on the machine's loopback), and the
 * one-line explanations of the socket errors a person can fix (a port in use, an address
 * that is not local, a peer that is not there).
 *
 * These are the host's addresses, not the virtual 192.0.2.0/24 ones that travel inside
 * the UDP payloads (DESIGN.md, "Network").
 */
import { isIPv4 } from 'node:net';

export interface Endpoint {
  host: string;
  port: number;
}

export function formatEndpoint(e: Endpoint): string {
  return `${e.host}:${e.port}`;
}

/**
 * Parse "HOST:PORT" (IPv4 dotted quad or "localhost", port 0..65535; 0 = any free port
 * when listening). Throws RangeError with a message that repeats the text.
 */
export function parseEndpoint(text: string, opts: { allowPortZero?: boolean } = {}): Endpoint {
  const m = /^([^:\s]+):(\d{1,5})$/.exec(text.trim());
  if (!m) throw new RangeError(`expected HOST:PORT (e.g. 127.0.0.1:9400), got ${JSON.stringify(text)}`);
  const host = m[1] === 'localhost' ? '127.0.0.1' : m[1]!;
  if (!isIPv4(host)) throw new RangeError(`the host must be an IPv4 address such as 127.0.0.1, got ${JSON.stringify(m[1])}`);
  const port = Number(m[2]);
  const min = opts.allowPortZero === false ? 1 : 0;
  if (port < min || port > 65535) throw new RangeError(`the port must be ${min}..65535, got ${m[2]}`);
  return { host, port };
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** One line for a failed bind/listen on `e`, saying what to do. */
export function describeListenError(error: unknown, e: Endpoint, flag: string): string {
  const where = formatEndpoint(e);
  switch (errnoCode(error)) {
    case 'EADDRINUSE':
      return `${where} is already in use (another ftcp process?); stop it or pick a free port with ${flag} HOST:PORT (port 0 picks one)`;
    case 'EADDRNOTAVAIL':
      return `${e.host} is not an address of this machine; use ${flag} 127.0.0.1:PORT`;
    case 'EACCES':
    case 'EPERM':
      return `not allowed to listen on ${where} (ports below 1024 need root); pick a port above 1024 with ${flag} HOST:PORT`;
    default:
      return `cannot listen on ${where}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** One line for a failed connection to `e`, saying what to do. */
export function describeConnectError(error: unknown, e: Endpoint, what: string, flag: string): string {
  const where = formatEndpoint(e);
  switch (errnoCode(error)) {
    case 'ECONNREFUSED':
      return `nothing is listening at ${where}; start the ${what} first, or point ${flag} at it`;
    case 'ETIMEDOUT':
      return `the ${what} at ${where} did not answer in time; check that it is running and ${flag} is right`;
    case 'EADDRNOTAVAIL':
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return `${where} is unreachable from this machine; use ${flag} 127.0.0.1:PORT`;
    default:
      return `cannot reach the ${what} at ${where}: ${error instanceof Error ? error.message : String(error)}`;
  }
}
