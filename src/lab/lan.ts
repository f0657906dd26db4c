/**
 * A LAN of network namespaces for tests and the demo (DESIGN.md, "Network"): the shape of
 * the production deployment, a real Ethernet segment, built with `ip` only.
 *
 *   <prefix>-switch     the LAN's switch: a Linux bridge lan0 with one port (v1, v2, ...) per host
 *   <prefix>-<host>     one namespace per host, joined to the switch by a veth pair (eth0 here);
 *                       a replica host also has a bridge br0 holding eth0 and, once attached,
 *                       the TAP device tap0 that socat makes for the replica's TapLink (as a
 *                       hypervisor host bridges a VM's tap). Its own address sits on br0.
 *
 * Nothing touches the root namespace: every link is made inside a namespace made here (the
 * veth pair from the switch's side, its peer sent straight into the host's). Addresses come
 * from 192.0.2.0/24 (RFC 5737) and exist only in these namespaces; hosts get 192.0.2.21,
 * .22, ... unless they name one, and 192.0.2.10, the service address, is on no kernel
 * interface: the replicated stack owns it behind the TAP device. IPv6 is off in every
 * namespace (the kernel would send MLD, DAD and router solicitations on every link).
 * A host's MAC is 02:00 followed by its address (locally administered, stable per address).
 *
 * The prefix carries the pid and a counter, so parallel runs do not collide. close() removes
 * everything (socat first, then every namespace with what is still running in it, by pid);
 * so does process exit, and SIGINT/SIGTERM when nothing else handles them (netns.ts). A
 * create() that fails removes what it made before it throws.
 */
import { spawnSync } from 'node:child_process';
import { formatIpv4Addr, parseIpv4Addr } from '../wire/addr.js';
import { tapSocatArgs } from '../net/tap-link.js';
import { hasCommand, Helper, kernelModeMissing, Netns, run, runIn, sleep, spawnIn } from './netns.js';

export const LAN_NETWORK = '192.0.2.0';
export const LAN_PREFIX_LENGTH = 24;
/** The replicated service's address: on no kernel interface. */
export const SERVICE_ADDRESS = '192.0.2.10';
/** Hosts without an address of their own get this last octet, then the next free ones. */
export const FIRST_HOST_OCTET = 21;
export const LAN_BRIDGE = 'lan0';
export const HOST_PORT = 'eth0';
export const HOST_BRIDGE = 'br0';
export const TAP_DEVICE = 'tap0';
export const DEFAULT_LAN_MTU = 1500;

export type LanRole = 'replica' | 'client' | 'arbiter';

export interface LanHostSpec {
  /** Lower-case letters, digits and '-', starting with a letter; 'switch' is the LAN's own. */
  name: string;
  role: LanRole;
  /** In 192.0.2.0/24, not .0, .255 or the service's .10; default the next free from .21. */
  address?: string;
  /** One-way netem delay on this host's link, each way; default linkDelayMs for a replica host, else none. */
  delayMs?: number;
}

export interface LanOptions {
  hosts: readonly LanHostSpec[];
  /** One-way netem delay on every replica host's link, each way (tc qdisc ... netem delay). */
  linkDelayMs?: number;
  /** Every link's MTU (veths, bridges, TAP devices); default 1500. */
  mtu?: number;
  /** The start of every namespace name (then -<pid>-<n>); default 'ftcp-lan'. */
  prefix?: string;
  /** Told each step ("made namespace ..."), for a demo's verbose output. */
  log?: (line: string) => void;
}

export interface LanHost {
  readonly name: string;
  readonly role: LanRole;
  readonly address: string;
  readonly mac: string;
  readonly netns: string;
  /** The interface holding the address: br0 on a replica host, eth0 elsewhere. */
  readonly device: string;
  /** The host's port on the switch's bridge. */
  readonly switchPort: string;
  readonly delayMs: number;
}

export interface TapOptions {
  /** The TapLink's UDP port on the host's 127.0.0.1 (bound before attachTap). */
  port: number;
  /** socat's UDP source port. */
  socatPort: number;
}

export interface TapAttachment extends TapOptions {
  readonly host: string;
  readonly device: string;
  readonly pid: number;
  /** socat's argv (tapSocatArgs). */
  readonly argv: readonly string[];
}

/** What went wrong building or using the LAN, in one line. */
export class LanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LanError';
  }
}

/** The MAC of a host with `address`: 02:00 (locally administered, unicast) then the address's octets. */
export function lanMac(address: string): string {
  return ['02', '00', ...address.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

let netemAvailable: boolean | undefined;

/** Whether this kernel has netem: tried once on the loopback of a namespace made for it. */
export function hasNetem(): boolean {
  if (netemAvailable === undefined) {
    const probe = Netns.create('ftcp-probe');
    netemAvailable = run('tc', ['-n', probe.name, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']).ok;
    probe.destroy();
  }
  return netemAvailable;
}

const NETEM_HINT = 'this kernel has no netem queueing discipline (modprobe sch_netem), or leave the delay out';

/**
 * What the LAN lacks on this machine, one sentence each (empty when nothing): root, ip,
 * socat, /dev/net/tun, and with `delay` tc and the kernel's netem.
 */
export function lanMissing(opts: { delay?: boolean } = {}): string[] {
  const missing = kernelModeMissing();
  if (opts.delay === true) {
    if (!hasCommand('tc', ['-V'])) missing.push('tc from iproute2 for link delays (apt-get install -y iproute2)');
    else if (missing.length === 0 && !hasNetem()) missing.push(`netem for link delays: ${NETEM_HINT}`);
  }
  return missing;
}

function oneLine(text: string): string {
  return text.trim().split('\n').map((l) => l.trim()).filter((l) => l !== '').join('; ');
}

/** Runs `ip`/`tc`/`sysctl`; a failure is a LanError naming the command and its message. */
function must(cmd: string, args: readonly string[], where?: string): string {
  const r = where === undefined ? run(cmd, args) : runIn(where, cmd, args);
  if (!r.ok) {
    const hint = cmd === 'tc' && /unknown/i.test(r.stderr) ? ` (${NETEM_HINT})` : '';
    throw new LanError(`${[cmd, ...args].join(' ')}${where === undefined ? '' : ` in ${where}`} failed: ${oneLine(r.stderr)}${hint}`);
  }
  return r.stdout;
}

function checkDelay(what: string, ms: number | undefined): number {
  if (ms === undefined) return 0;
  if (!Number.isFinite(ms) || ms < 0 || ms > 60_000) throw new LanError(`${what} must be 0..60000 ms, got ${ms}`);
  return ms;
}

const ROLES: readonly LanRole[] = ['replica', 'client', 'arbiter'];
let runs = 0;

export class Lan {
  readonly hosts: LanHost[] = [];
  readonly switchNetns: string;
  private readonly made: Netns[] = [];
  private readonly taps = new Map<string, { attachment: TapAttachment; socat: Helper }>();
  private readonly log: (line: string) => void;
  private closed = false;

  private constructor(
    /** Every namespace of this LAN starts with it. */
    readonly prefix: string,
    readonly mtu: number,
    opts: LanOptions,
  ) {
    this.switchNetns = `${prefix}-switch`;
    this.log = opts.log ?? (() => {});
  }

  /**
   * Builds the switch, then the hosts in order. A bad host is found when it is reached; the
   * LanError then comes after what was made is removed.
   */
  static async create(opts: LanOptions): Promise<Lan> {
    const base = opts.prefix ?? 'ftcp-lan';
    if (!/^[a-z][a-z0-9-]{0,40}$/.test(base)) throw new LanError(`the LAN prefix must be lower-case letters, digits and '-', got ${JSON.stringify(base)}`);
    const mtu = opts.mtu ?? DEFAULT_LAN_MTU;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65_507) throw new LanError(`the LAN MTU must be 68..65507, got ${mtu}`);
    const linkDelayMs = checkDelay('linkDelayMs', opts.linkDelayMs);
    if (opts.hosts.length === 0) throw new LanError('a LAN needs at least one host');
    const lan = new Lan(`${base}-${process.pid}-${++runs}`, mtu, opts);
    try {
      lan.makeSwitch();
      const named = new Set(opts.hosts.map((h) => h.address));
      for (const spec of opts.hosts) lan.addHost(spec, linkDelayMs, named);
    } catch (e) {
      await lan.close();
      throw e instanceof LanError ? e : new LanError(oneLine(e instanceof Error ? e.message : String(e)));
    }
    return lan;
  }

  host(name: string): LanHost {
    const h = this.hosts.find((x) => x.name === name);
    if (h === undefined) throw new LanError(`no host ${JSON.stringify(name)} on this LAN (it has ${this.hosts.map((x) => x.name).join(', ')})`);
    return h;
  }

  /** `ip netns exec <host's namespace> cmd args...` as [command, args]. */
  wrap(host: string, cmd: string, args: readonly string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.host(host).netns, cmd, ...args]];
  }

  /** Every namespace this LAN made and has not removed. */
  get namespaces(): string[] {
    return this.made.map((ns) => ns.name);
  }

  tap(host: string): TapAttachment | undefined {
    return this.taps.get(host)?.attachment;
  }

  /**
   * Starts socat in a replica host's namespace and waits (5 s at most) until tap0 exists, is
   * a port of br0, up and forwarding. The TapLink must already be bound to 127.0.0.1:port
   * there: socat exits when its first frame is refused.
   */
  async attachTap(hostName: string, o: TapOptions): Promise<TapAttachment> {
    const host = this.host(hostName);
    if (this.closed) throw new LanError('the LAN is closed');
    if (host.role !== 'replica') throw new LanError(`${host.name} is a ${host.role} host; only a replica host has a bridge for a TAP device`);
    if (this.taps.has(host.name)) throw new LanError(`${host.name} already has ${TAP_DEVICE} (socat pid ${this.taps.get(host.name)!.attachment.pid}); detachTap first`);
    const argv = tapSocatArgs({ device: TAP_DEVICE, port: o.port, socatPort: o.socatPort });
    if (!udpBound(host.netns, o.port)) throw new LanError(`nothing is bound to 127.0.0.1:${o.port} in ${host.netns}; open the TapLink there first (socat exits when its first frame is refused)`);
    const socat = new Helper(spawnIn(host.netns, 'socat', argv));
    const attachment: TapAttachment = { host: host.name, device: TAP_DEVICE, pid: socat.pid, port: o.port, socatPort: o.socatPort, argv };
    this.taps.set(host.name, { attachment, socat });
    let enslaved = false;
    for (let i = 0; ; i++) {
      if (socat.exit !== undefined) {
        this.taps.delete(host.name);
        throw new LanError(`socat in ${host.netns} exited (${socat.exit.code ?? socat.exit.signal}) before ${TAP_DEVICE} was up: ${oneLine(socat.stderr)}`);
      }
      const state = portState(host.netns, TAP_DEVICE);
      if (state !== undefined && !enslaved) {
        must('ip', ['-n', host.netns, 'link', 'set', 'dev', TAP_DEVICE, 'mtu', String(this.mtu), 'master', HOST_BRIDGE, 'up']);
        enslaved = true;
      } else if (state?.master === HOST_BRIDGE && state.up && state.bridgeState === 'forwarding') {
        break;
      }
      if (i >= 100) {
        await this.detachTap(host.name);
        throw new LanError(`${TAP_DEVICE} in ${host.netns} was not a forwarding port of ${HOST_BRIDGE} within 5 s of starting socat (${state === undefined ? 'no device' : JSON.stringify(state)}): ${oneLine(socat.stderr)}`);
      }
      await sleep(50);
    }
    this.log(`attached ${TAP_DEVICE} to ${HOST_BRIDGE} in ${host.netns}: socat ${argv.join(' ')} (pid ${attachment.pid})`);
    return attachment;
  }

  /**
   * Puts one whole Ethernet frame (no FCS) on a client or arbiter host's link, as that host
   * would, through a packet socket (`socat -u STDIN INTERFACE:eth0`): how a test shows
   * another host claiming the service's addresses.
   */
  sendFrame(hostName: string, frame: Uint8Array): void {
    const host = this.host(hostName);
    if (host.role === 'replica') throw new LanError(`${host.name} is a replica host; send frames from a client or arbiter host`);
    const r = spawnSync('ip', ['netns', 'exec', host.netns, 'socat', '-u', 'STDIN', `INTERFACE:${HOST_PORT}`], { input: frame, timeout: 10_000 });
    if (r.error !== undefined || r.status !== 0) throw new LanError(`sending a frame from ${host.name} failed: ${oneLine(r.stderr?.toString() ?? r.error?.message ?? '')}`);
  }

  /** Stops a host's socat (SIGTERM, by pid); its TAP device goes with it. Harmless when none. */
  async detachTap(hostName: string): Promise<void> {
    const t = this.taps.get(hostName);
    if (t === undefined) return;
    this.taps.delete(hostName);
    await t.socat.stop('SIGTERM', 1000);
  }

  /** Removes everything: socat first, then every namespace with what still runs in it (by pid). Closing twice is harmless. */
  async close(): Promise<{ removed: boolean; killed: number[] }> {
    this.closed = true;
    for (const host of [...this.taps.keys()]) await this.detachTap(host);
    const killed: number[] = [];
    let removed = true;
    for (const ns of this.made.splice(0).reverse()) {
      const r = ns.destroy();
      killed.push(...r.killed);
      if (r.removed) this.log(`removed namespace ${ns.name}`);
      else removed = false;
    }
    return { removed, killed };
  }

  // ---- building -------------------------------------------------------------------

  private makeNetns(name: string): Netns {
    const ns = Netns.createNamed(name);
    this.made.push(ns);
    must('sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], ns.name);
    this.log(`made namespace ${ns.name}`);
    return ns;
  }

  private makeSwitch(): void {
    const sw = this.makeNetns(this.switchNetns).name;
    must('ip', ['-n', sw, 'link', 'add', LAN_BRIDGE, 'mtu', String(this.mtu), 'type', 'bridge', 'stp_state', '0']);
    must('ip', ['-n', sw, 'link', 'set', 'dev', LAN_BRIDGE, 'up']);
  }

  private addHost(spec: LanHostSpec, linkDelayMs: number, named: ReadonlySet<string | undefined>): void {
    const name = String(spec.name);
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(name)) throw new LanError(`a host name is lower-case letters, digits and '-', starting with a letter, got ${JSON.stringify(spec.name)}`);
    if (name === 'switch') throw new LanError(`'switch' is the LAN's own namespace; name the host otherwise`);
    if (this.hosts.some((h) => h.name === name)) throw new LanError(`two hosts are named ${name}`);
    if (!ROLES.includes(spec.role)) throw new LanError(`${name}: the role must be ${ROLES.join(', ')}, got ${JSON.stringify(spec.role)}`);
    const address = spec.address === undefined ? this.nextAddress(named) : this.checkAddress(name, spec.address);
    const delayMs = checkDelay(`${name}: delayMs`, spec.delayMs ?? (spec.role === 'replica' ? linkDelayMs : 0));
    const netns = this.makeNetns(`${this.prefix}-${name}`).name;
    const sw = this.switchNetns;
    const switchPort = `v${this.hosts.length + 1}`;
    const mac = lanMac(address);
    const mtu = String(this.mtu);
    const device = spec.role === 'replica' ? HOST_BRIDGE : HOST_PORT;
    // The veth is made in the switch's namespace with its peer sent straight to the host's.
    must('ip', ['-n', sw, 'link', 'add', switchPort, 'mtu', mtu, 'type', 'veth', 'peer', 'name', HOST_PORT, 'netns', netns]);
    must('ip', ['-n', sw, 'link', 'set', 'dev', switchPort, 'master', LAN_BRIDGE, 'up']);
    must('ip', ['-n', netns, 'link', 'set', 'dev', HOST_PORT, 'address', mac, 'mtu', mtu, 'up']);
    if (spec.role === 'replica') {
      // br0's MAC is set, so it stays put when tap0 joins (a bridge otherwise takes its lowest port's).
      must('ip', ['-n', netns, 'link', 'add', HOST_BRIDGE, 'address', mac, 'mtu', mtu, 'type', 'bridge', 'stp_state', '0']);
      must('ip', ['-n', netns, 'link', 'set', 'dev', HOST_PORT, 'master', HOST_BRIDGE]);
      must('ip', ['-n', netns, 'link', 'set', 'dev', HOST_BRIDGE, 'up']);
    }
    must('ip', ['-n', netns, 'addr', 'add', `${address}/${LAN_PREFIX_LENGTH}`, 'dev', device]);
    if (delayMs > 0) {
      must('tc', ['-n', netns, 'qdisc', 'add', 'dev', HOST_PORT, 'root', 'netem', 'delay', `${delayMs}ms`]);
      must('tc', ['-n', sw, 'qdisc', 'add', 'dev', switchPort, 'root', 'netem', 'delay', `${delayMs}ms`]);
    }
    this.hosts.push({ name, role: spec.role, address, mac, netns, device, switchPort, delayMs });
    this.log(`${name} (${spec.role}) ${address} ${mac} on ${device} in ${netns}${delayMs > 0 ? `, ${delayMs} ms each way` : ''}`);
  }

  private checkAddress(name: string, text: string): string {
    let n: number;
    try {
      n = parseIpv4Addr(text);
    } catch {
      throw new LanError(`${name}: ${JSON.stringify(text)} is not an IPv4 address`);
    }
    const net = parseIpv4Addr(LAN_NETWORK);
    const octet = n - net;
    if (octet <= 0 || octet >= 255) throw new LanError(`${name}: ${text} is not a host address of ${LAN_NETWORK}/${LAN_PREFIX_LENGTH}`);
    const address = formatIpv4Addr(n);
    if (address === SERVICE_ADDRESS) throw new LanError(`${name}: ${SERVICE_ADDRESS} is the service's address; it is on no kernel interface`);
    if (this.hosts.some((h) => h.address === address)) throw new LanError(`${name}: ${address} is already ${this.hosts.find((h) => h.address === address)!.name}'s`);
    return address;
  }

  private nextAddress(named: ReadonlySet<string | undefined>): string {
    const net = parseIpv4Addr(LAN_NETWORK);
    for (let octet = FIRST_HOST_OCTET; octet < 255; octet++) {
      const a = formatIpv4Addr(net + octet);
      if (!named.has(a) && !this.hosts.some((h) => h.address === a)) return a;
    }
    throw new LanError(`no free address left in ${LAN_NETWORK}/${LAN_PREFIX_LENGTH} from .${FIRST_HOST_OCTET}`);
  }
}

/** Whether a UDP socket in `netns` is bound to 127.0.0.1:port or *:port (/proc/net/udp there). */
function udpBound(netns: string, port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const table = runIn(netns, 'cat', ['/proc/net/udp']).stdout;
  return table.split('\n').some((line) => {
    const local = line.trim().split(/\s+/)[1] ?? '';
    const [addr, p] = local.split(':');
    return p === hexPort && (addr === '0100007F' || addr === '7F000001' || addr === '00000000');
  });
}

interface PortState {
  master: string | undefined;
  up: boolean;
  /** The bridge port's state ('forwarding', 'disabled', ...) when it is a bridge's port. */
  bridgeState: string | undefined;
}

/** A link's master, UP flag and bridge-port state, or undefined when it does not exist. */
function portState(netns: string, device: string): PortState | undefined {
  const r = run('ip', ['-n', netns, '-j', '-d', 'link', 'show', 'dev', device]);
  if (!r.ok) return undefined;
  const [link] = JSON.parse(r.stdout) as Array<{ master?: string; flags?: string[]; linkinfo?: { info_slave_data?: { state?: string } } }>;
  return { master: link?.master, up: link?.flags?.includes('UP') ?? false, bridgeState: link?.linkinfo?.info_slave_data?.state };
}
