// Two `ftcp serve` processes on loopback (switch and arbiter in this process): the first
// serves, the second joins by itself; kill -9 the primary -> the survivor serves; restart
// the killed one -> it joins the survivor as a backup by itself; kill -9 the new primary
// -> it serves, and the client's streams stay intact through both failovers. SIGTERM: exit 0.
// Two `ftcp serve` started at the same moment (no peer answers either): the arbiter's start
// claim makes exactly one the primary; the other joins it as a backup by itself.
// The whole cluster down (the start claim's winner killed), the other started alone: one
// serve-waiting line naming what to do, no serving; the winner back first, the other joins.
import * as net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ArbiterServer } from '../../src/net/arbiter-server.js';
import { UdpSwitch } from '../../src/net/switch.js';
import { describeWithDist, killAll, startCli, stopProc, type Proc } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'ftcp-serve-proc-'));
let sw: UdpSwitch | undefined;
let arbiter: ArbiterServer | undefined;
const others: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  await killAll();
  await sw?.close();
  await arbiter?.close();
  for (const o of others) await o.close();
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function config(name: string, listen: number, peer: string, peerPort: number, at = { arbiter: arbiter!.local.port, sw: sw!.local.port, tag: '' }): string {
  const path = join(dir, `${name}${at.tag}.yaml`);
  writeFileSync(
    path,
    [
      `name: ${name}`,
      'service: { address: 192.0.2.10, port: 7070, app: counter, seed: 3 }',
      `arbiter: 127.0.0.1:${at.arbiter}`,
      `log: { listen: 127.0.0.1:${listen}, peers: [ { name: ${peer}, address: 127.0.0.1:${peerPort} } ] }`,
      `network: { switch: 127.0.0.1:${at.sw} }`,
      'timing: { heartbeat-ms: 20, failure-timeout-ms: 300, rejoin-backoff-ms: 200 }',
      `capture-dir: ${dir}`,
    ].join('\n'),
  );
  return path;
}

/** How many stdout lines match `re`. */
function count(p: Proc, re: RegExp): number {
  return p.stdout().split('\n').filter((l) => re.test(l)).length;
}

describeWithDist('ftcp serve: roles by themselves, with real processes', ['cli/serve', 'net/serve', 'net/serve-config', 'net/serve-options', 'net/metrics'], () => {
  it('first serves, second joins; two kill -9 failovers with a rejoin between; streams intact', async () => {
    sw = await UdpSwitch.start({ listen: { host: '127.0.0.1', port: 0 } });
    arbiter = await ArbiterServer.start({ listen: { host: '127.0.0.1', port: 0 }, statePath: join(dir, 'arbiter.json'), init: true });
    const [pa, pb, ma] = [await freePort(), await freePort(), await freePort()];
    const cfgA = config('a', pa, 'b', pb);
    const cfgB = config('b', pb, 'a', pa);
    let a = startCli(['serve', '--config', cfgA, '--metrics-listen', `127.0.0.1:${ma}`]);
    await a.waitFor(/"event":"registered"/, 30_000);
    expect(a.stdout()).toMatch(/"event":"serve-run","name":"a","atMs":\d+,"role":"primary"/);
    expect(a.stdout()).toMatch(/"event":"serve-claim","name":"a","atMs":\d+,"epoch":1,"winner":"a","won":true/);
    const b = startCli(['serve', '--config', cfgB]);
    await b.waitFor(/"event":"serve-run","name":"b","atMs":\d+,"role":"join","via":"a"/, 30_000);
    await b.waitFor(/"event":"joined"/, 30_000);
    const metrics = await (await fetch(`http://127.0.0.1:${ma}/metrics`)).text();
    expect(metrics).toMatch(/ftcp_role\{replica="a",role="primary"\} 1/);

    const client = startCli(['client', '--switch', `127.0.0.1:${sw.local.port}`, '--app', 'counter', '--seed', '3', '--connections', '3', '--requests', '300-350', '--think-ms', '5-15', '--progress-ms', '50', '--timeout-ms', '120000', '--json']);
    await client.waitFor(/"event":"progress".*"bytesReceived":[1-9]/, 30_000);

    process.kill(a.pid, 'SIGKILL');
    await b.waitFor(/"event":"live"/, 30_000);

    a = startCli(['serve', '--config', cfgA, '--metrics-listen', `127.0.0.1:${ma}`]);
    await a.waitFor(/"event":"serve-run","name":"a","atMs":\d+,"role":"join","via":"b"/, 30_000);
    await a.waitFor(/"event":"joined"/, 30_000);
    await b.waitFor(/"event":"backup-joined"/, 30_000);

    process.kill(b.pid, 'SIGKILL');
    await a.waitFor(/"event":"live"/, 30_000);
    expect(count(a, /"event":"live"/)).toBe(1);
    const after = await (await fetch(`http://127.0.0.1:${ma}/metrics`)).text();
    expect(after).toMatch(/ftcp_role\{replica="a",role="primary"\} 1/);
    expect(after).toMatch(/ftcp_failovers_total\{replica="a"\} 1/);
    expect(after).toMatch(/ftcp_epoch\{replica="a"\} [3-9]/);

    const result = JSON.parse((await client.waitFor(/\{"event":"result".*\}/, 150_000))[0]);
    expect(result.problems).toEqual([]);
    expect(result).toMatchObject({ ok: true, streams: { intact: 3, broken: 0 }, resets: 0, counter: { consecutive: true } });

    const exit = await stopProc(a, 'SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(a.stdout()).toMatch(/"event":"exit","name":"a".*"reason":"SIGTERM"/);
  }, 300_000);

  it('after a whole-cluster outage, a replica that lost the start claim says once what to do and waits; the winner back first, both serve again', async () => {
    let sw3 = await UdpSwitch.start({ listen: { host: '127.0.0.1', port: 0 } });
    const swPort = sw3.local.port;
    others.push({ close: () => sw3.close() });
    const arb3 = await ArbiterServer.start({ listen: { host: '127.0.0.1', port: 0 }, statePath: join(dir, 'arbiter-outage.json'), init: true });
    others.push(arb3);
    const [pa, pb] = [await freePort(), await freePort()];
    const at = { arbiter: arb3.local.port, sw: swPort, tag: '-outage' };
    const [cfgA, cfgB] = [config('a', pa, 'b', pb, at), config('b', pb, 'a', pa, at)];
    let a = startCli(['serve', '--config', cfgA]);
    await a.waitFor(/"event":"registered"/, 30_000);
    process.kill(a.pid, 'SIGKILL'); // the whole cluster is down: a won the start of epoch 1
    await a.exited;
    // The switch (this test's LAN) goes down with it: a switch that lived on would keep the
    // service address for the dead a's epoch 1 and refuse the restarted a's announcement.
    await sw3.close();
    sw3 = await UdpSwitch.start({ listen: { host: '127.0.0.1', port: swPort } });
    let b = startCli(['serve', '--config', cfgB]);
    await b.waitFor(/"event":"serve-waiting","name":"b","atMs":\d+,"winner":"a","message":"a started epoch 1 of this service at the arbiter.*start a first, or start every replica again from a fresh arbiter state/, 60_000);
    // It keeps asking (a second claim answered a) but says it once, and serves nothing.
    await b.waitFor(/("event":"serve-claim".*){2}/s, 60_000);
    expect(count(b, /"event":"serve-waiting"/)).toBe(1);
    expect(count(b, /"event":"(registered|live|announce)"/)).toBe(0);
    expect(await stopProc(b, 'SIGTERM')).toEqual({ code: 0, signal: null });
    // The documented way back: the winner first, then the other, which joins it.
    a = startCli(['serve', '--config', cfgA]);
    await a.waitFor(/"event":"registered"/, 30_000);
    b = startCli(['serve', '--config', cfgB]);
    await b.waitFor(/"event":"joined"/, 30_000);
    expect(count(b, /"event":"serve-waiting"/)).toBe(0);
    for (const p of [a, b]) expect(await stopProc(p, 'SIGTERM')).toEqual({ code: 0, signal: null });
  }, 180_000);

  it('two started at the same moment: exactly one wins the start of epoch 1 and serves, the other joins it', async () => {
    const sw2 = await UdpSwitch.start({ listen: { host: '127.0.0.1', port: 0 } });
    others.push(sw2);
    const arb2 = await ArbiterServer.start({ listen: { host: '127.0.0.1', port: 0 }, statePath: join(dir, 'arbiter-race.json'), init: true });
    others.push(arb2);
    const [pa, pb] = [await freePort(), await freePort()];
    const at = { arbiter: arb2.local.port, sw: sw2.local.port, tag: '-race' };
    const procs = { a: startCli(['serve', '--config', config('a', pa, 'b', pb, at)]), b: startCli(['serve', '--config', config('b', pb, 'a', pa, at)]) };
    // One serves: whichever registers the service address first.
    const winner = await Promise.any((['a', 'b'] as const).map((n) => procs[n].waitFor(/"event":"registered"/, 30_000).then(() => n)));
    const loser = winner === 'a' ? 'b' : 'a';
    await procs[loser].waitFor(new RegExp(`"event":"serve-run","name":"${loser}","atMs":\\d+,"role":"join","via":"${winner}"`), 30_000);
    // Each asked the arbiter, or found the other already serving and joined it without asking;
    // every answer the arbiter gave names the same winner, and only the winner won.
    const claims = Object.values(procs).flatMap((p) => p.stdout().split('\n').filter((l) => l.includes('"serve-claim"')).map((l) => JSON.parse(l)));
    expect(claims.length).toBeGreaterThan(0);
    expect(claims.every((c) => c.winner === winner)).toBe(true);
    expect(claims.filter((c) => c.won === true).map((c) => c.name)).toEqual([winner]);
    await procs[loser].waitFor(/"event":"joined"/, 30_000);
    // Exactly one primary: one run as primary in all, and the loser never served.
    expect(count(procs.a, /"event":"serve-run".*"role":"primary"/) + count(procs.b, /"event":"serve-run".*"role":"primary"/)).toBe(1);
    expect(count(procs[loser], /"event":"(registered|live|announce)"/)).toBe(0);
    for (const p of Object.values(procs)) expect(await stopProc(p, 'SIGTERM')).toEqual({ code: 0, signal: null });
  }, 120_000);
});
