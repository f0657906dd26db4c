// `ftcp client` with a switch but no replica serving: one plain line saying nobody
// answered (not "0 answers, exactly 1..n" and a verdict on no data), and a non-zero exit.
import { afterAll, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { describeWithDist, killAll, startCli } from '../helpers/process.js';

afterAll(killAll);

describeWithDist('ftcp client with nobody serving', ['cli/main', 'cli/switch', 'net/switch'], () => {
  it('says nobody answered, and exits non-zero', async () => {
    const sw = startCli(['switch', '--listen', '127.0.0.1:0', '--insecure', '--no-capture']);
    const [, port] = (await sw.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 15_000)) as unknown as [string, string];
    const r = await cli(['client', '--switch', `127.0.0.1:${port}`, '--timeout-ms', '1000', '--connections', '2', '--progress-ms', '0']);
    expect(r.code).not.toBe(0);
    const first = r.stderr.trim().split('\n')[0]!;
    expect(first).toMatch(/^error: ftcp client: nobody answered at 192\.0\.2\.10:7070 within \d+ ms: not one byte came back on any of 2 connection\(s\)/);
    expect(r.stdout).not.toMatch(/answers|exactly 1\.\.n/);
  }, 30_000);
});
