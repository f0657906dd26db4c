// The relay's per-direction gate (src/lab/tcp-relay.ts), on loopback sockets: held bytes
// arrive later in order, dropped bytes never, and the other direction is untouched.
import * as net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { TcpRelay } from '../../src/lab/tcp-relay.js';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const until = async (what: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 5));
};

it('holds, passes in order and drops, one direction at a time', async () => {
  let serverRead = '';
  let server!: net.Socket;
  const srv = net.createServer((s) => {
    server = s;
    s.on('data', (d) => (serverRead += d.toString()));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  closers.push(() => new Promise<void>((r) => srv.close(() => r())));
  const relay = await TcpRelay.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: (srv.address() as net.AddressInfo).port });
  closers.push(() => relay.close());
  expect(relay.gate('toTarget', 'hold')).toBe(0); // no connection yet

  let clientRead = '';
  const client = net.connect(relay.local.port, '127.0.0.1');
  client.on('data', (d) => (clientRead += d.toString()));
  client.on('error', () => {});
  closers.push(() => void client.destroy());
  await until(() => server !== undefined);
  expect(server).toBeDefined();

  client.write('one ');
  await until(() => serverRead === 'one ');
  expect(serverRead).toBe('one ');

  expect(relay.gate('toTarget', 'hold')).toBe(1);
  client.write('two ');
  server.write('back ');
  await until(() => clientRead === 'back ');
  expect(clientRead).toBe('back '); // the other direction still flows
  await new Promise((r) => setTimeout(r, 50));
  expect(serverRead).toBe('one '); // held

  relay.gate('fromTarget', 'drop');
  relay.gate('toTarget', 'pass');
  client.write('three');
  server.write('lost');
  await until(() => serverRead === 'one two three');
  expect(serverRead).toBe('one two three'); // released in order
  await new Promise((r) => setTimeout(r, 50));
  expect(clientRead).toBe('back '); // dropped
});
