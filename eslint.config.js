// Lint rules. The important one: the deterministic layers (src/tcp, src/proxy,
// src/replica) must not reach the clock, timers, randomness or I/O. Time and seeds
// come in as arguments (DESIGN.md, "The determinism contract").
import tseslint from 'typescript-eslint';

const ioModules = [
  'fs', 'fs/promises', 'net', 'dgram', 'dns', 'http', 'https', 'http2', 'tls', 'child_process',
  'cluster', 'crypto', 'timers', 'timers/promises', 'perf_hooks', 'os', 'process', 'worker_threads',
  'readline', 'stream', 'events',
];
const forbiddenImportPaths = ioModules.flatMap((m) => [m, `node:${m}`]).map((name) => ({
  name,
  message: 'Deterministic layers take time, randomness and I/O as inputs (DESIGN.md determinism contract).',
}));
const forbiddenUpward = ['**/sim/**', '**/node/**', '**/net/**', '**/cli/**', '**/pcap/**', '**/conformance/**'];

const msg = 'Not allowed in a deterministic layer: time and randomness come in as arguments.';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'captures/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/tcp/**/*.ts', 'src/proxy/**/*.ts', 'src/replica/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: forbiddenImportPaths, patterns: [{ group: forbiddenUpward, message: 'Dependencies point down only (DESIGN.md, Layers).' }] }],
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: msg }, { name: 'setInterval', message: msg },
        { name: 'setImmediate', message: msg }, { name: 'clearTimeout', message: msg },
        { name: 'clearInterval', message: msg }, { name: 'queueMicrotask', message: msg },
        { name: 'performance', message: msg }, { name: 'crypto', message: msg },
        { name: 'process', message: msg }, { name: 'require', message: msg },
        { name: 'fetch', message: msg },
      ],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: msg },
        { object: 'Math', property: 'random', message: msg },
        { object: 'globalThis', property: 'setTimeout', message: msg },
      ],
      'no-restricted-syntax': ['error',
        { selector: "NewExpression[callee.name='Date']", message: msg },
        { selector: "ImportExpression", message: 'No dynamic imports in deterministic layers.' },
      ],
    },
  },
  {
    files: ['src/tcp/wire/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: forbiddenImportPaths, patterns: [{ group: ['../*', '!../wire/*'], message: 'src/tcp/wire depends on nothing.' }] }],
    },
  },
);
