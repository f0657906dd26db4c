import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nearestWord, parseServeConfig, ServeConfigError } from '../../src/net/serve-config.js';

const GOOD = [
  'name: a', // 1
  'service:', // 2
  '  address: 192.0.2.10', // 3
  '  port: 7070', // 4
  'arbiter: 127.0.0.1:9400', // 5
  'log:', // 6
  '  listen: 127.0.0.1:9402', // 7
  '  peers:', // 8
  '    - name: b', // 9
  '      address: 127.0.0.1:9403', // 10
  'network:', // 11
  '  switch: 127.0.0.1:9401', // 12
].join('\n');

function errorOf(text: string): string {
  try {
    parseServeConfig(text, 'f.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ServeConfigError);
    const message = (e as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected a ServeConfigError');
}

describe('ftcp serve config', () => {
  it('reads a good config with its defaults', () => {
    const c = parseServeConfig(GOOD, 'f.yaml');
    expect(c.name).toBe('a');
    expect(c.service).toEqual({ address: 0xc000020a, port: 7070, app: 'counter', seed: 1, bulkBytes: 1_000_000 });
    expect(c.arbiterAt).toEqual({ host: '127.0.0.1', port: 9400 });
    expect(c.arbiterEtcd).toBeUndefined();
    expect(c.peers).toEqual([{ name: 'b', address: { host: '127.0.0.1', port: 9403 } }]);
    expect(c.switchAt).toEqual({ host: '127.0.0.1', port: 9401 });
    expect([c.heartbeatMs, c.failureTimeoutMs, c.rejoinBackoffMs]).toEqual([10, 50, 200]);
  });

  it('reads the example in docs/examples', () => {
    const c = parseServeConfig(readFileSync('docs/examples/ftcp.yaml', 'utf8'), 'ftcp.yaml');
    expect(c.arbiterEtcd).toHaveLength(3);
    expect(c.tap).toEqual({ port: 9500, socatPort: 9501, prefixLength: 24 });
  });

  it('an unknown key names the file:line, the key and the nearest valid word', () => {
    expect(errorOf(GOOD.replace('  listen:', '  listn:'))).toBe('f.yaml:7: log.listn: unknown key (did you mean listen?); known: listen, peers');
    expect(errorOf(`${GOOD}\nfoo: 1`)).toMatch(/^f\.yaml:13: foo: unknown key; known: name, /);
    expect(errorOf(GOOD.replace('    - name: b', '    - nme: b'))).toMatch(/^f\.yaml:9: log\.peers\[0\]\.nme: unknown key \(did you mean name\?\)/);
  });

  it('a bad address names the key and line', () => {
    expect(errorOf(GOOD.replace('127.0.0.1:9401', '127.0.0.1:99999'))).toBe('f.yaml:12: network.switch: bad address: the port must be 1..65535, got 99999');
    expect(errorOf(GOOD.replace('192.0.2.10', '192.0.2.300'))).toMatch(/^f\.yaml:3: service\.address: bad address: /);
    expect(errorOf(GOOD.replace('127.0.0.1:9400', 'etcd://'))).toMatch(/^f\.yaml:5: arbiter: bad address: etcd:\/\/ needs/);
    expect(errorOf(GOOD.replace('127.0.0.1:9400', 'host.example:9400'))).toMatch(/^f\.yaml:5: arbiter: bad address: the host must be an IPv4/);
  });

  it('a missing service IP or other required key is named', () => {
    expect(errorOf(GOOD.replace('  address: 192.0.2.10\n', ''))).toBe('f.yaml:3: service.address: is required');
    expect(errorOf(GOOD.replace('name: a\n', ''))).toBe('f.yaml:1: name: is required');
    expect(errorOf(GOOD.replace('network:\n  switch: 127.0.0.1:9401', ''))).toMatch(/^f\.yaml:1: network: is required/);
  });

  it('wrong shapes and values are named', () => {
    expect(errorOf(GOOD.replace('  port: 7070', '  port: seventy'))).toBe('f.yaml:4: service.port: must be a whole number from 1 to 65535, got seventy');
    expect(errorOf(GOOD.replace('service:\n  address: 192.0.2.10\n  port: 7070', 'service: 3'))).toBe('f.yaml:2: service: must be a mapping (key: value lines)');
    expect(errorOf(GOOD.replace('    - name: b', '    - name: a'))).toMatch(/^f\.yaml:9: log\.peers: names this replica itself/);
    expect(errorOf(`${GOOD}\n  tap: { port: 1, socat-port: 2 }`)).toMatch(/^f\.yaml:11: network: needs exactly one of switch or tap/);
    expect(errorOf(`${GOOD}\ntiming: { heartbeat-ms: 50, failure-timeout-ms: 50 }`)).toMatch(/^f\.yaml:13: timing\.failure-timeout-ms: \(50\) must be longer/);
    expect(errorOf(`${GOOD}\ntiming: { failure-timeout-ms: 50, failure-timeout-max-ms: 40 }`)).toMatch(/^f\.yaml:13: timing\.failure-timeout-max-ms: \(40\) must be at least timing\.failure-timeout-ms \(50\)/);
    expect(parseServeConfig(`${GOOD}\ntiming: { failure-timeout-ms: 50, failure-timeout-max-ms: 400 }`, 'f.yaml').failureTimeoutMaxMs).toBe(400);
    expect(parseServeConfig(`${GOOD}\ntiming: { failure-timeout-start-ms: 800 }`, 'f.yaml').failureTimeoutStartMs).toBe(800);
    expect(parseServeConfig(GOOD, 'f.yaml').failureTimeoutStartMs).toBeUndefined();
    expect(errorOf(`${GOOD}\ntiming: { failure-timeout-ms: 50, failure-timeout-start-ms: 40 }`)).toMatch(/^f\.yaml:13: timing\.failure-timeout-start-ms: \(40\) must be at least timing\.failure-timeout-ms \(50\)/);
    expect(errorOf(`${GOOD}\ntiming: { failure-timeout-max-ms: 900, failure-timeout-start-ms: 500 }`)).toMatch(/timing\.failure-timeout-start-ms: \(500\) must be at least timing\.failure-timeout-max-ms \(900\)/);
    expect(parseServeConfig(GOOD, 'f.yaml').failureTimeoutMaxMs).toBeUndefined();
    expect(parseServeConfig(`${GOOD}\ntiming: { etcd-contact-timeout-ms: 3000 }`, 'f.yaml').etcdContactTimeoutMs).toBe(3000);
    expect(parseServeConfig(GOOD, 'f.yaml').etcdContactTimeoutMs).toBeUndefined();
    expect(errorOf(`${GOOD}\ntiming: { etcd-contact-timeout-ms: 5 }`)).toBe('f.yaml:13: timing.etcd-contact-timeout-ms: must be a whole number from 100 to 600000, got 5');
    expect(parseServeConfig(GOOD, 'f.yaml').nice).toBe(-10);
    expect(parseServeConfig(`${GOOD}\nnice: 0`, 'f.yaml').nice).toBe(0);
    expect(parseServeConfig(`${GOOD}\nnice: -15`, 'f.yaml').nice).toBe(-15);
    expect(errorOf(`${GOOD}\nnice: -21`)).toBe('f.yaml:13: nice: must be a whole number from -20 to 19, got -21');
    expect(errorOf(`${GOOD}\nnice: high`)).toBe('f.yaml:13: nice: must be a whole number from -20 to 19, got high');
    expect(parseServeConfig(`${GOOD}\nprofile: linux`, 'f.yaml').profile).toBe('linux');
    expect(parseServeConfig(GOOD, 'f.yaml').profile).toBeUndefined();
    expect(errorOf(`${GOOD}\nprofile: bsd`)).toBe('f.yaml:13: profile: must be rfc or linux, got bsd');
    expect(errorOf(GOOD.replace('  port: 7070', '  port: 7070\n  app: countr'))).toMatch(/^f\.yaml:5: service\.app: must be one of .*did you mean counter/);
  });

  it('YAML that does not parse, or a key given twice, is one line with its line number', () => {
    expect(errorOf(`${GOOD}\nname: b`)).toMatch(/^f\.yaml:13: not valid YAML: /);
    expect(errorOf('name: [a')).toMatch(/^f\.yaml:\d+: not valid YAML: /);
    expect(errorOf('')).toBe('f.yaml:1: must be a mapping (key: value lines)');
  });

  it('nearestWord only suggests close words', () => {
    expect(nearestWord('listn', ['listen', 'peers'])).toBe('listen');
    expect(nearestWord('zzzzzz', ['listen', 'peers'])).toBeUndefined();
  });
});
