// The schema of child processes' event lines (src/net/events.ts): every kind round-trips
// through JSON and the parser; malformed and unknown lines are rejected with a reason.
import { describe, expect, it } from 'vitest';
import { checkChildEvent, isReplicaEvent, OTHER_EVENTS, parseChildEvent, REPLICA_EVENTS, replicaEvent, type ChildEvent } from '../../src/net/events.js';

const replica = { name: 'a', atMs: 1234.5 };
const key = { source: 'env', id: 'k1' };
const result = { ok: true, app: 'echo', connections: 2, streams: { intact: 2, broken: 0 }, resets: 0, problems: [], duplicateSegmentsDropped: 0, retransmits: 3, stoppedBy: 'done', elapsedMs: 900 };

/** One line of each kind, as its process prints it. */
const SAMPLES: Record<string, Record<string, unknown>> = {
  'replica started': { event: 'started', ...replica, role: 'primary', peer: 'b', alone: false, address: '192.0.2.11', service: '192.0.2.10', link: '127.0.0.1:4000', logListen: '127.0.0.1:5000', logListenPort: 5000, logPeer: null, app: 'echo', upstream: null, seed: 1, heartbeatMs: 10, failureTimeoutMs: 50, outputRule: true, clusterKey: key, captures: { wire: '/c/a.pcapng', shadow: null, log: null }, pid: 42 },
  'replica replica': { event: 'replica', ...replica, role: 'primary', epoch: 1, peer: null },
  'replica superseded': { event: 'superseded', ...replica, epoch: 2 },
  'replica arbiter-error': { event: 'arbiter-error', ...replica, message: 'refused' },
  'replica arbiter-contact': { event: 'arbiter-contact', ...replica, lastContactMs: 10, held: 0 },
  'replica arbiter-fenced': { event: 'arbiter-fenced', ...replica, lastContactMs: 10, held: 3 },
  'replica channel-up': { event: 'channel-up', ...replica, channel: 'listen', peer: '127.0.0.1:6000' },
  'replica channel-down': { event: 'channel-down', ...replica, channel: 'dial', peer: '127.0.0.1:6000', reason: 'closed' },
  'replica channel-refused': { event: 'channel-refused', ...replica, channel: 'listen', peer: '127.0.0.1:6000', reason: 'bad-key', count: 1, message: 'wrong key' },
  'replica channel-connect-failed': { event: 'channel-connect-failed', ...replica, channel: 'dial', message: 'ECONNREFUSED', attempt: 1 },
  'replica announce': { event: 'announce', ...replica, epoch: 1, service: '192.0.2.10' },
  'replica registered': { event: 'registered', ...replica, epoch: 1 },
  'replica announce-failed': { event: 'announce-failed', ...replica, epoch: 1, message: 'timeout' },
  'replica suspect': { event: 'suspect', ...replica, epoch: 1, silentMs: 51.2, reason: 'silence' },
  'replica won': { event: 'won', ...replica, epoch: 1 },
  'replica lost': { event: 'lost', ...replica, epoch: 1, winner: 'b' },
  'replica live': { event: 'live', ...replica, epoch: 2, r: 10, lastIndex: 12, reemitted: 3, reemittedEntries: 2, reason: 'failover' },
  'replica handover': { event: 'handover', ...replica, epoch: 1, peer: 'b', r: 10, lastIndex: 12, held: 2, by: 'SIGTERM' },
  'replica handover-received': { event: 'handover-received', ...replica, epoch: 1, lastIndex: 12, behind: 0 },
  'replica taking-over': { event: 'taking-over', ...replica, epoch: 1, lastIndex: 12 },
  'replica handed-over': { event: 'handed-over', ...replica, epoch: 2, peer: 'b' },
  'replica handover-failed': { event: 'handover-failed', ...replica, epoch: 1, peer: 'b', reason: 'the backup fell silent before it took over' },
  'replica handover-refused': { event: 'handover-refused', ...replica, message: 'no switchover: it has no backup to hand over to', by: 'ftcp switchover' },
  'replica backup-joined': { event: 'backup-joined', ...replica, peer: 'c', epoch: 3, index: 100, snapshotBytes: 4096 },
  'replica joined': { event: 'joined', ...replica, epoch: 3, index: 100 },
  'replica fault': { event: 'fault', ...replica, message: 'state differs', mismatch: { index: 5 } },
  'replica rejected': { event: 'rejected', ...replica, reason: 'crc' },
  'replica divergence': { event: 'divergence', ...replica, conn: 1, offset: 7, what: 'bytes differ' },
  'replica fenced': { event: 'fenced', ...replica, epoch: 2 },
  'replica stopped': { event: 'stopped', ...replica, epoch: 2 },
  'replica failed': { event: 'failed', ...replica, epoch: 2 },
  'replica wrong-role': { event: 'wrong-role', ...replica, message: 'backup b heard nothing from primary a' },
  'replica stale-epoch': { event: 'stale-epoch', ...replica, epoch: 5, message: 'the switch gives 192.0.2.10 to epoch 5' },
  'replica config-mismatch': { event: 'config-mismatch', ...replica, peer: 'b', differences: ['seed (--seed): a has 1, b has 2'], message: 'configured differently' },
  'replica upstream-join-exported': { event: 'upstream-join-exported', ...replica, peer: 'c', index: null, pausedMs: 3, queued: 0, partial: 0 },
  'replica upstream-join-released': { event: 'upstream-join-released', ...replica, peer: 'c', pausedMs: 4 },
  'replica upstream-imported': { event: 'upstream-imported', ...replica, importMs: 5, conns: 2, queued: 0 },
  'replica upstream-join-failed': { event: 'upstream-join-failed', ...replica, side: 'joiner', message: 'no' },
  'replica exit': { event: 'exit', ...replica, reason: 'signal', stats: { role: 'primary', bulkUploads: { 1: { received: 10, sha256: 'ab' } } } },
  'switch listening': { event: 'listening', address: '127.0.0.1', port: 9000, service: '192.0.2.10', capture: null, static: ['192.0.2.1=127.0.0.1:9499'], clusterKey: null },
  'switch registered': { event: 'registered', address: '192.0.2.10', epoch: 1, host: '127.0.0.1:4000' },
  'switch moved': { event: 'moved', address: '192.0.2.10', epoch: 2, from: '127.0.0.1:4000', fromEpoch: 1, to: '127.0.0.1:4001' },
  'switch refused': { event: 'refused', address: '192.0.2.10', epoch: 1, host: '127.0.0.1:4000', holderEpoch: 2 },
  'switch auth-refused': { event: 'auth-refused', reason: 'bad-mac', host: '127.0.0.1:4000', count: 1, message: 'wrong key' },
  'switch stopped': { event: 'stopped', signal: 'SIGTERM', seconds: 3.5, capture: '/c/client.pcapng', stats: { forwarded: 10 } },
  'arbiter listening': { event: 'listening', address: '127.0.0.1', port: 9001, state: '/s.json', flags: [{ service: '192.0.2.10', epoch: 1 }], clusterKey: key },
  'arbiter granted': { event: 'granted', service: '192.0.2.10', epoch: 1, winner: 'b', persistUs: 300, peer: '127.0.0.1:3' },
  'arbiter answered': { event: 'answered', service: '192.0.2.10', epoch: 1, asker: 'a', winner: 'b', peer: '127.0.0.1:3' },
  'arbiter malformed': { event: 'malformed', reason: 'short', peer: '127.0.0.1:3' },
  'arbiter refused': { event: 'refused', reason: 'bad-mac', message: 'wrong key', peer: '127.0.0.1:3' },
  'arbiter stopped': { event: 'stopped', reason: 'signal', seconds: 2, stats: { granted: 1 } },
  'client started': { event: 'started', atMs: 1, app: 'echo', connections: 2, link: '127.0.0.1:7000', pid: 43 },
  'client resumed': { event: 'resumed', atMs: 2 },
  'client progress': { event: 'progress', atMs: 3, bytesReceived: 100, settled: 0 },
  'client result': { event: 'result', ...result, bytesReceived: 100, resumedAtMs: null, readGaps: { thresholdMs: 0.5, reads: 3, firstMs: 10, lastMs: 40, gaps: [[10, 30]], dropped: 0 }, uploads: [{ conn: 1, bytes: 10, sha256: null }], conns: [{ index: 0, intact: true }] },
  'kernel-client started': { event: 'started', atMs: 1, app: 'echo', tool: 'node', connections: 2, kernel: true, pid: 44 },
  'kernel-client result': { event: 'result', ...result, tool: 'nc', counter: { count: 3, consecutive: true }, duplicateSegmentsDropped: null, retransmits: null, atMs: 5 },
  'kernel-server listening': { event: 'listening', app: 'bulk', listen: '10.0.0.1:7070', pid: 45 },
  'kernel-server upload': { event: 'upload', conn: 1, bytes: 10, sha256: 'ab' },
  'kernel-server stopped': { event: 'stopped', signal: 'SIGTERM', connections: 2 },
  'serve serve-run': { event: 'serve-run', name: 'a', atMs: 1, role: 'join', via: 'b' },
  'serve serve-claim': { event: 'serve-claim', name: 'a', atMs: 1, epoch: 1, winner: 'a', won: true },
  'serve serve-restart': { event: 'serve-restart', name: 'a', atMs: 1, reason: 'fenced', backoffMs: 200 },
  'serve serve-unreachable': { event: 'serve-unreachable', name: 'a', atMs: 1, message: 'peer b: nothing listens' },
  'serve serve-waiting': { event: 'serve-waiting', name: 'b', atMs: 1, winner: 'a', message: 'a started epoch 1 ...' },
  'serve metrics': { event: 'metrics', name: 'a', listen: '127.0.0.1:9464' },
  'child text': { event: 'text', text: 'not json', reason: 'not JSON' },
};

describe('parseChildEvent', () => {
  it('has a sample of every kind the schema names', () => {
    const kinds = [...Object.keys(REPLICA_EVENTS).map((k) => `replica ${k}`), ...Object.entries(OTHER_EVENTS).flatMap(([p, events]) => Object.keys(events).map((k) => `${p} ${k}`))];
    expect(Object.keys(SAMPLES).sort()).toEqual(kinds.sort());
  });

  for (const [kind, sample] of Object.entries(SAMPLES)) {
    it(`round-trips ${kind}`, () => {
      const line = JSON.stringify(sample);
      const r = parseChildEvent(line);
      expect(r).toEqual({ ok: true, event: sample });
      if (!r.ok) return;
      expect(JSON.stringify(r.event)).toBe(line);
      // Only a replica's lines count as a replica's (and those of `ftcp serve`'s supervisor
      // that name its replica and carry atMs: it is the replica's process).
      expect(isReplicaEvent(r.event)).toBe(kind.startsWith('replica ') || (kind.startsWith('serve ') && 'atMs' in sample));
    });
  }

  it('tells a replica\'s line from another process\'s line of the same name', () => {
    const r = parseChildEvent(JSON.stringify(SAMPLES['replica registered']));
    const s = parseChildEvent(JSON.stringify(SAMPLES['switch registered']));
    expect(r.ok && replicaEvent(r.event, 'registered')?.name).toBe('a');
    expect(s.ok && replicaEvent(s.event, 'registered')).toBe(undefined);
  });

  it('takes a client result\'s read gaps only as [from, to] pairs', () => {
    const sample = SAMPLES['client result']!;
    const gaps = (g: unknown) => parseChildEvent(JSON.stringify({ ...sample, readGaps: { ...(sample['readGaps'] as object), gaps: g } }));
    expect(gaps([[1, 2], [3, 4]]).ok).toBe(true);
    expect(gaps([[1, 2, 3]]).ok).toBe(false);
    expect(gaps([[1, '2']]).ok).toBe(false);
    expect(gaps([1, 2]).ok).toBe(false);
  });

  it('rejects what is not JSON, not an event, or an unknown event, with a reason', () => {
    expect(parseChildEvent('ftcp replica a: LIVE in epoch 2')).toEqual({ ok: false, reason: 'not JSON' });
    expect(parseChildEvent('[1, 2]')).toEqual({ ok: false, reason: 'not a JSON object' });
    expect(parseChildEvent('null')).toEqual({ ok: false, reason: 'not a JSON object' });
    expect(parseChildEvent('{"epoch": 2}')).toEqual({ ok: false, reason: 'no "event" string' });
    expect(parseChildEvent('{"event": "teleported", "epoch": 2}')).toEqual({ ok: false, reason: 'unknown event "teleported"' });
  });

  it('rejects a known event whose fields are missing or of the wrong type, saying which', () => {
    const { r: _r, ...noR } = SAMPLES['replica live'] as Record<string, unknown>;
    expect(parseChildEvent(JSON.stringify(noR))).toEqual({ ok: false, reason: 'live: r is missing' });
    expect(parseChildEvent(JSON.stringify({ ...SAMPLES['replica live'], epoch: '2' }))).toEqual({ ok: false, reason: 'live: epoch is not a number: "2"' });
    expect(parseChildEvent(JSON.stringify({ ...SAMPLES['replica channel-up'], channel: 'sideways' }))).toEqual({ ok: false, reason: 'channel-up: channel is not "listen" or "dial": "sideways"' });
    // A name several processes print: why it fits none of them.
    const bad = parseChildEvent(JSON.stringify({ event: 'stopped', epoch: 'x' }));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.reason.split('; or ')).toHaveLength(4);
    // Nested fields are checked too.
    expect(checkChildEvent({ ...SAMPLES['client result'], streams: { intact: 1 } }).ok).toBe(false);
    expect(checkChildEvent({ ...SAMPLES['replica exit'], stats: { bulkUploads: { 1: { received: '10' } } } }).ok).toBe(false);
    expect(checkChildEvent({ ...SAMPLES['client result'], problems: ['ok', 3] }).ok).toBe(false);
  });

  it('keeps fields beyond the schema (unknown, but not dropped)', () => {
    const r = checkChildEvent({ ...SAMPLES['replica won'], extra: [1] });
    expect(r.ok && (r.event as ChildEvent)['extra']).toEqual([1]);
  });
});
