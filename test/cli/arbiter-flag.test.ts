// `--arbiter`: HOST:PORT for the embedded arbiter, etcd://HOST:PORT[,...] for an etcd cluster.
import { describe, expect, it } from 'vitest';
import { parseArbiterFlag } from '../../src/cli/arbiter-flag.js';
import { describeEtcdError } from '../../src/net/arbiter-etcd.js';

describe('--arbiter', () => {
  it('HOST:PORT is the embedded arbiter', () => {
    expect(parseArbiterFlag('--arbiter', '127.0.0.1:9401')).toEqual({ arbiterAt: { host: '127.0.0.1', port: 9401 } });
  });

  it('etcd:// lists the members', () => {
    expect(parseArbiterFlag('--arbiter', 'etcd://127.0.0.1:2379,localhost:22379')).toEqual({
      arbiterAt: { host: '127.0.0.1', port: 2379 },
      arbiterEtcd: [{ host: '127.0.0.1', port: 2379 }, { host: '127.0.0.1', port: 22379 }],
    });
  });

  it('a bad member or an empty list is a usage error naming it', () => {
    expect(() => parseArbiterFlag('--arbiter', 'etcd://')).toThrow(/at least one HOST:PORT/);
    expect(() => parseArbiterFlag('--arbiter', 'etcd://127.0.0.1:2379,127.0.0.1')).toThrow(/etcd member "127.0.0.1"/);
    expect(() => parseArbiterFlag('--arbiter', 'etcd://127.0.0.1:0')).toThrow(/port/);
  });
});

describe('etcd errors in one line', () => {
  it('drops the timings and nested detail of gRPC messages, so repeats read alike', () => {
    class GRPCDeadlineExceededError extends Error {}
    expect(describeEtcdError(new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED: Deadline exceeded after 0.499s,name resolution: 0.001s'))).toBe('GRPCDeadlineExceededError: 4 DEADLINE_EXCEEDED: Deadline exceeded');
    class GRPCUnavailableError extends Error {}
    expect(describeEtcdError(new GRPCUnavailableError('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: '))).toBe(
      'GRPCUnavailableError: 14 UNAVAILABLE: No connection established: connect ECONNREFUSED 127.0.0.1:1',
    );
  });
});
