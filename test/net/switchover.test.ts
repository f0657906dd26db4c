// The control socket of `ftcp switchover` and the handover watch, without replicas.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ControlServer, HandoverWatch, sendControl, type ControlReply } from '../../src/net/switchover.js';
import { until } from '../helpers/net.js';

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
    let firstReply!: () => void;
    const firstSeen = new Promise<void>((r) => (firstReply = r));
    const pending = sendControl(path, 'switchover', 5000, () => firstReply());
    await firstSeen; // the first reply is out, the second not yet (a loaded machine may take longer to accept)
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

  it('handed over: done only once the switch has moved the address (then a grace), or at the bound without word from it', async () => {
    const handed = { type: 'handed-over', epoch: 2, peer: 'b' } as const;
    // The address moves after the handover: nothing ends before the switch's word.
    const w = new HandoverWatch('a');
    const done = w.start('SIGTERM');
    let finished = false;
    w.finishWhenMoved(handed, 1, 600_000, () => (finished = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(finished).toBe(false);
    expect(w.active).toBe(true);
    w.addressMoved();
    expect(await done).toMatchObject({ ok: true, epoch: 2 });
    await until(() => finished, 5000, 'the finish');
    // The address moved before the handover ended: done after the grace alone.
    const early = new HandoverWatch('a');
    const earlyDone = early.start('ftcp switchover');
    early.addressMoved();
    early.finishWhenMoved(handed, 1, 600_000, () => {});
    expect(await earlyDone).toMatchObject({ ok: true });
    // No word from the switch (a TAP link, a lost datagram): the bound ends it.
    const silent = new HandoverWatch('a');
    const silentDone = silent.start('SIGTERM');
    silent.finishWhenMoved(handed, 1, 20, () => {});
    expect(await silentDone).toMatchObject({ ok: true });
  });
});
