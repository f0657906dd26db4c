/**
 * The whole-file check of a scenario (scenario.ts), before anything starts: every key, step
 * kind, replica name and event name is known, and a mistake is reported as
 * `file:line: what is wrong (did you mean X?)`. Line numbers come from the YAML parser's
 * source ranges (a JSON file is YAML too, so the same walk finds its lines).
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { REPLICA_EVENTS } from '../net/events.js';
import { suggestion } from './nearest-word.js';

/** A scenario file that is not valid: the message names the place and what is wrong. */
export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

/** `file:line` of the value at `path` (or of its key), or just `file` when it cannot be found. */
export type Locate = (path: ReadonlyArray<string | number>, key?: boolean) => string;

/** A Locate for a file's text. */
export function locator(text: string, file: string): Locate {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const start = (n: unknown): number | undefined => (typeof n === 'object' && n !== null && 'range' in n && Array.isArray(n.range) ? (n.range[0] as number) : undefined);
  return (path, key = false) => {
    let node: unknown = doc.contents;
    let offset = start(node);
    for (const [i, seg] of path.entries()) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair === undefined) break;
        if (key && i === path.length - 1) {
          offset = start(pair.key) ?? offset;
          break;
        }
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
      } else {
        break;
      }
      offset = start(node) ?? offset;
    }
    return offset === undefined ? file : `${file}:${lines.linePos(offset).line}`;
  };
}

export const TOP_KEYS = ['name', 'description', 'app', 'seed', 'heartbeatMs', 'failureTimeoutMs', 'unsafeNoOutputRule', 'bulkBytes', 'mtu', 'steps', 'client', 'kernelTool', 'tunMtu'] as const;
export const STEP_KINDS = ['start', 'load', 'wait', 'kill', 'stop', 'restart', 'partition', 'heal', 'expect'] as const;
export const EXPECT_CHECKS = ['streams', 'survivors', 'resets', 'splitBrain', 'live', 'fenced', 'stopped', 'counter', 'epochsGrantedOnce'] as const;
/** The keys of a step's mapping, by kind. */
const STEP_KEYS: Record<string, readonly string[]> = {
  start: ['replica', 'role', 'peer', 'logPeer', 'relay', 'alone'],
  load: ['connections', 'requests', 'thinkMs', 'timeoutMs'],
  wait: ['ms', 'event', 'replica', 'timeoutMs'],
  expect: EXPECT_CHECKS,
};
const WAIT_WORDS = ['mid-stream', 'load-done'];
/** What kill and stop take besides a replica's name. */
const PROCESS_WORDS = ['live', 'arbiter', 'switch'];
const EVENT_NAMES = Object.keys(REPLICA_EVENTS);

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Throws a ScenarioError at the first unknown key, step kind, replica name or event
 * name. Replica names are those of `start` steps earlier in the file; a peer may also be
 * one started later. The values' types and ranges are scenario.ts's parseScenario's.
 */
export function checkScenarioNames(doc: unknown, at: Locate): void {
  if (!isObj(doc)) return;
  const fail = (path: ReadonlyArray<string | number>, what: string, key = false): never => {
    throw new ScenarioError(`${at(path, key)}: ${what}`);
  };
  const known = (path: ReadonlyArray<string | number>, word: string, valid: readonly string[], what: string): void => {
    if (!valid.includes(word)) fail(path, `unknown ${what} ${JSON.stringify(word)} (${suggestion(word, valid)})`, true);
  };
  for (const k of Object.keys(doc)) known([k], k, TOP_KEYS, 'key');
  const steps = doc['steps'];
  if (!Array.isArray(steps)) return;
  const everyReplica = steps.flatMap((s) => (isObj(s) && isObj(s['start']) && typeof s['start']['replica'] === 'string' ? [s['start']['replica']] : []));
  const started: string[] = [];
  const name = (path: ReadonlyArray<string | number>, v: unknown, valid: readonly string[], what: string): void => {
    if (typeof v !== 'string' || valid.includes(v)) return;
    const hint = valid.length === 0 ? 'no replica is started before this step' : suggestion(v, valid);
    fail(path, `${what} ${JSON.stringify(v)} is not a replica started before this step (${hint})`);
  };
  for (const [i, raw] of steps.entries()) {
    if (!isObj(raw) || Object.keys(raw).length !== 1) continue;
    const [kind, v] = Object.entries(raw)[0]!;
    const here = ['steps', i, kind];
    known(['steps', i, kind], kind, STEP_KINDS, 'step');
    if (isObj(v)) for (const k of Object.keys(v)) known([...here, k], k, STEP_KEYS[kind] ?? [], kind === 'expect' ? 'check' : `key in ${kind}:`);
    switch (kind) {
      case 'start':
        if (!isObj(v)) break;
        name([...here, 'logPeer'], v['logPeer'], started, 'logPeer');
        if (typeof v['peer'] === 'string' && !everyReplica.includes(v['peer']) && v['alone'] !== true) {
          fail([...here, 'peer'], `peer ${JSON.stringify(v['peer'])} is started by no step (${everyReplica.length > 1 ? `${suggestion(v['peer'], everyReplica)}; ` : ''}a primary with no backup needs alone: true)`);
        }
        if (v['alone'] !== undefined && (v['alone'] !== true && v['alone'] !== false)) fail([...here, 'alone'], 'alone must be true or false');
        if (v['alone'] === true && v['role'] !== 'primary') fail([...here, 'alone'], `alone: true is for a primary (one that serves with no backup), not a ${String(v['role'])}`);
        if (typeof v['replica'] === 'string') started.push(v['replica']);
        break;
      case 'kill':
      case 'stop':
        if (typeof v === 'string' && v !== '' && !started.includes(v) && !PROCESS_WORDS.includes(v)) {
          fail(here, `${kind} ${JSON.stringify(v)}: not a replica started before this step, nor ${PROCESS_WORDS.join(', ')} (${suggestion(v, [...started, ...PROCESS_WORDS])})`);
        }
        break;
      case 'wait':
        if (typeof v === 'string') known(here, v, WAIT_WORDS, 'wait');
        if (isObj(v)) {
          if (typeof v['event'] === 'string') known([...here, 'event'], v['event'], EVENT_NAMES, 'event');
          name([...here, 'replica'], v['replica'], started, 'replica');
        }
        break;
      case 'expect':
        if (isObj(v)) for (const k of ['live', 'fenced', 'stopped']) name([...here, k], v[k], started, k);
        break;
    }
  }
}
