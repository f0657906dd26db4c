// The bulk soak's upload checks: pending uploads compared with the digests a replica's
// control socket gives (`stats`); a wrong or missing digest is a broken upload; nobody
// answering leaves them pending, and pending at the end counts as not checked.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ControlServer, type ControlReply } from '../../src/net/switchover.js';
import { UploadChecks } from '../../src/lab/soak-uploads.js';

const root = mkdtempSync(join(tmpdir(), 'ftcp-soak-uploads-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('soak upload checks', () => {
  it('counts a matching digest as checked, a wrong or missing one (or an unknown connection) as broken', () => {
    const broken: string[] = [];
    const u = new UploadChecks((p) => broken.push(p));
    u.add([
      { round: 1, conn: 3, bytes: 5, sha256: sha('hello') },
      { round: 1, conn: 4, bytes: 5, sha256: sha('hello') },
      { round: 2, conn: 5, bytes: 5, sha256: sha('hello') },
      { round: 2, conn: null, bytes: 5, sha256: sha('hello') },
    ]);
    expect(u.due(0, 3000)).toBe(true);
    u.check({ '3': { received: 5, sha256: sha('hello') }, '4': { received: 5, sha256: sha('jello') } });
    expect(u.counts).toEqual({ checked: 4, broken: 3, unchecked: 0 });
    expect(broken[0]).toMatch(/^load round 1: bulk: connection 4 uploaded 5 bytes .* but the server app has 5 bytes/);
    expect(broken[1]).toMatch(/^load round 2: bulk: connection 5 .* no digest/);
    expect(u.waiting).toBe(0);
    expect(u.due(0, 3000)).toBe(false);
  });

  it('asks a control socket for `stats`; no answer keeps the uploads pending, and the end counts them unchecked', async () => {
    const path = join(root, 'p.sock');
    let answer = true;
    const server = await ControlServer.listen(path, async function* (command): AsyncIterable<ControlReply> {
      if (!answer || command !== 'stats') yield { ok: false, stage: 'refused', message: 'no' };
      else yield { ok: true, stage: 'stats', message: 'statistics', stats: { bulkUploads: { '7': { received: 2, sha256: sha('ok') } } } };
    });
    try {
      const u = new UploadChecks(() => {});
      u.add([{ round: 9, conn: 7, bytes: 2, sha256: sha('ok') }]);
      answer = false;
      expect(await u.askAndCheck(path, 1000)).toBe(false);
      expect(u.waiting).toBe(1);
      expect(u.due(2000, 3000)).toBe(false); // asked at 1000: not again before 4000
      expect(u.due(2000, 3000, true)).toBe(true);
      answer = true;
      expect(await u.askAndCheck(path, 4000)).toBe(true);
      expect(u.counts).toEqual({ checked: 1, broken: 0, unchecked: 0 });
      u.add([{ round: 10, conn: 8, bytes: 2, sha256: sha('ok') }]);
      expect(await u.askAndCheck(join(root, 'nobody.sock'), 8000)).toBe(false);
      u.end();
      expect(u.counts).toEqual({ checked: 1, broken: 0, unchecked: 1 });
    } finally {
      await server.close();
    }
  });
});
