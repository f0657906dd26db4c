// Seeded fuzzing of the wire codecs: random and mutated packets must never make a parser
// throw or read past its buffer. The seed is printed; FTCP_FUZZ_SEED=<n> reproduces a run.
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/tcp/prng.js';
import { buildTcpPacket, parseIpv4, parseTcp, parseTcpPacket, TCP_ACK, TCP_SYN, type TcpOption } from '../../src/wire/index.js';

const seed = process.env.FTCP_FUZZ_SEED !== undefined ? Number(process.env.FTCP_FUZZ_SEED) : 20261125;
const ITERATIONS = 20_000;

/** A view that throws on any index outside [0, length): proves no parser reads past the end. */
function guarded(bytes: Uint8Array): Uint8Array {
  return new Proxy(bytes, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && /^-?\d+$/.test(prop)) {
        const i = Number(prop);
        if (i < 0 || i >= target.length) throw new Error(`read past buffer: index ${i}, length ${target.length}`);
        return target[i];
      }
      if (prop === 'subarray') return (start?: number, end?: number) => guarded(target.subarray(start, end));
      const v = Reflect.get(target, prop, receiver === undefined ? target : target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

function validPacket(rng: Prng): Uint8Array {
  const options: TcpOption[] = [];
  if (rng.chance(0.5)) options.push({ kind: 'mss', mss: rng.below(65536) });
  if (rng.chance(0.5)) options.push({ kind: 'sackOk' });
  if (rng.chance(0.5)) options.push({ kind: 'ts', val: rng.nextU32(), ecr: rng.nextU32() });
  if (rng.chance(0.3)) options.push({ kind: 'nop' }, { kind: 'wscale', shift: rng.below(16) });
  if (rng.chance(0.3) && options.length < 3) options.push({ kind: 'sack', blocks: [{ left: rng.nextU32(), right: rng.nextU32() }] });
  const payload = new Uint8Array(rng.below(200));
  for (let i = 0; i < payload.length; i++) payload[i] = rng.below(256);
  return buildTcpPacket(
    { src: 0xc0000201, dst: 0xc000020a, id: rng.below(65536) },
    { srcPort: rng.below(65536), dstPort: rng.below(65536), seq: rng.nextU32(), ack: rng.nextU32(), flags: rng.chance(0.5) ? TCP_SYN : TCP_ACK, window: rng.below(65536), options, payload },
  );
}

function mutate(rng: Prng, p: Uint8Array): Uint8Array {
  const out = p.slice();
  const n = 1 + rng.below(4);
  for (let k = 0; k < n; k++) {
    switch (rng.below(4)) {
      case 0: // flip a bit
        if (out.length) out[rng.below(out.length)] ^= 1 << rng.below(8);
        break;
      case 1: // random byte, biased to the headers
        if (out.length) out[rng.below(Math.min(out.length, 60))] = rng.below(256);
        break;
      case 2: // truncate
        return out.subarray(0, rng.below(out.length + 1));
      case 3: // extend with garbage
        return Uint8Array.from([...out, ...Array.from({ length: rng.below(8) }, () => rng.below(256))]);
    }
  }
  return out;
}

describe(`wire fuzz (seed ${seed}, FTCP_FUZZ_SEED=${seed} to reproduce)`, () => {
  it('never throws or reads past the buffer on random and mutated packets', () => {
    console.log(`wire fuzz seed: ${seed}`);
    const rng = new Prng(seed);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < ITERATIONS; i++) {
      let bytes: Uint8Array;
      if (i % 4 === 0) {
        bytes = new Uint8Array(rng.below(100));
        for (let j = 0; j < bytes.length; j++) bytes[j] = rng.below(256);
        if (bytes.length > 0 && rng.chance(0.7)) bytes[0] = 0x45;
      } else {
        bytes = mutate(rng, validPacket(rng));
      }
      try {
        const r = parseTcpPacket(guarded(bytes), rng.chance(0.5));
        parseIpv4(guarded(bytes));
        parseTcp(1, 2, guarded(bytes.subarray(Math.min(20, bytes.length))));
        const key = r.ok ? 'ok' : r.reason;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      } catch (e) {
        throw new Error(`seed ${seed} iteration ${i}: parser threw on ${Buffer.from(bytes).toString('hex')}: ${String(e)}`);
      }
    }
    // The fuzzer must exercise both acceptance and several rejection paths.
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(100);
    for (const reason of ['ipv4-truncated', 'ipv4-bad-checksum', 'tcp-bad-checksum']) expect(outcomes.get(reason) ?? 0).toBeGreaterThan(0);
  });

  it('accepts every unmutated valid packet exactly', () => {
    const rng = new Prng(seed ^ 0x5a5a);
    for (let i = 0; i < 2000; i++) {
      const p = validPacket(rng);
      const r = parseTcpPacket(guarded(p));
      expect(r.ok, `seed ${seed} packet ${i}`).toBe(true);
    }
  });
});
