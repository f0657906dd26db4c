/** IPv4 addresses as unsigned 32-bit numbers (network order value, e.g. 192.0.2.10 = 0xc000020a). */
export type Ipv4Addr = number;

/** Parse dotted-quad notation. Throws RangeError with the offending text on bad input. */
export function parseIpv4Addr(text: string): Ipv4Addr {
  const parts = text.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${JSON.stringify(text)}`);
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) throw new RangeError(`not an IPv4 address: ${JSON.stringify(text)}`);
    const octet = Number(part);
    if (octet > 255) throw new RangeError(`not an IPv4 address: ${JSON.stringify(text)}`);
    value = value * 256 + octet;
  }
  return value >>> 0;
}

export function formatIpv4Addr(addr: Ipv4Addr): string {
  return `${(addr >>> 24) & 255}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
}
