import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureFile, openCaptureFile } from '../../src/pcap/capture-file.js';
import { collectPcapng } from '../../src/pcap/pcapng.js';
import { readPcapng } from '../../src/pcap/reader.js';
import { buildTcpPacket, parseIpv4Addr, TCP_ACK, TCP_PSH } from '../../src/wire/index.js';
import { checkCaptureWithTshark, itWithTshark } from '../helpers/tshark.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'ftcp-capture-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function record(writer: ReturnType<typeof collectPcapng>['writer']): void {
  const a = writer.addInterface('client');
  const b = writer.addInterface('primary', { description: 'primary replica' });
  for (let i = 0; i < 40; i++) writer.writePacket(i % 2 === 0 ? a : b, 2 ** 32 + i * 997, new Uint8Array(i).fill(i), i % 9 === 0 ? `event ${i}` : undefined);
}

describe('CaptureFile', () => {
  it('writes the same bytes as the in-memory buffer, block by block', () => {
    const path = join(dir, 'sub', 'dir', 'same.pcapng'); // the directory is created
    const { writer, file } = openCaptureFile(path);
    record(writer);
    const mem = collectPcapng();
    record(mem.writer);
    expect(file.bytesWritten).toBe(mem.buffer.byteLength);
    // Every block is on disk before close(): nothing is buffered in the process.
    expect(readFileSync(path)).toEqual(Buffer.from(mem.buffer.toBytes()));
    file.close();
    expect(file.closed).toBe(true);
    expect(readPcapng(readFileSync(path)).packets).toHaveLength(40);
  });

  it('refuses writes after close and tolerates a second close', () => {
    const file = new CaptureFile(join(dir, 'closed.pcapng'));
    file.write(Uint8Array.of(1, 2, 3, 4));
    file.close();
    file.close();
    expect(() => file.write(Uint8Array.of(5))).toThrow(/closed/);
    expect(readFileSync(file.path)).toEqual(Buffer.from([1, 2, 3, 4]));
  });

  it('truncates an existing file', () => {
    const path = join(dir, 'old.pcapng');
    writeFileSync(path, new Uint8Array(1000).fill(7));
    const { file } = openCaptureFile(path);
    file.close();
    expect(readPcapng(readFileSync(path))).toMatchObject({ packets: [], interfaces: [], completeLength: 40 });
  });
});

// A real process writing a capture, killed with SIGKILL mid-run.

/** Transpiles the two modules the child needs (no build step, no loader) into `out`. */
function transpileForChild(out: string): void {
  for (const rel of ['src/pcap/pcapng.ts', 'src/pcap/capture-file.ts']) {
    const js = ts.transpileModule(readFileSync(join(root, rel), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const dest = join(out, rel.replace(/^src\//, '').replace(/\.ts$/, '.js'));
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, js);
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  writeFileSync(
    join(out, 'child.js'),
    `import { openCaptureFile } from './pcap/capture-file.js';
const [path, templateHex] = process.argv.slice(2);
const template = Uint8Array.from(Buffer.from(templateHex, 'hex'));
const { writer } = openCaptureFile(path);
const id = writer.addInterface('client');
const pause = new Int32Array(new SharedArrayBuffer(4));
for (let i = 0; i < 2_000_000; i++) {
  writer.writePacket(id, 2 ** 32 + i * 1000, template, 'packet ' + i);
  if (i % 20 === 19) Atomics.wait(pause, 0, 0, 1); // about 20 packets per millisecond
}
`,
  );
}

const killedPath = join(dir, 'killed.pcapng');

describe('CaptureFile in a process killed with -9', () => {
  it('leaves a file readable up to its last complete block', async () => {
    const childDir = join(dir, 'child');
    transpileForChild(childDir);
    const template = buildTcpPacket(
      { src: parseIpv4Addr('192.0.2.10'), dst: parseIpv4Addr('192.0.2.1'), id: 1, dontFragment: true },
      { srcPort: 7, dstPort: 40000, seq: 1, ack: 1, flags: TCP_ACK | TCP_PSH, window: 512, payload: new TextEncoder().encode('abc') },
    );
    const child = spawn(process.execPath, [join(childDir, 'child.js'), killedPath, Buffer.from(template).toString('hex')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    let seen = 0;
    try {
      const deadline = Date.now() + 30_000;
      while (seen < 500) {
        if (child.exitCode !== null) throw new Error(`child exited early (${child.exitCode}): ${stderr}`);
        if (Date.now() > deadline) throw new Error(`child wrote only ${seen} packets in 30 s: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
        if (existsSync(killedPath)) seen = readPcapng(readFileSync(killedPath)).packets.length;
      }
      child.kill('SIGKILL');
      expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }

    const bytes = readFileSync(killedPath);
    const r = readPcapng(bytes); // does not throw: only the last block may be incomplete
    expect(r.packets.length).toBeGreaterThanOrEqual(seen);
    expect(r.packets.length).toBeLessThan(2_000_000);
    r.packets.forEach((p, i) => {
      if (p.comment !== `packet ${i}` || p.timestampUs !== 2 ** 32 + i * 1000 || Buffer.compare(p.data, template) !== 0) {
        throw new Error(`packet ${i} is wrong: ${JSON.stringify({ comment: p.comment, ts: p.timestampUs })}`);
      }
    });
    expect(r.completeLength + (r.truncated?.available ?? 0)).toBe(bytes.length);
    console.log(`killed writer: ${r.packets.length} packets, ${bytes.length} bytes, last block ${r.truncated ? `cut (${r.truncated.available} bytes)` : 'complete'}`);
  });

  itWithTshark('the killed capture passes the tshark check', () => {
    expect(existsSync(killedPath)).toBe(true);
    const r = readPcapng(readFileSync(killedPath));
    const check = checkCaptureWithTshark(killedPath);
    expect(check).toMatchObject({ packets: r.packets.length, malformed: 0, badChecksums: 0, cutShort: r.truncated !== undefined });
  });
});
