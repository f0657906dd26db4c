// Lint rules. Two families:
//  - the layer table of docs/architecture.md: each folder of src/ may import only the
//    folders below it (no-restricted-imports patterns, one block per folder);
//  - the determinism contract: src/wire, src/tcp, src/proxy and src/replica never reach
//    the clock, timers, randomness or I/O. Time and seeds come in as arguments.
import tseslint from 'typescript-eslint';

const ioModules = [
  'fs', 'fs/promises', 'net', 'dgram', 'dns', 'http', 'https', 'http2', 'tls', 'child_process',
  'cluster', 'crypto', 'timers', 'timers/promises', 'perf_hooks', 'os', 'process', 'worker_threads',
  'readline', 'stream', 'events',
];
const ioPaths = ioModules.flatMap((m) => [m, `node:${m}`]).map((name) => ({
  name,
  message: 'Deterministic layers take time, randomness and I/O as inputs (docs/architecture.md, determinism).',
}));

/** Which folders of src/ each folder may import (besides itself). Keep in step with docs/architecture.md. */
export const LAYERS = {
  wire: [],
  tcp: ['wire'],
  proxy: ['tcp', 'wire'],
  replica: ['tcp', 'proxy', 'wire'],
  pcap: ['wire'],
  sim: ['wire', 'tcp', 'proxy', 'replica', 'pcap'],
  net: ['wire', 'tcp', 'proxy', 'replica', 'pcap'],
  lab: ['wire', 'tcp', 'proxy', 'replica', 'pcap', 'sim', 'net'],
  conformance: ['wire', 'tcp', 'sim', 'lab', 'pcap'],
  cli: ['wire', 'tcp', 'proxy', 'replica', 'pcap', 'sim', 'net', 'lab', 'conformance'],
};
const DETERMINISTIC = ['wire', 'tcp', 'proxy', 'replica'];

function layerRule(folder) {
  const forbidden = Object.keys(LAYERS).filter((f) => f !== folder && !LAYERS[folder].includes(f));
  const allowed = LAYERS[folder].length === 0 ? 'nothing' : LAYERS[folder].join(', ');
  const patterns = forbidden.length === 0 ? [] : [{
    // Any relative path that climbs into a forbidden folder: ../sim/x.js, ../../lab/y.js.
    group: forbidden.flatMap((f) => [`../${f}/**`, `../../${f}/**`, `../../../${f}/**`, `**/src/${f}/**`]),
    message: `src/${folder} may import only ${allowed} (docs/architecture.md, the layer table).`,
  }];
  return ['error', { paths: DETERMINISTIC.includes(folder) ? ioPaths : [], patterns }];
}

const msg = 'Not allowed in a deterministic layer: time and randomness come in as arguments.';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'captures/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...Object.keys(LAYERS).map((folder) => ({
    files: [`src/${folder}/**/*.ts`],
    rules: { 'no-restricted-imports': layerRule(folder) },
  })),
  {
    files: DETERMINISTIC.map((f) => `src/${f}/**/*.ts`),
    rules: {
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
        { selector: 'ImportExpression', message: 'No dynamic imports in deterministic layers.' },
      ],
    },
  },
);
