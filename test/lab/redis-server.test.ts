// redis-server as a child (src/lab/redis-server.ts): its own port and directory, stopped by
// pid, and gone even when the process that started it is killed with SIGKILL (the watchdog);
// COMMAND, whose replies differ between two instances, turned off.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { RedisServer } from '../../src/lab/redis-server.js';
import { RedisConnection } from '../../src/net/redis-connection.js';
import { describeRedis } from '../helpers/redis.js';
import { alive, describeWithDist, root } from '../helpers/process.js';

/** Sends `request` (RESP) on a new connection and resolves with the first reply line. */
function rawReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const nl = text.indexOf('\r\n');
      if (nl >= 0) {
        socket.destroy();
        resolve(text.slice(0, nl));
      }
    });
    socket.on('error', reject);
  });
}

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

describeRedis('redis-server as a child process', () => {
  it('two at once get two ports, two pids, two empty directories; stop() ends each by pid and removes its directory', async () => {
    const [a, b] = await Promise.all([RedisServer.start('a'), RedisServer.start('b')]);
    try {
      expect(a!.port).not.toBe(b!.port);
      expect(a!.pid).not.toBe(b!.pid);
      const c = await RedisConnection.open(a!.endpoint);
      const info = await c.info('server');
      expect(info.get('process_id')).toBe(String(a!.pid));
      expect((await c.ok(['DBSIZE'])).value).toBe(0);
      expect((await c.ok(['CONFIG', 'GET', 'save'])).value).toEqual([{ type: 'bulk', value: new TextEncoder().encode('save') }, { type: 'bulk', value: new Uint8Array(0) }]);
      c.close();
    } finally {
      await Promise.all([a!.stop(), b!.stop()]);
    }
    for (const s of [a!, b!]) {
      expect(alive(s.pid)).toBe(false);
      expect(existsSync(s.dir)).toBe(false);
    }
  }, 60_000);

  it('two servers answer COMMAND DOCS with the same bytes: COMMAND is off, since its reply order is drawn per process', async () => {
    const [a, b] = await Promise.all([RedisServer.start('a'), RedisServer.start('b')]);
    try {
      // redis-cli 7 sends this first on every connection; the two answers must not diverge.
      const replies = await Promise.all([a!, b!].map((s) => rawReply(s.port, '*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n')));
      expect(replies[0]).toMatch(/^-ERR unknown command 'COMMAND'/);
      expect(replies[1]).toBe(replies[0]);
    } finally {
      await Promise.all([a!.stop(), b!.stop()]);
    }
  }, 60_000);

  describeWithDist('the watchdog', ['lab/redis-server', 'net/resp'], () => {
    it('a kill -9 of the process that started it stops the server too, and its directory is removed', async () => {
      const script = `import { RedisServer } from ${JSON.stringify(join(root, 'dist', 'lab', 'redis-server.js'))}; const s = await RedisServer.start('orphan'); console.log(s.pid, s.dir); setInterval(() => {}, 1000);`;
      const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const [pid, dir] = await new Promise<[number, string]>((resolve, reject) => {
        parent.stdout!.once('data', (d: Buffer) => {
          const [p, at] = d.toString().trim().split(' ');
          resolve([Number(p), at!]);
        });
        parent.once('exit', () => reject(new Error('the parent exited before starting redis-server')));
      });
      expect(alive(pid)).toBe(true);
      process.kill(parent.pid!, 'SIGKILL');
      expect(await gone(pid, 10_000)).toBe(true);
      const deadline = Date.now() + 5000;
      while (existsSync(dir) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(dir)).toBe(false);
    }, 60_000);
  });
});
