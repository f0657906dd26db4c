/**
 * How help text is laid out at the width of an 80-column terminal (commander's own width
 * when the output is not a terminal).
 */
import type { AddHelpTextContext, Help } from 'commander';

export const HELP_WIDTH = 80;

/**
 * Descriptions are written with line breaks at about 100 columns; commander wraps each line
 * at the terminal's width (80 when not a terminal) and keeps the breaks, which leaves a
 * stub of two words after every long line. So help text is laid out here instead: the
 * lines of a paragraph are joined and filled to the width; an indented item whose text
 * starts after a term and two spaces ("  kill-primary   kill -9 of ...") is joined with its
 * continuation lines (indented to that text) and filled with a hanging indent; any other
 * indented line (an example) stays whole; blank lines stay.
 */
export function layOutHelp(text: string, width: number): string {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') {
      out.push('');
    } else if (!/^\s/.test(line)) {
      let joined = line;
      while (i + 1 < lines.length && lines[i + 1] !== '' && !/^\s/.test(lines[i + 1]!)) joined += ` ${lines[++i]!}`;
      out.push(...fill(joined, '', '', width));
    } else {
      const item = /^(\s+\S+\s{2,})(\S.*)$/.exec(line);
      if (item === null) {
        out.push(line); // an example: copied and pasted whole, never broken
        continue;
      }
      const hang = ' '.repeat(item[1]!.length);
      let joined = item[2]!;
      while (i + 1 < lines.length && lines[i + 1]!.startsWith(hang) && /^\S/.test(lines[i + 1]!.slice(hang.length))) joined += ` ${lines[++i]!.slice(hang.length)}`;
      out.push(...fill(joined, item[1]!, hang, width));
    }
  }
  return out.join('\n');
}

/**
 * Words of `text` in lines of at most `width` (a longer word gets a line of its own); a
 * command quoted in backticks counts as one word, so it is never broken.
 */
function fill(text: string, first: string, rest: string, width: number): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.match(/[^\s`]*`[^`]*`\S*|\S+/g) ?? []) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line);
      line = rest;
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines;
}

export function layingOutBoxWrap(this: Help, str: string, width: number): string {
  return width < this.minWidthToWrap ? str : layOutHelp(str, width);
}

/** Text after the options (exit codes, examples, notes), laid out like the description. */
export function helpAfter(text: string): (context: AddHelpTextContext) => string {
  return () => layOutHelp(text, HELP_WIDTH);
}
