// The `ftcp` command lines a reader sees in the README and in help texts, extracted as
// argument lists (for test/docs/readme-commands.test.ts).

/** Splits one shell command line into words: quotes kept together, stopping at a pipe, `;`, `&`, `#` or a redirection. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else word = (word ?? '') + ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= '';
      continue;
    }
    if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
      continue;
    }
    if ('|;&#<>'.includes(ch) && word === undefined) break;
    if (ch === '>' && /^\d$/.test(word ?? '')) break; // 2>...
    word = (word ?? '') + ch;
  }
  if (word !== undefined) words.push(word);
  return words;
}

const FTCP = /(?:^|&&\s*|;\s*|^\$\s+|sudo\s+)((?:node\s+bin\/ftcp\.js|npx\s+ftcp|ftcp)\s.*)$/;

/** Every ftcp invocation in `text` (one per line, `\` continuations joined), as the words after `ftcp`. */
export function ftcpCommands(text: string, where: string): Array<{ where: string; line: string; args: string[] }> {
  const out: Array<{ where: string; line: string; args: string[] }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    const first = i + 1;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
    const body = line.trim().replace(/^\$\s+/, '');
    // each command of a chain (`cd x && ftcp ...`)
    for (const part of body.split(/\s*&&\s*/)) {
      const m = FTCP.exec(part.trim());
      if (m === null) continue;
      const words = shellWords(m[1]!.replace(/^(node\s+bin\/ftcp\.js|npx\s+ftcp|ftcp)\s/, ''));
      if (words.length === 0 || words.some((w) => w.includes('...') || /^[A-Z]+$/.test(w) || /^<.*>$/.test(w))) continue; // a synopsis, not a command
      out.push({ where: `${where}:${first}`, line: part.trim(), args: words });
    }
  }
  return out;
}

/** The fenced code blocks of a Markdown text, with the line each starts at. */
export function codeBlocks(markdown: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  const lines = markdown.split('\n');
  let start: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('```')) continue;
    if (start === undefined) start = i + 1;
    else {
      out.push({ line: start + 1, text: lines.slice(start, i).join('\n') });
      start = undefined;
    }
  }
  return out;
}
