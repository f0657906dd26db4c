// The report page of a real `ftcp demo failover` run, rendered by headless Chromium: the
// kill, go-live and the re-sent segments are drawn (read back from the DOM), the page
// fetches nothing, and a screenshot stays in the run folder.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeChromium, dumpDom, screenshot } from '../helpers/chromium.js';
import { describeWithDist } from '../helpers/process.js';

describeWithDist('report page of a demo run', ['lab/report/html', 'lab/demo/live', 'cli/demo'], () => {
  describeChromium('report page in headless Chromium', () => {
    it('draws the kill, go-live, re-sent segments and the client\'s answer to them, and loads nothing', () => {
      const caps = mkdtempSync(join(tmpdir(), 'ftcp-report-'));
      // Generous timeouts: the machine is shared; a false failover is not what this tests.
      const out = execFileSync('node', ['bin/ftcp.js', 'demo', 'failover', '--seed', '7', '--failure-timeout-ms', '300', '--heartbeat-ms', '30', '--capture-dir', caps], { encoding: 'utf8', timeout: 240_000 });
      const page = /^report: (.+)$/m.exec(out)?.[1];
      expect(page, out).toBeDefined();
      const html = readFileSync(page!, 'utf8');
      expect(html).toContain(`default-src 'none'`);
      expect(html.match(/(?:src|href)="https?:/g) ?? []).toEqual([]);

      const dom = dumpDom(page!);
      expect(dom).toContain('data-kind="kill"');
      expect(dom).toContain('data-kind="live"');
      expect(dom).toMatch(/data-kind="reemitted"[^>]*data-frame="b\.pcapng#\d+"/);
      expect(dom).toContain('client answers (dup ACK / D-SACK after go-live)');
      // The demo kills the primary with output in flight: a byte-identical re-sent segment
      // reaches a client that had it, and its answer (duplicate ACK or D-SACK) is drawn.
      const verdict = JSON.parse(readFileSync(join(page!, '..', 'report.json'), 'utf8')) as { reemitted: { identicalToPrimary: number; droppedByClient: number } };
      expect(verdict.reemitted.identicalToPrimary, out).toBeGreaterThan(0);
      expect(verdict.reemitted.droppedByClient, out).toBeGreaterThan(0);
      expect(out).toMatch(/the client had it and dropped it: (duplicate ACK|ACK \d+ with a D-SACK)/);
      expect(dom).toContain('data-kind="answer"');
      expect(dom).toMatch(/client answers a re-sent segment: (D-SACK|duplicate ACK)/);

      const png = join(page!, '..', 'report.png');
      screenshot(page!, png);
      expect(existsSync(png) && statSync(png).size > 10_000).toBe(true);
      console.log(`report screenshot: ${png}`);
    }, 300_000);
  });
});
