// The control socket of `ftcp switchover` and the handover watch, without replicas.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ControlServer, HandoverWatch, sendControl, type ControlReply } from '../../src/net/switchover.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-ctl-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function* replies(command: string): AsyncIterable<ControlReply> {
  if (command !== 'switchover') {
    yield { ok: false, stage: 'refused', message: `unknown ${command}` };
    return;
  }
  yield { ok: true, stage: 'handing-over', message: 'started' };
  await new Promise((r) => setTimeout(r, 20));
  yield { ok: true, stage: 'done', message: 'b is live' };
}

describe('control socket', () => {
  it('answers a command with its replies, in order, then closes', async () => {
    const path = join(root, 'a.sock');
    const server = await ControlServer.listen(path, replies);
    try {
      const seen: string[] = [];
      const r = await sendControl(path, 'switchover', 5000, (x) => seen.push(x.stage));
      expect(r).toEqual({ connected: true, ended: true, replies: [{ ok: true, stage: 'handing-over', message: 'started' }, { ok: true, stage: 'done', message: 'b is live' }] });
      expect(seen).toEqual(['handing-over', 'done']);
      const other = await sendControl(path, 'reboot', 5000);
      expect(other).toMatchObject({ connected: true, replies: [{ ok: false, stage: 'refused' }] });
    } finally {
      await server.close();
    }
    expect(existsSync(path)).toBe(false);
  });

  it('close() lets an answer under way finish first', async () => {
    const path = join(root, 'b.sock');
    const server = await ControlServer.listen(path, replies);
    const pending = sendControl(path, 'switchover', 5000);
    await new Promise((r) => setTimeout(r, 5)); // the first reply is out, the second not yet
    await server.close();
    const r = await pending;
    expect(r.connected && r.replies.map((x) => x.stage)).toEqual(['handing-over', 'done']);
  });

  it('refuses a path another process listens on, and a file that is not a socket; takes over a dead one\'s socket', async () => {
    const busy = join(root, 'busy.sock');
    const other = net.createServer().listen(busy);
    await new Promise((r) => other.once('listening', r));
    await expect(ControlServer.listen(busy, replies)).rejects.toThrow(/another process listens there/);
    other.close();
    const file = join(root, 'file');
    writeFileSync(file, 'x');
    await expect(ControlServer.listen(file, replies)).rejects.toThrow(/not a socket/);
    // A replica killed with -9 leaves its socket file behind: nobody answers there, so it is reused.
    const stale = join(root, 'stale.sock');
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => child.stdout.once('data', r));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(existsSync(stale)).toBe(true);
    const server = await ControlServer.listen(stale, replies);
    expect((await sendControl(stale, 'switchover', 5000)).connected).toBe(true);
    await server.close();
  });

  it('says what is wrong when nothing is there', async () => {
    const r = await sendControl(join(root, 'none.sock'), 'switchover', 5000);
    expect(r).toEqual({ connected: false, message: expect.stringMatching(/^no control socket at .*none\.sock: is the replica running/) });
  });
});

describe('handover watch', () => {
  it('settles on handed-over (done) and handover-failed; the channel going down ends only a SIGTERM handover', async () => {
    const w = new HandoverWatch('a');
    const done = w.start('ftcp switchover');
    w.channelDown(); // not for an operator's command: the arbiter decides
    expect(w.active).toBe(true);
    expect(w.onEvent({ type: 'handed-over', epoch: 3, peer: 'b' })).toBe(true);
    expect(await done).toEqual({ ok: true, epoch: 3, peer: 'b', message: 'replica a handed the service over to b, live in epoch 3' });
    const failed = w.start('ftcp switchover');
    expect(w.onEvent({ type: 'handover-failed', epoch: 3, peer: 'b', reason: 'silent' })).toBe(false);
    expect(await failed).toMatchObject({ ok: false, message: expect.stringContaining('serves alone in epoch 4') });
    const term = w.start('SIGTERM');
    w.channelDown();
    expect(await term).toMatchObject({ ok: false });
    expect(w.active).toBe(false);
  });
});
