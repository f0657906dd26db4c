// The LAN lab (src/lab/lan.ts) with real namespaces, bridges, veths and socat's TAP device:
// - a replica host's TapLink (the built dist/net/tap-link.js, in a Node child inside the
//   host's namespace) sees the ARP request a kernel client broadcasts for the service
//   address, from the client's MAC, and nothing of IPv6;
// - a frame the TapLink sends (Ethernet + IPv4 + UDP, built here) reaches a kernel UDP
//   socket on the client;
// - close() leaves no namespace of the run and no socat; a create() that fails on its second
//   host, or on a delay this kernel cannot make, removes what it made; SIGTERM to a process
//   holding a LAN removes its namespaces and what runs in them, unless the process has its
//   own handler, which then does its shutdown its way.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Lan, LanError, lanMac, lanMissing, SERVICE_ADDRESS, TAP_DEVICE } from '../../src/lab/lan.js';
import { listNetns, run } from '../../src/lab/netns.js';
import { parseIpv4Addr } from '../../src/wire/addr.js';
import { udpPacket } from '../../src/wire/udp.js';
import { describeNeeding } from '../helpers/kernel.js';
import { until } from '../helpers/net.js';
import { alive, distProblem, killAll, root, startProcess, stopProc, type Proc } from '../helpers/process.js';

const TAP_PORT = 9601;
const SOCAT_PORT = 9602;
const CLIENT_UDP_PORT = 7000;
const tapLinkUrl = pathToFileURL(join(root, 'dist', 'net', 'tap-link.js')).href;
const lanUrl = pathToFileURL(join(root, 'dist', 'lab', 'lan.js')).href;

const lans: Lan[] = [];
afterEach(async () => {
  await killAll();
  for (const lan of lans.splice(0)) await lan.close();
});

async function makeLan(): Promise<Lan> {
  const lan = await Lan.create({ hosts: [{ name: 'r1', role: 'replica' }, { name: 'c1', role: 'client' }] });
  lans.push(lan);
  return lan;
}

/** The run's namespaces still listed by `ip netns list`. */
function left(prefix: string): string[] {
  return listNetns().filter((n) => n.startsWith(`${prefix}-`));
}

/** A Node child in the replica's namespace: a TapLink that prints each frame and sends what stdin gives it. */
const TAP_CHILD = `
const { TapLink } = await import(${JSON.stringify(tapLinkUrl)});
const { createInterface } = await import('node:readline');
const link = await TapLink.open({ port: ${TAP_PORT}, socatPort: ${SOCAT_PORT} });
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
link.onFrame((f) => say({ frame: Buffer.from(f).toString('hex') }));
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.send !== undefined) say({ sent: link.send(Buffer.from(m.send, 'hex')) });
  if (m.stats !== undefined) say({ stats: link.stats });
});
say({ ready: link.local.port });
`;

/** A kernel UDP socket on the client that prints what arrives. */
const UDP_LISTENER = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => console.log(JSON.stringify({ from: r.address + ':' + r.port, data: m.toString() })));
s.bind(${CLIENT_UDP_PORT}, '0.0.0.0', () => console.log('listening'));
`;

/** One datagram to the service address: the kernel has no neighbour entry, so it broadcasts ARP requests. */
const ARP_TRIGGER = `
const s = require('node:dgram').createSocket('udp4');
s.send('x', 9, ${JSON.stringify(SERVICE_ADDRESS)}, () => { console.log('sent'); s.close(); });
`;

/**
 * Whether `pid` runs: a zombie does not (the holder died before reaping its killed child,
 * which went to an init that may never reap it).
 */
function running(pid: number): boolean {
  if (!alive(pid)) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function macBytes(mac: string): number[] {
  return mac.split(':').map((h) => parseInt(h, 16));
}

function ipBytes(address: string): number[] {
  return address.split('.').map(Number);
}

function frames(child: Proc): Uint8Array[] {
  return child
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{"frame"'))
    .map((l) => Uint8Array.from(Buffer.from((JSON.parse(l) as { frame: string }).frame, 'hex')));
}

const etherType = (f: Uint8Array) => (f[12]! << 8) | f[13]!;

async function startTapChild(lan: Lan): Promise<Proc> {
  const child = startProcess(...lan.wrap('r1', process.execPath, ['--input-type=module', '-e', TAP_CHILD]), { stdin: 'pipe' });
  await child.waitFor(/"ready":9601/);
  return child;
}

const missing = [...lanMissing(), distProblem(['net/tap-link', 'lab/lan', 'lab/netns']) ?? ''].filter((m) => m !== '').join('; ');

describeNeeding('LAN lab: namespaces, bridges, socat TAP', missing, () => {
  it('carries frames between a kernel client and a TapLink behind a replica host`s bridge, both ways', async () => {
    const lan = await makeLan();
    const [r1, c1] = [lan.host('r1'), lan.host('c1')];
    expect(r1.device).toBe('br0');
    expect(c1.device).toBe('eth0');
    expect([r1.address, c1.address]).toEqual(['192.0.2.21', '192.0.2.22']);
    // The service address is on no kernel interface of the LAN.
    for (const ns of lan.namespaces) expect(run('ip', ['-n', ns, '-4', 'addr']).stdout).not.toContain(SERVICE_ADDRESS);

    const child = await startTapChild(lan);
    const tap = await lan.attachTap('r1', { port: TAP_PORT, socatPort: SOCAT_PORT });
    expect(tap.argv).toEqual(['-b', '65536', 'TUN,tun-type=tap,iff-no-pi,up,tun-name=tap0', `UDP:127.0.0.1:${TAP_PORT},sourceport=${SOCAT_PORT}`]);
    expect(alive(tap.pid)).toBe(true);

    // Client -> tap: the kernel ARPs for the service address.
    const trigger = startProcess(...lan.wrap('c1', process.execPath, ['-e', ARP_TRIGGER]));
    await trigger.waitFor(/sent/);
    const isArpForService = (f: Uint8Array) => etherType(f) === 0x0806 && ((f[20]! << 8) | f[21]!) === 1 && ipBytes(SERVICE_ADDRESS).every((b, i) => f[38 + i] === b);
    await child.waitFor(/"frame":"ffffffffffff[0-9a-f]{12}0806/, 10_000);
    const arp = frames(child).find(isArpForService);
    expect(arp).toBeDefined();
    expect([...arp!.subarray(0, 6)]).toEqual([255, 255, 255, 255, 255, 255]);
    expect([...arp!.subarray(6, 12)]).toEqual(macBytes(c1.mac));
    expect([...arp!.subarray(22, 28)]).toEqual(macBytes(c1.mac));
    expect([...arp!.subarray(28, 32)]).toEqual(ipBytes(c1.address));
    expect(frames(child).filter((f) => etherType(f) === 0x86dd)).toEqual([]);

    // Tap -> client: a hand-built Ethernet + IPv4 + UDP frame from the service address.
    const listener = startProcess(...lan.wrap('c1', process.execPath, ['-e', UDP_LISTENER]));
    await listener.waitFor(/listening/);
    const payload = 'hello from behind the tap';
    const ip = udpPacket(parseIpv4Addr(SERVICE_ADDRESS), parseIpv4Addr(c1.address), 5555, CLIENT_UDP_PORT, new TextEncoder().encode(payload), 1);
    const frame = Uint8Array.from([...macBytes(c1.mac), ...macBytes(lanMac(SERVICE_ADDRESS)), 0x08, 0x00, ...ip]);
    child.child.stdin!.write(JSON.stringify({ send: Buffer.from(frame).toString('hex') }) + '\n');
    await child.waitFor(/"sent":true/);
    const got = await listener.waitFor(/\{"from":"([^"]+)","data":"([^"]*)"\}/, 10_000);
    expect(got[1]).toBe(`${SERVICE_ADDRESS}:5555`);
    expect(got[2]).toBe(payload);

    child.child.stdin!.write(JSON.stringify({ stats: 1 }) + '\n');
    const stats = JSON.parse((await child.waitFor(/\{"stats":(\{.*\})\}/))[1]!) as { framesOut: number; bytesOut: number; framesIn: number; sendErrors: number };
    expect(stats).toMatchObject({ framesOut: 1, bytesOut: frame.length, sendErrors: 0 });
    expect(stats.framesIn).toBeGreaterThanOrEqual(1);

    // Teardown: no namespace of the run, no socat, no child.
    const closed = await lan.close();
    expect(closed.removed).toBe(true);
    expect(left(lan.prefix)).toEqual([]);
    expect(alive(tap.pid)).toBe(false);
    await child.exited;
    expect(alive(child.pid)).toBe(false);
  });

  it('refuses a TAP device with no TapLink bound, and on a host that is not a replica', async () => {
    const lan = await makeLan();
    await expect(lan.attachTap('r1', { port: TAP_PORT, socatPort: SOCAT_PORT })).rejects.toThrow(/^nothing is bound to 127\.0\.0\.1:9601 in \S+; open the TapLink there first/);
    await expect(lan.attachTap('c1', { port: TAP_PORT, socatPort: SOCAT_PORT })).rejects.toThrow(/c1 is a client host; only a replica host/);
    expect(lan.tap('r1')).toBeUndefined();
    expect(run('ip', ['-n', lan.host('r1').netns, 'link', 'show', 'dev', TAP_DEVICE]).ok).toBe(false);
  });

  it('removes what it made when create fails part way (a bad second host name)', async () => {
    const made: string[] = [];
    const error = await Lan.create({ prefix: 'ftcp-lanbad', hosts: [{ name: 'r1', role: 'replica' }, { name: 'Bad Name!', role: 'client' }], log: (l) => made.push(l) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LanError);
    expect((error as Error).message).toMatch(/^a host name is lower-case letters/);
    expect((error as Error).message).not.toContain('\n');
    const prefix = `ftcp-lanbad-${process.pid}-`;
    expect(made.filter((l) => l.startsWith(`made namespace ${prefix}`))).toHaveLength(2);
    expect(made.filter((l) => l.startsWith(`removed namespace ${prefix}`))).toHaveLength(2);
    expect(listNetns().filter((n) => n.startsWith(prefix))).toEqual([]);
  });

  it('puts netem delay on a replica host`s link, or says in one line that this kernel cannot', async () => {
    const delayMissing = lanMissing({ delay: true });
    const attempt = Lan.create({ prefix: 'ftcp-landelay', linkDelayMs: 20, hosts: [{ name: 'r1', role: 'replica' }, { name: 'c1', role: 'client' }] });
    if (delayMissing.length === 0) {
      const lan = await attempt;
      lans.push(lan);
      expect(run('tc', ['-n', lan.host('r1').netns, 'qdisc', 'show', 'dev', 'eth0']).stdout).toMatch(/netem .*delay 20ms/);
      expect(run('tc', ['-n', lan.switchNetns, 'qdisc', 'show', 'dev', lan.host('r1').switchPort]).stdout).toMatch(/netem .*delay 20ms/);
      expect(run('tc', ['-n', lan.host('c1').netns, 'qdisc', 'show', 'dev', 'eth0']).stdout).not.toMatch(/netem/);
    } else {
      expect(delayMissing.join(' ')).toMatch(/netem/);
      const error = await attempt.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LanError);
      expect((error as Error).message).toMatch(/^tc -n \S+ qdisc add dev eth0 root netem delay 20ms failed: .*modprobe sch_netem/);
      expect((error as Error).message).not.toContain('\n');
    }
    expect(listNetns().filter((n) => n.startsWith(`ftcp-landelay-${process.pid}-`)).length).toBe(delayMissing.length === 0 ? 3 : 0);
  });

  /** A process in the root namespace holding a LAN, with a sleep in its replica host; `own`: its own SIGTERM handler. */
  async function holder(own: string): Promise<{ proc: Proc; prefix: string; sleeper: number }> {
    const proc = startProcess(process.execPath, [
      '--input-type=module',
      '-e',
      `import { spawn } from 'node:child_process';
       const { Lan } = await import(${JSON.stringify(lanUrl)});
       const lan = await Lan.create({ prefix: 'ftcp-lansig', hosts: [{ name: 'r1', role: 'replica' }] });
       const sleeper = spawn(...lan.wrap('r1', 'sleep', ['600']), { stdio: 'ignore' });
       ${own}
       console.log(JSON.stringify({ prefix: lan.prefix, sleeper: sleeper.pid }));
       setInterval(() => {}, 1000);`,
    ]);
    const m = await proc.waitFor(/\{"prefix":"([^"]+)","sleeper":(\d+)\}/, 20_000);
    const [prefix, sleeper] = [m[1]!, Number(m[2])];
    expect(left(prefix)).toHaveLength(2);
    // `ip netns exec` execs sleep under the same pid: the namespace's one process.
    await until(() => run('ip', ['netns', 'pids', `${prefix}-r1`]).stdout.trim() === String(sleeper), 5000, 'sleep in the namespace');
    return { proc, prefix, sleeper };
  }

  it('removes the namespaces, and what runs in them, when a process holding a LAN gets SIGTERM', async () => {
    const { proc, prefix, sleeper } = await holder('');
    const exit = await stopProc(proc, 'SIGTERM');
    expect(exit.signal).toBe('SIGTERM');
    expect(left(prefix)).toEqual([]);
    expect(running(sleeper)).toBe(false);
  });

  it('leaves SIGTERM to a process`s own handler, which closes the LAN its way', async () => {
    const { proc, prefix, sleeper } = await holder(`process.once('SIGTERM', async () => { console.log('own handler'); const r = await lan.close(); console.log(JSON.stringify({ closed: r.removed })); process.exit(3); });`);
    const exit = await stopProc(proc, 'SIGTERM');
    expect(exit.code).toBe(3);
    expect(proc.stdout()).toContain('own handler');
    expect(proc.stdout()).toContain('{"closed":true}');
    expect(left(prefix)).toEqual([]);
    expect(running(sleeper)).toBe(false);
  });
});
