/**
 * Scenario files (`ftcp scenario run FILE`): a scripted failover demo with real processes,
 * as timed steps in YAML or JSON (DESIGN.md, "Who uses it", 3). parseScenario() checks the
 * whole file before anything starts; runScenario() runs it on a LiveCluster and checks the
 * expectations.
 *
 *   name: plain failover
 *   app: counter            # echo | counter | kv | bulk
 *   seed: 1
 *   heartbeatMs: 10         # default 10; failureTimeoutMs default 50
 *   mtu: 1500               # the replicas' and client's link MTU (default 1500, as the demo)
 *   steps:
 *     - start: network                                  # arbiter + switch
 *     - start: { replica: a, role: primary, peer: b }   # alone: true serves with no backup
 *     - start: { replica: b, role: backup, peer: a, logPeer: a, relay: true }
 *     - load: { connections: 3, requests: 100-150, thinkMs: 5-15 }
 *     - wait: mid-stream       # or load-done, a number of ms, or { event: live, replica: b }
 *     - kill: a                # kill -9: a replica, "live" (the service holder) or "arbiter"
 *     - partition: log         # partition the relay between b and its primary (no FIN or RST); heal: log
 *     - stop: arbiter          # SIGTERM; restart: arbiter (same port, same state file)
 *     - expect: { streams: intact, resets: 0, splitBrain: 0, live: b, counter: consecutive }
 *
 * `client: kernel` (or `ftcp scenario run --client kernel`) makes the load's
 * connections the Linux kernel's own sockets, through socat's TUN device in a network
 * namespace (the CLI makes it and runs the scenario inside; this file gets the kernel side
 * as a ScenarioKernel). `kernelTool: node | nc` picks the client (nc: echo only);
 * `tunMtu` the device's MTU.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { APP_NAMES, type AppName } from '../proxy/app.js';
import type { Child } from './children.js';
import { replicaEvent, type ChildEvent } from '../net/events.js';
import { claimsByEpoch, splitBrainEpochs as splitBrainEpochsOf, streamsIntact } from '../replica/run-checks.js';
import { wallClockMs } from '../net/clock.js';
import { DEMO_MTU, LiveCluster, readWireView, splitBrainEpochs, timelineText, type LiveClusterOptions } from './live-cluster.js';
import type { LoadShape } from './launch.js';
import { MIN_MTU } from '../net/udp-link.js';
import { MAX_LOGGED_PACKET_BYTES } from '../replica/primary.js';
import { TcpRelay } from './tcp-relay.js';
import { KERNEL_TOOLS, TOOL_APPS, type KernelTool } from './kernel-tools.js';
import { checkScenarioNames, EXPECT_CHECKS, locator, ScenarioError, type Locate } from './scenario-schema.js';

export type ScenarioStep =
  | { kind: 'start-network' }
  | { kind: 'start-replica'; replica: string; role: 'primary' | 'backup' | 'join'; peer: string; logPeer?: string; relay: boolean; alone: boolean }
  | { kind: 'load'; connections: number; requests?: string; thinkMs?: string; timeoutMs: number }
  | { kind: 'wait-ms'; ms: number }
  | { kind: 'wait-mid-stream'; timeoutMs: number }
  | { kind: 'wait-load-done'; timeoutMs: number }
  | { kind: 'wait-event'; replica: string; event: string; timeoutMs: number }
  | { kind: 'kill'; target: string }
  | { kind: 'stop'; target: string }
  | { kind: 'restart-arbiter' }
  | { kind: 'partition' }
  | { kind: 'heal' }
  | { kind: 'expect'; checks: ScenarioExpect };

export interface ScenarioExpect {
  /** intact: every stream arrived exactly; broken: at least one did not (the unsafe mode's lesson). */
  streams?: 'intact' | 'broken';
  /** How many of the replicas started are still running (not killed, fenced or stopped). */
  survivors?: number;
  resets?: number;
  splitBrain?: number;
  live?: string;
  fenced?: string;
  stopped?: string;
  counter?: 'consecutive';
  /** No epoch was won by two replicas (the arbiter never granted one twice). */
  epochsGrantedOnce?: boolean;
}

export interface Scenario {
  name: string;
  app: AppName;
  seed: number;
  heartbeatMs: number;
  failureTimeoutMs: number;
  unsafeNoOutputRule: boolean;
  bulkBytes: number;
  /** The replicas' and the client's link MTU (MSS = mtu - 40); 1500 as the demo. */
  mtu: number;
  steps: Array<{ line: string; step: ScenarioStep }>;
  // ---- the kernel as the client ----
  client: 'ftcp' | 'kernel';
  /** The kernel client (kernel-tools.ts): node, or nc for echo. */
  kernelTool: KernelTool;
  tunMtu: number;
}

/**
 * The kernel side of a `client: kernel` run, made by the CLI inside the namespace: the
 * switch's extra flags, the TUN bridge started once the switch is up, the load client
 * started in place of `ftcp client`, and the report (nstat, tcpdump) when it stops.
 */
export interface ScenarioKernel {
  switchOptions: LiveClusterOptions['switchOptions'];
  start(switchPort: number, dir: string): Promise<string>;
  startClient(children: LiveCluster['children'], load: LoadShape): Promise<Child>;
  stop(): Promise<{ resets: { fromKernel: number; toKernel: number } | null } & Record<string, unknown>>;
}

export { ScenarioError };

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Reads and checks a scenario file (.json, or YAML for anything else). */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ScenarioError(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let doc: unknown;
  try {
    doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ScenarioError(`${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
  const at = locator(text, path);
  checkScenarioNames(doc, at);
  return parseScenario(doc, path, at);
}

/** Checks a parsed scenario's values; `at` gives the file:line of a key (loadScenario). */
export function parseScenario(doc: unknown, where = 'scenario', at: Locate = () => where): Scenario {
  if (!isObj(doc)) throw new ScenarioError(`${where}: expected a mapping with name, app and steps`);
  const num = (k: string, dflt: number, min = 0): number => {
    const v = doc[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new ScenarioError(`${at([k])}: ${k} must be a number >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  };
  const app = doc['app'] ?? 'counter';
  if (typeof app !== 'string' || !(APP_NAMES as readonly string[]).includes(app)) throw new ScenarioError(`${at(['app'])}: app must be one of ${APP_NAMES.join(', ')}, got ${JSON.stringify(app)}`);
  if (!Array.isArray(doc['steps']) || doc['steps'].length === 0) throw new ScenarioError(`${where}: steps must be a non-empty list`);
  const heartbeatMs = num('heartbeatMs', 10, 1);
  const failureTimeoutMs = num('failureTimeoutMs', 50, 1);
  if (failureTimeoutMs <= heartbeatMs) throw new ScenarioError(`${where}: failureTimeoutMs (${failureTimeoutMs}) must be longer than heartbeatMs (${heartbeatMs})`);
  const steps = doc['steps'].map((raw: unknown, i: number) => {
    const line = `step ${i + 1} (${JSON.stringify(raw)})`;
    return { line, step: parseStep(raw, `${at(['steps', i])}: ${line}`) };
  });
  return {
    name: typeof doc['name'] === 'string' ? doc['name'] : where,
    app: app as AppName,
    seed: num('seed', 1),
    heartbeatMs,
    failureTimeoutMs,
    unsafeNoOutputRule: doc['unsafeNoOutputRule'] === true,
    bulkBytes: num('bulkBytes', 500_000, 1),
    mtu: scenarioMtu(num('mtu', DEMO_MTU, MIN_MTU), where),
    steps,
    ...parseKernelSettings(doc, app as AppName, where, num),
  };
}

function scenarioMtu(mtu: number, where: string): number {
  if (!Number.isInteger(mtu) || mtu > MAX_LOGGED_PACKET_BYTES) throw new ScenarioError(`${where}: mtu must be an integer from ${MIN_MTU} to ${MAX_LOGGED_PACKET_BYTES}, got ${mtu}`);
  return mtu;
}

/** `client`, `kernelTool` and `tunMtu`. */
function parseKernelSettings(doc: Obj, app: AppName, where: string, num: (k: string, dflt: number, min?: number) => number): Pick<Scenario, 'client' | 'kernelTool' | 'tunMtu'> {
  const client = doc['client'] ?? 'ftcp';
  if (client !== 'ftcp' && client !== 'kernel') throw new ScenarioError(`${where}: client must be ftcp or kernel, got ${JSON.stringify(client)}`);
  const tool = doc['kernelTool'] ?? 'node';
  if (typeof tool !== 'string' || !(KERNEL_TOOLS as readonly string[]).includes(tool) || tool === 'curl') throw new ScenarioError(`${where}: kernelTool must be node or nc, got ${JSON.stringify(tool)}`);
  if (tool === 'nc' && app !== TOOL_APPS.nc) throw new ScenarioError(`${where}: kernelTool nc speaks the echo app only, not ${app}`);
  const tunMtu = num('tunMtu', 1500, 576);
  if (!Number.isInteger(tunMtu) || tunMtu > 65_000) throw new ScenarioError(`${where}: tunMtu must be an integer from 576 to 65000, got ${tunMtu}`);
  return { client, kernelTool: tool as KernelTool, tunMtu };
}

function parseStep(raw: unknown, where: string): ScenarioStep {
  if (!isObj(raw) || Object.keys(raw).length !== 1) throw new ScenarioError(`${where}: a step is a mapping with one key (start, load, wait, kill, stop, restart, partition, heal, expect)`);
  const [key, v] = Object.entries(raw)[0]!;
  const fail = (what: string): never => {
    throw new ScenarioError(`${where}: ${what}`);
  };
  const str = (o: Obj, k: string, required = true): string | undefined => {
    const x = o[k];
    if (x === undefined && !required) return undefined;
    if (typeof x !== 'string' || x === '') return fail(`${k} must be a name`);
    return x;
  };
  const range = (x: unknown, k: string): string | undefined => {
    if (x === undefined) return undefined;
    if (typeof x === 'number') return String(x);
    if (typeof x !== 'string' || !/^\d+(-\d+)?$/.test(x)) return fail(`${k} must be N or MIN-MAX`);
    return x;
  };
  const timeout = (o: unknown): number => (isObj(o) && typeof o['timeoutMs'] === 'number' ? o['timeoutMs'] : 60_000);
  switch (key) {
    case 'start': {
      if (v === 'network') return { kind: 'start-network' };
      if (!isObj(v)) return fail('start takes "network" or { replica, role, peer, logPeer, relay }');
      const role = v['role'];
      if (role !== 'primary' && role !== 'backup' && role !== 'join') return fail('role must be primary, backup or join');
      const replica = str(v, 'replica')!;
      const logPeer = str(v, 'logPeer', false);
      if (role !== 'primary' && logPeer === undefined) fail(`a ${role} needs logPeer: the replica whose log channel it dials`);
      return { kind: 'start-replica', replica, role, peer: str(v, 'peer', role === 'join') ?? (role === 'primary' ? 'b' : 'a'), ...(logPeer !== undefined ? { logPeer } : {}), relay: v['relay'] === true, alone: v['alone'] === true };
    }
    case 'load': {
      const o = isObj(v) ? v : {};
      const connections = o['connections'] ?? 3;
      if (typeof connections !== 'number' || !Number.isInteger(connections) || connections < 1 || connections > 1000) return fail('connections must be 1..1000');
      const requests = range(o['requests'], 'requests');
      const thinkMs = range(o['thinkMs'], 'thinkMs');
      return { kind: 'load', connections, ...(requests !== undefined ? { requests } : {}), ...(thinkMs !== undefined ? { thinkMs } : {}), timeoutMs: typeof o['timeoutMs'] === 'number' ? o['timeoutMs'] : 120_000 };
    }
    case 'wait':
      if (typeof v === 'number' && v >= 0) return { kind: 'wait-ms', ms: v };
      if (v === 'mid-stream') return { kind: 'wait-mid-stream', timeoutMs: 60_000 };
      if (v === 'load-done') return { kind: 'wait-load-done', timeoutMs: 180_000 };
      if (isObj(v) && typeof v['ms'] === 'number') return { kind: 'wait-ms', ms: v['ms'] };
      if (isObj(v) && typeof v['event'] === 'string') return { kind: 'wait-event', replica: str(v, 'replica')!, event: v['event'], timeoutMs: timeout(v) };
      return fail('wait takes a number of ms, mid-stream, load-done, or { event, replica, timeoutMs }');
    case 'kill':
    case 'stop':
      if (typeof v !== 'string' || v === '') return fail(`${key} takes a replica name, "live" or "arbiter"`);
      return { kind: key, target: v };
    case 'restart':
      if (v !== 'arbiter') return fail('restart takes "arbiter"');
      return { kind: 'restart-arbiter' };
    case 'partition':
    case 'heal':
      if (v !== 'log') return fail(`${key} takes "log" (the relay between a backup started with relay: true and its primary)`);
      return { kind: key };
    case 'expect': {
      if (!isObj(v)) return fail('expect takes a mapping of checks');
      for (const k of Object.keys(v)) if (!(EXPECT_CHECKS as readonly string[]).includes(k)) fail(`unknown check ${k} (known: ${EXPECT_CHECKS.join(', ')})`);
      if (v['streams'] !== undefined && v['streams'] !== 'intact' && v['streams'] !== 'broken') fail('streams: "intact" or "broken"');
      if (v['counter'] !== undefined && v['counter'] !== 'consecutive') fail('counter: the only check is "consecutive"');
      for (const k of ['resets', 'splitBrain', 'survivors']) if (v[k] !== undefined && typeof v[k] !== 'number') fail(`${k} must be a number`);
      return { kind: 'expect', checks: v as ScenarioExpect };
    }
    default:
      return fail(`unknown step ${JSON.stringify(key)}`);
  }
}

export interface ScenarioResult {
  ok: boolean;
  name: string;
  /** The expectations, each with its verdict. */
  checks: Array<{ step: number; check: string; ok: boolean; detail: string }>;
  /** A step that could not be carried out (a child that did not start, a timeout). */
  error?: string;
  timeline: Array<{ ms: number; text: string }>;
  dir: string;
  /** with the kernel as the client, its counters and capture (KernelReport). */
  client: 'ftcp' | 'kernel';
  kernel?: Record<string, unknown>;
}

/** Runs a scenario in `dir`; `say` gets each timeline line as it happens. */
export async function runScenario(s: Scenario, dir: string, say: (ms: number, text: string) => void, kernel?: ScenarioKernel, abort?: AbortSignal): Promise<ScenarioResult> {
  if (s.client === 'kernel' && kernel === undefined) throw new ScenarioError('client: kernel needs the kernel side (run it with ftcp scenario run, as root)');
  const t0 = wallClockMs();
  const timeline: ScenarioResult['timeline'] = [];
  const note = (text: string, atMs = wallClockMs()) => {
    const ms = Math.max(0, Math.round(atMs - t0));
    timeline.push({ ms, text });
    say(ms, text);
  };
  let connections = 3;
  let holder: string | undefined;
  const onEvent = (label: string, e: ChildEvent) => {
    const registered = label.startsWith('replica ') ? replicaEvent(e, 'registered') : undefined;
    if (registered !== undefined) holder = registered.name;
    const text = timelineText(label, e, connections);
    if (text !== undefined && !(label === 'client' && e.event === 'progress')) note(text, typeof e['atMs'] === 'number' ? e['atMs'] : wallClockMs());
  };
  const cluster = new LiveCluster({ dir, app: s.app, seed: s.seed, bulkBytes: s.bulkBytes, heartbeatMs: s.heartbeatMs, failureTimeoutMs: s.failureTimeoutMs, unsafeNoOutputRule: s.unsafeNoOutputRule, mtu: s.mtu, onEvent, ...(kernel !== undefined ? { switchOptions: kernel.switchOptions } : {}) });
  const checks: ScenarioResult['checks'] = [];
  let relay: TcpRelay | undefined;
  let client: Child | undefined;
  let error: string | undefined;
  const replica = (name: string): Child => {
    const c = cluster.replicas.get(name);
    if (c === undefined) throw new ScenarioError(`no replica ${name} was started`);
    return c;
  };
  const clientResult = async (timeoutMs: number) => {
    if (client === undefined) throw new ScenarioError('no load was started');
    return client.waitFor((e) => e.event === 'result', timeoutMs, 'the load\'s result');
  };
  // Interrupted (SIGINT/SIGTERM in the CLI): every child is stopped, so the step waiting on one fails at once.
  const onAbort = () => {
    note(`interrupted by ${String(abort?.reason)}: stopping every child`);
    void cluster.stop();
  };
  abort?.addEventListener('abort', onAbort, { once: true });
  try {
    for (const [i, { line, step }] of s.steps.entries()) {
      if (abort?.aborted === true) throw new ScenarioError(`interrupted by ${String(abort.reason)} before ${line}`);
      switch (step.kind) {
        case 'start-network':
          await cluster.startNetwork();
          note(`arbiter on 127.0.0.1:${cluster.arbiterPort}, switch on 127.0.0.1:${cluster.switchPort}`);
          if (kernel !== undefined) note(await kernel.start(cluster.switchPort, dir));
          break;
        case 'start-replica': {
          let port: number | undefined;
          if (step.relay) {
            const target = cluster.logPorts.get(step.logPeer ?? '');
            if (target === undefined) throw new ScenarioError(`${line}: no log port known for ${step.logPeer}`);
            relay = await TcpRelay.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: target });
            port = relay.local.port;
          }
          const c = await cluster.startReplica(step.replica, step.role, step.peer, step.relay ? undefined : step.logPeer, step.alone ? { alone: true } : {}, port);
          note(`replica ${step.replica} started as ${step.role}${step.alone ? ' serving alone' : ''} (pid ${c.pid})${step.logPeer !== undefined ? `, dialling ${step.logPeer}${step.relay ? ' through a relay' : ''}` : ''}`);
          break;
        }
        case 'load': {
          connections = step.connections;
          // The service address must be held before the clients connect.
          const deadline = wallClockMs() + 30_000;
          while (holder === undefined && wallClockMs() < deadline) await new Promise((r) => setTimeout(r, 20));
          const load: LoadShape = { connections: step.connections, progressMs: 20, timeoutMs: step.timeoutMs, ...(step.requests !== undefined ? { requests: step.requests } : {}), ...(step.thinkMs !== undefined ? { thinkMs: step.thinkMs } : {}) };
          client = kernel !== undefined ? await kernel.startClient(cluster.children, load) : await cluster.startClient('client', load);
          note(`client started: ${step.connections} ${s.app} connection(s)${kernel !== undefined ? ` on the kernel's TCP (${s.kernelTool})` : ''}`);
          break;
        }
        case 'wait-ms':
          await new Promise((r) => setTimeout(r, step.ms));
          break;
        case 'wait-mid-stream':
          if (client === undefined) throw new ScenarioError(`${line}: no load was started`);
          await client.waitFor((e) => e.event === 'progress' && e.bytesReceived > 0 && e.settled === 0, step.timeoutMs, 'the middle of the load');
          break;
        case 'wait-load-done':
          await clientResult(step.timeoutMs);
          break;
        case 'wait-event':
          await replica(step.replica).waitFor((e) => e.event === step.event, step.timeoutMs, `event ${step.event}`);
          break;
        case 'kill':
        case 'stop': {
          const target = step.target === 'live' ? holder : step.target;
          if (target === undefined) throw new ScenarioError(`${line}: no replica holds the service address`);
          const c = target === 'arbiter' ? cluster.arbiter : target === 'switch' ? cluster.switch : replica(target);
          if (step.kind === 'kill') {
            c.signal('SIGKILL');
            note(`kill -9 ${target === 'arbiter' ? 'the arbiter' : `replica ${target}`} (pid ${c.pid})`);
            await c.exited;
          } else {
            note(`stop ${target === 'arbiter' ? 'the arbiter' : `replica ${target}`} (SIGTERM, pid ${c.pid})`);
            await c.stop();
          }
          break;
        }
        case 'restart-arbiter':
          await cluster.restartArbiter();
          note(`arbiter restarted on 127.0.0.1:${cluster.arbiterPort} with its state file (pid ${cluster.arbiter.pid})`);
          break;
        case 'partition':
        case 'heal':
          if (relay === undefined) throw new ScenarioError(`${line}: no replica was started with relay: true`);
          // A partition closes nothing (the replicas would take a closed channel for a dead peer).
          if (step.kind === 'partition') relay.partition();
          else relay.heal();
          note(step.kind === 'partition' ? 'the log channel is cut' : 'the log channel is healed');
          break;
        case 'expect':
          for (const c of await evaluate(step.checks)) checks.push({ step: i + 1, ...c });
          break;
      }
    }
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
    note(`error: ${error}`);
  } finally {
    if (abort?.aborted === true) error ??= `interrupted by ${String(abort.reason)}`;
    abort?.removeEventListener('abort', onAbort);
    await relay?.close();
    await cluster.stop();
  }
  // a RST on the TUN device backs up every `resets: 0` the file expects (nc cannot say).
  const kernelReport = kernel !== undefined ? await kernel.stop() : undefined;
  const rst = kernelReport?.resets;
  if (rst !== undefined && rst !== null) {
    for (const [i, { step }] of s.steps.entries()) {
      if (step.kind !== 'expect' || step.checks.resets !== 0) continue;
      const ok = rst.fromKernel + rst.toKernel === 0;
      const detail = `${rst.fromKernel} RST segment(s) from the kernel, ${rst.toKernel} to it on the TUN device`;
      checks.push({ step: i + 1, check: 'resets: 0 (on the wire)', ok, detail });
      note(`expect resets: 0 (on the wire): ${ok ? 'ok' : 'FAILED'} (${detail})`);
    }
  }
  return { ok: error === undefined && checks.every((c) => c.ok), name: s.name, checks, ...(error !== undefined ? { error } : {}), timeline, dir, client: s.client, ...(kernelReport !== undefined ? { kernel: kernelReport } : {}) };

  async function evaluate(x: ScenarioExpect): Promise<Array<{ check: string; ok: boolean; detail: string }>> {
    const out: Array<{ check: string; ok: boolean; detail: string }> = [];
    const push = (check: string, ok: boolean, detail: string) => {
      out.push({ check, ok, detail });
      note(`expect ${check}: ${ok ? 'ok' : 'FAILED'} (${detail})`);
    };
    if (x.streams !== undefined || x.resets !== undefined || x.counter !== undefined) {
      const r = await clientResult(180_000);
      const streams = r.streams;
      const detail = `${streams.intact} intact, ${streams.broken} broken${r.problems.length > 0 ? `: ${r.problems[0]}` : ''}`;
      if (x.streams === 'intact') push('streams: intact', streamsIntact(streams), detail);
      if (x.streams === 'broken') push('streams: broken', streams.broken > 0, detail);
      if (x.resets !== undefined) push(`resets: ${x.resets}`, r.resets === x.resets, `${r.resets} reset(s)`);
      if (x.counter !== undefined) {
        const c = r.counter;
        push('counter: consecutive', c?.consecutive === true, c === undefined ? 'not a counter load' : `${c.count} answers${c.consecutive ? ', exactly 1..n' : ', not consecutive'}`);
      }
    }
    if (x.splitBrain !== undefined) {
      const views = [...cluster.replicas.keys()].map((n) => readWireView(cluster.capturePaths(n).wire));
      const split = splitBrainEpochs(views);
      push(`splitBrain: ${x.splitBrain}`, split.length === x.splitBrain, split.length === 0 ? 'no epoch with two live replicas' : `epoch(s) ${split.join(', ')}`);
    }
    if (x.survivors !== undefined) {
      // Give a loser time to act on its verdict and exit.
      await new Promise((r) => setTimeout(r, 200));
      const running = [...cluster.replicas].filter(([, c]) => c.running).map(([n]) => n);
      push(`survivors: ${x.survivors}`, running.length === x.survivors, `running: ${running.join(', ') || 'none'}`);
    }
    if (x.live !== undefined) {
      const c = cluster.replicas.get(x.live);
      push(`live: ${x.live}`, c !== undefined && c.running && holder === x.live, `the service address is held by ${holder ?? 'nobody'}${c?.running === false ? `; ${x.live} has exited` : ''}`);
    }
    for (const k of ['fenced', 'stopped'] as const) {
      const name = x[k];
      if (name === undefined) continue;
      const c = cluster.replicas.get(name);
      if (c !== undefined && c.running) await c.exited.catch(() => {});
      const saw = c?.events.some((e) => e.event === k) === true;
      push(`${k}: ${name}`, saw, saw ? `${name} reported ${k} and exited ${String(c?.exit?.code)}` : `${name} never reported ${k}`);
    }
    if (x.epochsGrantedOnce === true) {
      // The go-live side of split brain: two replicas winning one epoch's test-and-set.
      const winners = claimsByEpoch([...cluster.replicas].map(([name, c]) => [name, c.events.filter((e) => e.event === 'won').map((e) => e.epoch)] as const));
      const twice = splitBrainEpochsOf(winners);
      push('epochsGrantedOnce', twice.length === 0, twice.length === 0 ? `epochs won: ${[...winners].map(([e, w]) => `${e} by ${[...w][0]}`).join(', ') || 'none'}` : twice.map((e) => `epoch ${e} won by ${[...winners.get(e)!].join(' and ')}`).join('; '));
    }
    return out;
  }
}
