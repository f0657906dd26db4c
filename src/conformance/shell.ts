/**
 * What a script's backquoted shell lines mean to the runner. The public suites set the
 * kernel up with them: packetdrill's `defaults.sh`, then `sysctl -q net.ipv4.tcp_...=N`,
 * `set_sysctls.py /proc/sys/net/ipv4/tcp_...=N` and restores at the end. The runner has no
 * shell; it reads those lines instead. A sysctl with a setting of the same meaning becomes
 * that setting, as if the script had written its `--option` line (so both targets honour it:
 * ftcp through StackConfig, the linux target through the same sysctl); a sysctl set to the
 * value packetdrill's defaults already give changes nothing; a restore or a metrics flush has
 * nothing to undo on a fresh stack. Anything else is not run, and a warning names its line:
 * a script never passes believing a shell line did what it did not.
 *
 * Only untimed lines (before the events) are read this way; a timed one (`+0 \`...\``)
 * would change a running stack and stays a skipped event (script.ts SkippedEvent).
 */
import type { Script, ScriptOption, ShellCommand } from './script.js';
import { sysctlsWithout } from './packetdrill-sysctls.js';
import { resolveSettings, type RunSettings } from './settings.js';

/**
 * packetdrill's defaults (packetdrill-sysctls.ts): a line that sets one of these to its value
 * changes nothing. But `tcp_notsent_lowat`: ftcp has no setting for that sysctl, and a line
 * that sets it, to any value, is reported. (A name in SYSCTL_OPTIONS never gets here.)
 */
const DEFAULTS: Readonly<Record<string, string>> = sysctlsWithout(['tcp_notsent_lowat']);

type Translate = (value: string) => { name: string; value: string } | string;

const bool = (name: string): Translate => (v) => (v === '0' || v === '1' ? { name, value: v } : `${name} takes 0 or 1 here`);
const count = (name: string, min: number, max: number): Translate => (v) =>
  /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max ? { name, value: v } : `${name} takes ${min} to ${max} here`;

/** Sysctls with a setting of the same meaning (the option name the script could have written). */
const SYSCTL_OPTIONS: Readonly<Record<string, Translate>> = {
  // RFC 7323: 2 is timestamps without a random offset; the offset is the stack's own either way.
  tcp_timestamps: (v) => (v === '0' || v === '1' || v === '2' ? { name: 'timestamps', value: v === '0' ? '0' : '1' } : 'timestamps takes 0, 1 or 2'),
  tcp_sack: bool('sack'),
  tcp_dsack: bool('dsack'),
  tcp_window_scaling: bool('window_scaling'),
  tcp_syncookies: bool('syn_cookies'),
  tcp_retries2: count('max_retries', 0, 1000),
  tcp_keepalive_probes: count('keep_alive_probes', 1, 1000),
  tcp_keepalive_time: (v) => (/^\d+$/.test(v) && Number(v) > 0 ? { name: 'keep_alive_idle_ms', value: String(Number(v) * 1000) } : 'tcp_keepalive_time takes whole seconds'),
  tcp_keepalive_intvl: (v) => (/^\d+$/.test(v) && Number(v) > 0 ? { name: 'keep_alive_interval_ms', value: String(Number(v) * 1000) } : 'tcp_keepalive_intvl takes whole seconds'),
  tcp_congestion_control: (v) => (v === 'cubic' || v === 'reno' ? { name: 'congestion_control', value: v === 'reno' ? 'newreno' : v } : `the stack has cubic and reno, not ${v}`),
  tcp_min_tso_segs: count('min_tso_segs', 1, 255),
  tcp_slow_start_after_idle: bool('slow_start_after_idle'),
};

/** A command line cut into words: quotes removed, `$((a*b))` evaluated, redirections dropped. */
function words(command: string): string[] {
  const out: string[] = [];
  const re = /(?:"[^"]*"|'[^']*'|[^\s"'])+/g;
  for (let m = re.exec(command); m !== null; m = re.exec(command)) {
    const word = m[0].replace(/"([^"]*)"|'([^']*)'/g, (_q, a: string | undefined, b: string | undefined) => a ?? b ?? '').replace(/\$\(\(([\d*+ ]+)\)\)/g, (_all, expr: string) => String(arith(expr)));
    if (/^\d*>/.test(word)) {
      if (/^\d*>&?$/.test(word)) re.exec(command); // `> /dev/null`: the target goes too
      continue;
    }
    out.push(word);
  }
  return out;
}

function arith(expr: string): number {
  return expr.split('+').reduce((sum, term) => sum + term.split('*').reduce((p, f) => p * Number(f.trim()), 1), 0);
}

/** `net.ipv4.tcp_sack`, `net/ipv4/tcp_sack` or `/proc/sys/net/ipv4/tcp_sack`: the sysctl's last part, for net.ipv4 ones. */
function ipv4Sysctl(path: string): string | undefined {
  const m = /^(?:\/proc\/sys\/)?net[./]ipv4[./](\w+)$/.exec(path);
  return m?.[1];
}

/** The single commands of a shell line: continuations joined, split at line ends and `;`. */
function commands(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split(/[\n;]/)
    .map((c) => c.trim())
    .filter((c) => c !== '' && !c.startsWith('#'));
}

interface Reading {
  options: ScriptOption[];
  warnings: string[];
  /** Files the lines write (`dd`), by path: their sizes (files.ts emulates them). */
  files: Map<string, number>;
}

/** dd's byte counts: N, or N with a k/K (1024) or M (1024 * 1024) suffix. */
function ddBytes(v: string | undefined): number | undefined {
  const m = /^(\d+)([kKM]?)$/.exec(v ?? '');
  if (m === null) return undefined;
  return Number(m[1]) * (m[2] === '' ? 1 : m[2] === 'M' ? 1024 * 1024 : 1024);
}

/**
 * `dd if=/dev/zero of=PATH bs=N count=M`: the file holds N * M zero bytes, which open() and
 * sendfile() then read (files.ts); `rm -f PATH` forgets it. Nothing is written to disk.
 */
function readFileCommand(cmd: ShellCommand, w: string[], command: string, out: Reading): boolean {
  const program = w[0]!.replace(/^\/(usr\/)?bin\//, '');
  if (program === 'rm') {
    for (const p of w.slice(1).filter((a) => !a.startsWith('-'))) out.files.delete(p);
    return true;
  }
  if (program !== 'dd') return false;
  const arg = (k: string) => w.find((a) => a.startsWith(`${k}=`))?.slice(k.length + 1);
  const path = arg('of');
  const bs = ddBytes(arg('bs') ?? '512');
  const count = ddBytes(arg('count'));
  if (arg('if') !== '/dev/zero' || path === undefined || bs === undefined || count === undefined) {
    out.warnings.push(`line ${cmd.line}: shell command not run: ${command} (files are emulated only from dd if=/dev/zero of=PATH bs=N count=M)`);
    return true;
  }
  out.files.set(path, bs * count);
  return true;
}

function readSysctl(cmd: ShellCommand, assignment: string, out: Reading): void {
  const eq = assignment.indexOf('=');
  const name = eq < 0 ? undefined : ipv4Sysctl(assignment.slice(0, eq));
  const value = eq < 0 ? '' : assignment.slice(eq + 1).trim().replace(/\s+/g, ' ');
  if (name === undefined) {
    out.warnings.push(`line ${cmd.line}: shell: ${assignment} not set (the runner sets net.ipv4 TCP sysctls only)`);
    return;
  }
  const translate = SYSCTL_OPTIONS[name];
  if (translate !== undefined) {
    const t = translate(value);
    if (typeof t === 'string') out.warnings.push(`line ${cmd.line}: shell: ${name}=${value} not set (${t})`);
    else out.options.push({ line: cmd.line, column: 1, name: t.name, value: t.value });
    return;
  }
  if (DEFAULTS[name] === value) return; // what packetdrill's defaults already set: nothing changes
  out.warnings.push(`line ${cmd.line}: shell: ${name}=${value} not set (no setting of the same meaning; see docs/conformance.md "Shell lines")`);
}

function readCommand(cmd: ShellCommand, command: string, out: Reading): void {
  const w = words(command);
  const program = w[0] ?? '';
  if (program.endsWith('defaults.sh')) return; // packetdrill's defaults: what every run starts from
  if (/^\/tmp\/sysctl_restore_/.test(program)) return; // undoes set_sysctls.py: a fresh stack has nothing to undo
  if (program === 'ip' && w[1] === 'tcp_metrics' && w[2] === 'flush') return; // no metrics are kept between connections
  if (readFileCommand(cmd, w, command, out)) return;
  if (program === 'sysctl') {
    const assignments = w.slice(1).filter((a) => !a.startsWith('-'));
    for (const a of assignments) readSysctl(cmd, a, out);
    return;
  }
  if (program.endsWith('set_sysctls.py') || program.startsWith('/proc/sys/')) {
    for (const a of program.startsWith('/proc/sys/') ? w : w.slice(1)) readSysctl(cmd, a, out);
    return;
  }
  out.warnings.push(`line ${cmd.line}: shell command not run: ${command} (the runner has no shell and no setting of the same meaning)`);
}

/** The settings of a script: its option lines, then what its untimed shell lines set (later ones win). */
export function resolveScript(script: Script): { options: ScriptOption[]; settings: RunSettings; warnings: string[] } {
  const out: Reading = { options: [...script.options], warnings: [], files: new Map() };
  for (const cmd of script.shell) for (const c of commands(cmd.text)) readCommand(cmd, c, out);
  const resolved = resolveSettings(out.options);
  const settings = out.files.size > 0 ? { ...resolved.settings, files: out.files } : resolved.settings;
  return { options: out.options, settings, warnings: [...out.warnings, ...resolved.warnings] };
}
