/**
 * The frame every report page shares: one self-contained file, inline CSS (and script), and a
 * Content-Security-Policy of default-src 'none' so a browser fetches nothing for it.
 */
import { esc } from './svg.js';

const BASE_CSS = 'body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}';

/** `<!DOCTYPE html>` up to and including `<body ...>`. */
export function pageHead(title: string, css: string, bodyAttributes = ''): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title><style>${BASE_CSS}
${css}</style></head>
<body${bodyAttributes}>
<h1>${esc(title)}</h1>`;
}

/** The verdict table: a row per [name, value]. */
export function verdictTable(rows: ReadonlyArray<readonly [string, string]>): string {
  return `<table id="verdict">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}
