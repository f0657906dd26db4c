/**
 * A character scanner for the script parser: position tracking (line and column, 1-based),
 * comments (`//` to end of line, `/* ... *\/`), and the small lexical pieces of the
 * packetdrill dialect (numbers, words, integers). Errors name the line and column and say
 * what was expected and what was found.
 */
import type { SourcePos } from './script.js';

export class ParseError extends Error {
  readonly line: number;
  readonly column: number;
  /** The message without the position. */
  readonly detail: string;
  constructor(pos: SourcePos, detail: string) {
    super(`line ${pos.line}, column ${pos.column}: ${detail}`);
    this.name = 'ParseError';
    this.line = pos.line;
    this.column = pos.column;
    this.detail = detail;
  }
}

const WORD_START = /[A-Za-z_]/;
const WORD_CHAR = /[A-Za-z0-9_]/;
const DIGIT = /[0-9]/;

export class Scanner {
  private pos = 0;
  private lineNo = 1;
  private lineStart = 0;

  constructor(readonly text: string) {}

  get offset(): number {
    return this.pos;
  }

  here(): SourcePos {
    return { line: this.lineNo, column: this.pos - this.lineStart + 1 };
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(ahead = 0): string {
    return this.text[this.pos + ahead] ?? '';
  }

  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }

  /** Consume one character. */
  next(): string {
    const c = this.text[this.pos] ?? '';
    this.pos += 1;
    if (c === '\n') {
      this.lineNo += 1;
      this.lineStart = this.pos;
    }
    return c;
  }

  fail(detail: string, pos: SourcePos = this.here()): never {
    throw new ParseError(pos, detail);
  }

  /** Describe what is at the current position, for "expected X, found Y" messages. */
  describeHere(): string {
    if (this.atEnd()) return 'end of file';
    const c = this.peek();
    if (c === '\n' || c === '\r') return 'end of line';
    const rest = this.text.slice(this.pos, this.pos + 24);
    const token = /^[A-Za-z0-9_.]+/.exec(rest)?.[0] ?? c;
    return `'${token}'`;
  }

  expectedFail(what: string): never {
    return this.fail(`expected ${what}, found ${this.describeHere()}`);
  }

  /**
   * Skip spaces, tabs and comments. With `newlines`, line ends are skipped too. Returns
   * true if a line end was crossed (a block comment spanning lines counts).
   */
  skipSpace(newlines: boolean): boolean {
    let crossed = false;
    for (;;) {
      const c = this.peek();
      if (c === ' ' || c === '\t' || c === '\r') {
        this.next();
      } else if (c === '\n' && newlines) {
        this.next();
        crossed = true;
      } else if (c === '/' && this.peek(1) === '/') {
        while (!this.atEnd() && this.peek() !== '\n') this.next();
      } else if (c === '/' && this.peek(1) === '*') {
        const start = this.here();
        this.next();
        this.next();
        while (!this.startsWith('*/')) {
          if (this.atEnd()) this.fail("unterminated comment: '/*' has no matching '*/'", start);
          if (this.next() === '\n') crossed = true;
        }
        this.next();
        this.next();
      } else {
        return crossed;
      }
    }
  }

  /** Consume `s` if it is next. */
  accept(s: string): boolean {
    if (!this.startsWith(s)) return false;
    for (let i = 0; i < s.length; i++) this.next();
    return true;
  }

  expect(s: string, what = `'${s}'`): void {
    if (!this.accept(s)) this.expectedFail(what);
  }

  isWordStart(): boolean {
    return WORD_START.test(this.peek());
  }

  isDigit(ahead = 0): boolean {
    return DIGIT.test(this.peek(ahead));
  }

  /** A number starts here: a digit, or '.' then a digit. */
  isNumberStart(): boolean {
    return this.isDigit() || (this.peek() === '.' && this.isDigit(1));
  }

  readWord(what = 'a name'): string {
    if (!this.isWordStart()) this.expectedFail(what);
    let s = '';
    while (WORD_CHAR.test(this.peek())) s += this.next();
    return s;
  }

  /**
   * A time in seconds (`0`, `1.5`, `.1`, `0.100`), as integer microseconds. A '.' followed
   * by another '.' is not part of the number (`+.1...0.2`).
   */
  readSeconds(what = 'a time in seconds'): number {
    if (!this.isNumberStart()) this.expectedFail(what);
    const start = this.here();
    let intPart = '';
    while (this.isDigit()) intPart += this.next();
    let fracPart = '';
    if (this.peek() === '.' && this.peek(1) !== '.') {
      this.next();
      while (this.isDigit()) fracPart += this.next();
    }
    if (fracPart.length > 6 && /[1-9]/.test(fracPart.slice(6))) {
      this.fail(`time ${intPart}.${fracPart} has a resolution finer than 1 microsecond`, start);
    }
    const us = Number(intPart || '0') * 1_000_000 + Number((fracPart + '000000').slice(0, 6));
    if (!Number.isSafeInteger(us)) this.fail(`time ${intPart}.${fracPart} is too large`, start);
    return us;
  }

  /** A decimal or 0x-hex integer, optionally negative. */
  readInteger(what = 'an integer'): number {
    const start = this.here();
    const negative = this.peek() === '-' && this.isDigit(1);
    if (negative) this.next();
    if (!this.isDigit()) this.expectedFail(what);
    let text = '';
    if (this.peek() === '0' && (this.peek(1) === 'x' || this.peek(1) === 'X')) {
      this.next();
      this.next();
      while (/[0-9a-fA-F]/.test(this.peek())) text += this.next();
      if (text === '') this.fail('expected hex digits after 0x', start);
      text = `0x${text}`;
    } else {
      while (this.isDigit()) text += this.next();
    }
    if (WORD_CHAR.test(this.peek()) || (this.peek() === '.' && this.isDigit(1))) {
      this.fail(`expected ${what}, found '${text}${this.peek()}...'`, start);
    }
    const value = Number(text) * (negative ? -1 : 1);
    if (!Number.isSafeInteger(value)) this.fail(`integer ${text} is too large`, start);
    return value;
  }

  /** An integer in [min, max]; the message names the field. */
  readBounded(field: string, min: number, max: number): number {
    const start = this.here();
    const value = this.readInteger(`${field} (an integer)`);
    if (value < min || value > max) this.fail(`${field} must be from ${min} to ${max}, got ${value}`, start);
    return value;
  }

  /** The text of the current line from `offset` to its end, trimmed, comments left in. */
  lineTextFrom(offset: number): string {
    const end = this.text.indexOf('\n', offset);
    return this.text.slice(offset, end === -1 ? undefined : end).trim();
  }

  /** Skip to just after the end of the current line. */
  skipLine(): void {
    while (!this.atEnd() && this.peek() !== '\n') this.next();
    if (!this.atEnd()) this.next();
  }
}
