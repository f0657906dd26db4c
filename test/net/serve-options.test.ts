import { describe, expect, it } from 'vitest';
import { parseServeConfig } from '../../src/net/serve-config.js';
import { replicaOptionsFor } from '../../src/net/serve-options.js';

const CONFIG = parseServeConfig(['name: a', 'service: { address: 192.0.2.10, port: 7000, app: kv, seed: 9 }', 'arbiter: etcd://127.0.0.1:2379,127.0.0.1:2380', 'log: { listen: 127.0.0.1:9402, peers: [ { name: b, address: 127.0.0.1:9403 } ] }', 'network: { tap: { port: 9500, socat-port: 9501, mac: 02:66:c0:00:02:0a } }'].join('\n'), 'f.yaml');

describe('serve config to replica options', () => {
  it('a first primary serves alone and listens for its backup', () => {
    const o = replicaOptionsFor(CONFIG, { role: 'primary' });
    expect(o).toMatchObject({ role: 'primary', name: 'a', alone: true, logListen: { host: '127.0.0.1', port: 9402 }, servicePort: 7000, app: 'kv', seed: 9, outputRule: true });
    expect(o.logPeer).toBeUndefined();
    expect(o.arbiterEtcd).toHaveLength(2);
    expect(o.tap).toEqual({ port: 9500, socatPort: 9501, prefixLength: 24, mac: 0x0266c000020a });
  });

  it('a joining backup dials the live peer and still listens, for the next backup after it goes live', () => {
    const o = replicaOptionsFor(CONFIG, { role: 'join', via: CONFIG.peers[0]! });
    expect(o).toMatchObject({ role: 'join', peer: 'b', logPeer: { host: '127.0.0.1', port: 9403 }, logListen: { host: '127.0.0.1', port: 9402 } });
    expect(o.alone).toBeUndefined();
    expect(o.etcdContactTimeoutMs).toBeUndefined();
  });

  it('timing.etcd-contact-timeout-ms reaches the etcd arbiter of every run', () => {
    const c = { ...CONFIG, etcdContactTimeoutMs: 3000 };
    expect(replicaOptionsFor(c, { role: 'primary' }).etcdContactTimeoutMs).toBe(3000);
    expect(replicaOptionsFor(c, { role: 'join', via: c.peers[0]! }).etcdContactTimeoutMs).toBe(3000);
  });

  it('the config\'s profile reaches every run (the log channel\'s hello compares it)', () => {
    expect(replicaOptionsFor(CONFIG, { role: 'primary' }).profile).toBeUndefined();
    const c = { ...CONFIG, profile: 'linux' as const };
    expect(replicaOptionsFor(c, { role: 'primary' }).profile).toBe('linux');
    expect(replicaOptionsFor(c, { role: 'join', via: c.peers[0]! }).profile).toBe('linux');
  });
});
