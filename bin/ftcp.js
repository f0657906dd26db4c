#!/usr/bin/env node
// Entry point for the `ftcp` command. The TypeScript sources are compiled to dist/ by
// `npm ci` (the `prepare` script) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'main.js');
if (!existsSync(main)) {
  process.stderr.write(`ftcp: ${main} is missing; run \`npm run build\` (or \`npm ci\`) first.\n`);
  process.exit(2);
}
await import(pathToFileURL(main).href);
