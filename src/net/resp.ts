/**
 * RESP, the Redis serialization protocol (version 2, what `redis-server` speaks to a client
 * that did not send HELLO 3): https://redis.io/docs/reference/protocol-spec/
 *
 *   +OK\r\n                 simple string        -ERR text\r\n   error
 *   :42\r\n                 integer              $3\r\nfoo\r\n  bulk string ($-1\r\n: nil)
 *   *2\r\n$3\r\nGET\r\n$1\r\nk\r\n                array (*-1\r\n: nil)
 *
 * A command is an array of bulk strings (encodeCommand), or an inline command: one line of
 * words (what a person types into telnet). Both directions arrive in pieces over TCP, so the
 * parsers here are incremental: feed bytes as they come, take whole values out. Used by the
 * Redis load client (redis-load.ts), the one-command-at-a-time sequencer of an upstream Redis
 * (resp-sequencer.ts) and the direct connections to a redis-server (redis-server.ts).
 */

export type RespValue =
  | { type: 'simple'; value: string }
  | { type: 'error'; value: string }
  | { type: 'integer'; value: number }
  | { type: 'bulk'; value: Uint8Array | null }
  | { type: 'array'; value: RespValue[] | null };

/** Malformed RESP: the stream cannot be parsed any further. */
export class RespError extends Error {}

const CR = 13;
const LF = 10;
const encoder = new TextEncoder();

/** `*N\r\n` then one bulk string per argument: how every Redis client sends a command. */
export function encodeCommand(args: ReadonlyArray<string | Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
  for (const a of args) {
    const bytes = typeof a === 'string' ? encoder.encode(a) : a;
    parts.push(encoder.encode(`$${bytes.length}\r\n`), bytes, encoder.encode('\r\n'));
  }
  return concatBytes(parts);
}

/** A value as a server writes it (tests, fakes). */
export function encodeValue(v: RespValue): Uint8Array {
  switch (v.type) {
    case 'simple':
      return encoder.encode(`+${v.value}\r\n`);
    case 'error':
      return encoder.encode(`-${v.value}\r\n`);
    case 'integer':
      return encoder.encode(`:${v.value}\r\n`);
    case 'bulk':
      return v.value === null ? encoder.encode('$-1\r\n') : concatBytes([encoder.encode(`$${v.value.length}\r\n`), v.value, encoder.encode('\r\n')]);
    case 'array':
      return v.value === null ? encoder.encode('*-1\r\n') : concatBytes([encoder.encode(`*${v.value.length}\r\n`), ...v.value.map(encodeValue)]);
  }
}

/** A bulk string's text (latin-1 is enough for what the load writes), or null. */
export function bulkText(v: RespValue): string | null {
  if (v.type !== 'bulk' || v.value === null) return null;
  return String.fromCharCode(...v.value);
}

/** One line for messages: `:7`, `+OK`, `$"v1"`, `-ERR ...`. */
export function describeValue(v: RespValue): string {
  switch (v.type) {
    case 'simple':
      return `+${v.value}`;
    case 'error':
      return `-${v.value}`;
    case 'integer':
      return `:${v.value}`;
    case 'bulk':
      return v.value === null ? '$nil' : `$${JSON.stringify(bulkText(v)!.slice(0, 40))}`;
    case 'array':
      return v.value === null ? '*nil' : `[${v.value.map(describeValue).join(', ')}]`;
  }
}

/** Position of the CR of the next CRLF at or after `from`, or -1 if not there yet. */
function lineEnd(buf: Uint8Array, from: number): number {
  for (let i = from; i + 1 < buf.length; i++) if (buf[i] === CR && buf[i + 1] === LF) return i;
  return -1;
}

function lineText(buf: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

function parseLength(text: string, what: string): number {
  if (!/^-?\d+$/.test(text)) throw new RespError(`bad ${what} length ${JSON.stringify(text.slice(0, 20))}`);
  const n = Number(text);
  if (n < -1 || n > 512 * 1024 * 1024) throw new RespError(`${what} length ${n} out of range`);
  return n;
}

/** One value starting at `pos`: the value and where the next one starts, or undefined if incomplete. */
export function parseValue(buf: Uint8Array, pos: number): { value: RespValue; end: number } | undefined {
  if (pos >= buf.length) return undefined;
  const eol = lineEnd(buf, pos + 1);
  if (eol < 0) return undefined;
  const text = lineText(buf, pos + 1, eol);
  const next = eol + 2;
  switch (buf[pos]) {
    case 0x2b: // '+'
      return { value: { type: 'simple', value: text }, end: next };
    case 0x2d: // '-'
      return { value: { type: 'error', value: text }, end: next };
    case 0x3a: // ':'
      if (!/^-?\d+$/.test(text)) throw new RespError(`bad integer ${JSON.stringify(text.slice(0, 20))}`);
      return { value: { type: 'integer', value: Number(text) }, end: next };
    case 0x24: {
      // '$'
      const n = parseLength(text, 'bulk');
      if (n === -1) return { value: { type: 'bulk', value: null }, end: next };
      if (buf.length < next + n + 2) return undefined;
      if (buf[next + n] !== CR || buf[next + n + 1] !== LF) throw new RespError('bulk string not followed by CRLF');
      return { value: { type: 'bulk', value: buf.slice(next, next + n) }, end: next + n + 2 };
    }
    case 0x2a: {
      // '*'
      const n = parseLength(text, 'array');
      if (n === -1) return { value: { type: 'array', value: null }, end: next };
      const items: RespValue[] = [];
      let at = next;
      for (let i = 0; i < n; i++) {
        const item = parseValue(buf, at);
        if (item === undefined) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: { type: 'array', value: items }, end: at };
    }
    default:
      throw new RespError(`unknown RESP type byte 0x${buf[pos]!.toString(16)}`);
  }
}

/** Bytes in, whole values out; keeps the incomplete tail. */
class Incremental<T> {
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;

  constructor(private readonly take: (buf: Uint8Array, pos: number) => { value: T; end: number } | undefined) {}

  /** Appends `data`; returns every value now complete, in order. Throws RespError on garbage. */
  push(data: Uint8Array): T[] {
    const rest = this.buf.subarray(this.pos);
    this.buf = rest.length === 0 ? data.slice() : concatBytes([rest, data]);
    this.pos = 0;
    const out: T[] = [];
    for (;;) {
      const r = this.take(this.buf, this.pos);
      if (r === undefined) return out;
      out.push(r.value);
      this.pos = r.end;
    }
  }

  /** Bytes of an incomplete value held back. */
  get pending(): number {
    return this.buf.length - this.pos;
  }

  /** The bytes held back (a partial value). */
  pendingBytes(): Uint8Array {
    return this.buf.slice(this.pos);
  }
}

/** Replies from a server, parsed as they arrive. */
export class RespReplyParser extends Incremental<RespValue> {
  constructor() {
    super(parseValue);
  }
}

/**
 * Commands from a client, split at their boundaries (the bytes of each whole command, as
 * sent): an array of bulk strings, or an inline command (a line ending in LF; the
 * server ignores empty ones, so they are kept with the command that follows).
 */
export class RespCommandSplitter extends Incremental<Uint8Array> {
  constructor() {
    super(splitCommand);
  }
}

function splitCommand(buf: Uint8Array, pos: number): { value: Uint8Array; end: number } | undefined {
  if (pos >= buf.length) return undefined;
  if (buf[pos] === 0x2a) {
    const r = parseValue(buf, pos);
    return r === undefined ? undefined : { value: buf.slice(pos, r.end), end: r.end };
  }
  // Inline: up to and including the next LF; blank lines are not commands (no reply).
  let at = pos;
  for (;;) {
    const lf = buf.indexOf(LF, at);
    if (lf < 0) return undefined;
    const line = lineText(buf, at, lf).replace(/\r$/, '');
    at = lf + 1;
    if (line.trim() !== '') return { value: buf.slice(pos, at), end: at };
    if (at >= buf.length) return undefined;
  }
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}
