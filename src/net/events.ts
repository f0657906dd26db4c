/**
 * The event lines child processes print with --json (one JSON object per line), typed
 * once: the replica host process (replica-host.ts, printed by `ftcp replica`), the switch,
 * the arbiter, the load client (`ftcp client`), the kernel's client and server
 * (`ftcp kernel-client`, `ftcp kernel-server`) and the supervisor of `ftcp serve`. Each kind is a field schema; its
 * TypeScript type is derived from it, so the emitter, the parser and the orchestrators
 * that read the lines (src/lab) agree on one definition.
 *
 * Some names are printed by more than one process with different fields (`started`,
 * `registered`, `listening`, `refused`, `stopped`, `result`): the union has one member
 * per process for those, told apart by their fields (a replica's lines all carry `name`
 * and `atMs`). parseChildEvent() checks a line against the schema and returns a reason
 * when it does not fit; it never throws.
 */

/** A field: a check of its value, and whether it may be absent. */
interface Field<T, Optional extends boolean = false> {
  readonly check: (v: unknown) => v is T;
  readonly what: string;
  readonly optional: Optional;
}
type Shape = Record<string, Field<unknown, boolean>>;
type TypeOf<F> = F extends Field<infer T, boolean> ? T : never;
type Simplify<T> = { -readonly [K in keyof T]: T[K] } & {};
/** The object type a shape describes: its optional fields optional. */
export type ShapeType<S extends Shape> = Simplify<
  { [K in keyof S as S[K] extends Field<unknown, true> ? never : K]: TypeOf<S[K]> } & { [K in keyof S as S[K] extends Field<unknown, true> ? K : never]?: TypeOf<S[K]> }
>;

function field<T>(what: string, check: (v: unknown) => boolean): Field<T> {
  return { what, check: check as (v: unknown) => v is T, optional: false };
}
const str = field<string>('a string', (v) => typeof v === 'string');
const num = field<number>('a number', (v) => typeof v === 'number');
const bool = field<boolean>('a boolean', (v) => typeof v === 'boolean');
const obj = field<Record<string, unknown>>('an object', (v) => typeof v === 'object' && v !== null && !Array.isArray(v));
/** An object whose fields nobody reads (a replication fault's mismatch details). */
const opaque = field<object>('an object', (v) => obj.check(v));
function oneOf<const T extends string>(...values: T[]): Field<T> {
  return field<T>(values.map((v) => JSON.stringify(v)).join(' or '), (v) => values.includes(v as T));
}
function nullable<T>(f: Field<T>): Field<T | null> {
  return field<T | null>(`${f.what} or null`, (v) => v === null || f.check(v));
}
function optional<T>(f: Field<T>): Field<T, true> {
  return { ...f, optional: true };
}
function arrayOf<T>(f: Field<T>): Field<T[]> {
  return field<T[]>(`an array of ${f.what}s`.replace(/ (a|an) (\w+)s$/, ' $2s'), (v) => Array.isArray(v) && v.every((x) => f.check(x)));
}
function shape<S extends Shape>(s: S): Field<ShapeType<S>> {
  return field<ShapeType<S>>(`{ ${Object.keys(s).join(', ')} }`, (v) => obj.check(v) && shapeProblem(s, v) === undefined);
}

/** An object with (at least) the fields of `s`; the others unknown. */
function openShape<S extends Shape>(s: S): Field<ShapeType<S> & Record<string, unknown>> {
  return shape(s) as Field<ShapeType<S> & Record<string, unknown>>;
}
function recordOf<T>(f: Field<T>): Field<Record<string, T>> {
  return field<Record<string, T>>(`an object of ${f.what}`, (v) => obj.check(v) && Object.values(v).every((x) => f.check(x)));
}

/** Why `v` does not fit `s` (the first field that does not), or undefined. */
function shapeProblem(s: Shape, v: Record<string, unknown>): string | undefined {
  for (const [k, f] of Object.entries(s)) {
    if (!(k in v) || v[k] === undefined) {
      if (f.optional) continue;
      return `${k} is missing`;
    }
    if (!f.check(v[k])) return `${k} is not ${f.what}: ${JSON.stringify(v[k])?.slice(0, 80)}`;
  }
  return undefined;
}

// ---- the replica host process (replica-host.ts; `exit` from `ftcp replica`) --------------

const epoch = { epoch: num };
const channel = oneOf('listen', 'dial');
const upload = shape({ conn: nullable(num), bytes: num, sha256: nullable(str) });

/** Fields of each replica event besides `event`, `name` (the replica's) and `atMs` (wall clock). */
export const REPLICA_EVENTS = {
  started: {
    role: oneOf('primary', 'backup', 'join'),
    peer: str,
    alone: bool,
    address: str,
    service: str,
    link: str,
    logListen: nullable(str),
    logListenPort: nullable(num),
    logPeer: nullable(str),
    app: str,
    upstream: nullable(str),
    seed: num,
    heartbeatMs: num,
    failureTimeoutMs: num,
    outputRule: bool,
    clusterKey: nullable(shape({ source: str, id: str })),
    captures: shape({ wire: nullable(str), shadow: nullable(str), log: nullable(str) }),
    pid: num,
  },
  replica: { role: str, epoch: num, peer: nullable(str) },
  superseded: epoch,
  'arbiter-error': { message: str },
  'arbiter-contact': { lastContactMs: num, held: num },
  'arbiter-fenced': { lastContactMs: num, held: num },
  'channel-up': { channel, peer: str },
  'channel-down': { channel, peer: str, reason: str },
  'channel-refused': { channel, peer: str, reason: str, count: num, message: str },
  'channel-connect-failed': { channel, message: str, attempt: num },
  announce: { epoch: num, service: str },
  registered: epoch,
  'announce-failed': { epoch: num, message: str },
  suspect: { epoch: num, silentMs: num, reason: oneOf('silence', 'channel-lost') },
  /** When the replica asked first, when the request answered was written, when the answer arrived (wall clock ms). */
  won: { epoch: num, askedAtMs: optional(num), sentAtMs: optional(num), answeredAtMs: optional(num) },
  lost: { epoch: num, winner: str },
  live: { epoch: num, r: num, lastIndex: num, reemitted: num, reemittedEntries: num, reason: oneOf('failover', 'switchover') },
  // planned switchover (switchover.ts)
  /** askedAtMs: when SIGTERM or `ftcp switchover` reached the process; queuedBytes: log-channel bytes queued ahead of the handover frame. */
  handover: { epoch: num, peer: str, r: num, lastIndex: num, held: num, by: str, askedAtMs: optional(num), queuedBytes: optional(num) },
  /** the backup: the primary's handover arrived, `behind` entries short of its last index */
  'handover-received': { epoch: num, lastIndex: num, behind: num },
  'taking-over': { epoch: num, lastIndex: num },
  'handed-over': { epoch: num, peer: str },
  'handover-failed': { epoch: num, peer: str, reason: str },
  'handover-refused': { message: str, by: str },
  'backup-joined': { peer: str, epoch: num, index: num, snapshotBytes: num },
  joined: { epoch: num, index: num },
  fault: { message: str, mismatch: opaque },
  rejected: { reason: str },
  divergence: { conn: num, offset: num, what: str },
  fenced: epoch,
  stopped: epoch,
  failed: epoch,
  /** a backup that heard nothing from its primary: it must be started with --role join */
  'wrong-role': { message: str },
  /** the peer on the log channel is configured differently (handshake-check.ts) */
  'config-mismatch': { peer: str, differences: arrayOf(str), message: str },
  /** the switch holds the service for a higher epoch than this replica ever had */
  'stale-epoch': { epoch: num, message: str },
  // joining with a state adapter (upstream-join.ts)
  'upstream-join-exported': { peer: str, index: nullable(num), pausedMs: num, queued: num, partial: num },
  'upstream-join-released': { peer: str, pausedMs: num },
  'upstream-imported': { importMs: num, conns: num, queued: num },
  'upstream-join-failed': { side: oneOf('primary', 'joiner'), message: str },
  /** The last line: why it ended, and its statistics (ReplicaProcess.stats()). */
  exit: { reason: str, stats: openShape({ bulkUploads: optional(recordOf(shape({ received: num, sha256: str }))) }) },
} as const satisfies Record<string, Shape>;

// ---- the other children -------------------------------------------------------------------

const clusterKey = nullable(shape({ source: str, id: str }));
const progress = { atMs: num, bytesReceived: num, settled: num };
/** `ftcp client --read-gaps`: the gaps between its reads (src/lab/read-gaps.ts). */
const gap = field<[number, number]>('a [from, to] pair of numbers', (v) => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number'));
const readGaps = shape({ thresholdMs: num, reads: num, firstMs: nullable(num), lastMs: nullable(num), gaps: arrayOf(gap), dropped: num });
/** What both load clients (ours and the kernel's) report at the end. */
const loadResult = {
  ok: bool,
  app: str,
  connections: num,
  streams: shape({ intact: num, broken: num }),
  resets: num,
  problems: arrayOf(str),
  counter: optional(shape({ count: num, consecutive: bool })),
  uploads: optional(arrayOf(upload)),
  duplicateSegmentsDropped: nullable(num),
  retransmits: nullable(num),
  stoppedBy: str,
  elapsedMs: num,
};

/** Events of the processes other than replicas, by process; each with its fields besides `event`. */
export const OTHER_EVENTS = {
  switch: {
    listening: { address: str, port: num, service: str, capture: nullable(str), static: arrayOf(str), clusterKey },
    registered: { address: str, epoch: num, host: str },
    moved: { address: str, epoch: num, from: str, fromEpoch: num, to: str },
    refused: { address: str, epoch: num, host: str, holderEpoch: num },
    'auth-refused': { reason: str, host: str, count: num, message: str },
    stopped: { signal: str, seconds: num, capture: nullable(str), stats: obj },
  },
  arbiter: {
    listening: { address: str, port: num, state: str, flags: arrayOf(obj), clusterKey },
    granted: { service: str, epoch: num, winner: str, persistUs: num, peer: str },
    answered: { service: str, epoch: num, asker: str, winner: str, peer: str },
    malformed: { reason: str, peer: str },
    refused: { reason: str, message: str, peer: str },
    stopped: { reason: str, seconds: num, stats: obj },
  },
  client: {
    started: { atMs: num, app: str, connections: num, link: str, pid: num },
    /** offset: where in its connection's stream the first byte read after the mark lies (`ftcp client`). */
    resumed: { atMs: num, offset: optional(num) },
    progress,
    result: { ...loadResult, bytesReceived: num, conns: arrayOf(obj), readGaps: optional(readGaps) },
  },
  'kernel-client': {
    started: { atMs: num, app: str, tool: str, connections: num, kernel: bool, pid: num },
    result: { ...loadResult, tool: str, atMs: num },
  },
  'kernel-server': {
    listening: { app: str, listen: str, pid: num },
    upload: { conn: num, bytes: num, sha256: str },
    stopped: { signal: str, connections: num },
  },
  /** The supervisor of `ftcp serve` (serve.ts), between the runs of its replica host, whose lines it prints too. */
  serve: {
    'serve-run': { name: str, atMs: num, role: oneOf('primary', 'join'), via: optional(str) },
    'serve-claim': { name: str, atMs: num, epoch: num, winner: nullable(str), won: optional(bool), message: optional(str) },
    'serve-restart': { name: str, atMs: num, reason: str, backoffMs: num },
    'serve-unreachable': { name: str, atMs: num, message: str },
    'serve-waiting': { name: str, atMs: num, winner: str, message: str },
    metrics: { name: str, listen: str },
  },
  /** What Child (src/lab/children.ts) makes of a line that is not an event: the line, and why. */
  child: {
    text: { text: str, reason: optional(str) },
  },
} as const satisfies Record<string, Record<string, Shape>>;

type ReplicaProcessEvents = typeof REPLICA_EVENTS;
type OtherEvents = typeof OTHER_EVENTS;
const replicaBase = { name: str, atMs: num };

export type ReplicaProcessEventName = keyof ReplicaProcessEvents;
/** One replica event: `event`, `name`, `atMs`, then its own fields. */
export type ReplicaProcessEventOf<K extends ReplicaProcessEventName> = K extends unknown ? Simplify<{ event: K } & ShapeType<typeof replicaBase> & ShapeType<ReplicaProcessEvents[K]>> : never;
/** The fields of replica event `K` besides `event`, `name` and `atMs`. */
export type ReplicaProcessEventFields<K extends ReplicaProcessEventName> = K extends unknown ? Omit<ReplicaProcessEventOf<K>, 'event' | 'name' | 'atMs'> : never;
/** Every line of the replica host process. */
export type ReplicaProcessEvent = { [K in ReplicaProcessEventName]: ReplicaProcessEventOf<K> }[ReplicaProcessEventName];

export type ChildProcessKind = keyof OtherEvents;
type OtherEventOf<P extends ChildProcessKind, K extends keyof OtherEvents[P]> = OtherEvents[P][K] extends Shape ? Simplify<{ event: K } & ShapeType<OtherEvents[P][K]>> : never;
type OtherEvent<P extends ChildProcessKind> = { [K in keyof OtherEvents[P]]: OtherEventOf<P, K> }[keyof OtherEvents[P]];
export type SwitchEventLine = OtherEvent<'switch'>;
export type ArbiterEventLine = OtherEvent<'arbiter'>;
export type ClientEventLine = OtherEvent<'client'> | OtherEvent<'kernel-client'>;
export type KernelServerEventLine = OtherEvent<'kernel-server'>;
export type ServeEventLine = OtherEvent<'serve'>;

/** A line may carry more fields than its schema names (a load result's per-client extras): those are unknown. */
type Open<T> = T extends unknown ? T & { readonly [field: string]: unknown } : never;
/** Every line a child process prints with --json, and Child's `text` for a line that is not one. */
export type ChildEvent = Open<ReplicaProcessEvent | SwitchEventLine | ArbiterEventLine | ClientEventLine | KernelServerEventLine | ServeEventLine | OtherEvent<'child'>>;
export type ChildEventName = ChildEvent['event'];
/** The members of the union named `K` (more than one for a name several processes print). */
export type EventOf<K extends ChildEventName> = Extract<ChildEvent, { event: K }>;
/** The client's last line (ours or the kernel's). */
export type ClientResult = EventOf<'result'>;

/** The candidate shapes of each event name, replica first. */
const SCHEMAS = new Map<string, Shape[]>();
for (const [k, s] of Object.entries(REPLICA_EVENTS)) SCHEMAS.set(k, [{ ...replicaBase, ...s }]);
for (const events of Object.values(OTHER_EVENTS)) for (const [k, s] of Object.entries(events)) SCHEMAS.set(k, [...(SCHEMAS.get(k) ?? []), s]);

export type ParsedChildEvent = { ok: true; event: ChildEvent } | { ok: false; reason: string };

/** Checks one object against the schema: the typed event, or why it is not one. */
export function checkChildEvent(v: unknown): ParsedChildEvent {
  if (!obj.check(v)) return { ok: false, reason: 'not a JSON object' };
  const name = v['event'];
  if (typeof name !== 'string') return { ok: false, reason: 'no "event" string' };
  const candidates = SCHEMAS.get(name);
  if (candidates === undefined) return { ok: false, reason: `unknown event ${JSON.stringify(name).slice(0, 80)}` };
  const problems: string[] = [];
  for (const s of candidates) {
    const problem = shapeProblem(s, v);
    if (problem === undefined) return { ok: true, event: v as ChildEvent };
    problems.push(problem);
  }
  return { ok: false, reason: `${name}: ${problems.join('; or ')}` };
}

/** One line of a child's stdout: the typed event, or why it is not one (never throws). */
export function parseChildEvent(line: string): ParsedChildEvent {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  return checkChildEvent(v);
}

/** A replica's line (every one carries the replica's name). */
export function isReplicaEvent(e: ChildEvent): e is Extract<ChildEvent, ReplicaProcessEvent> {
  return 'name' in e && typeof e.name === 'string' && 'atMs' in e;
}

/** The replica's line of kind `k`, or undefined (for finding a replica's `registered` or `stopped` among the other processes' lines of that name). */
export function replicaEvent<K extends ReplicaProcessEventName>(e: ChildEvent, k: K): Extract<ChildEvent, ReplicaProcessEventOf<K>> | undefined {
  return e.event === k && isReplicaEvent(e) ? (e as Extract<ChildEvent, ReplicaProcessEventOf<K>>) : undefined;
}
