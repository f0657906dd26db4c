/**
 * --capture-live PATH: the capture a command writes, also streamed as pcapng while the run
 * goes on (src/pcap/live-sink.ts), so Wireshark can show it live.
 */

import type { Command } from 'commander';
import { LiveCapture, type LiveCaptureStats } from '../pcap/live-sink.js';
import { UsageError, type CliIo } from './io.js';

export const CAPTURE_LIVE_HELP =
  'also stream the capture as pcapng while running, to a FIFO that a viewer is already reading ' +
  '(mkfifo /tmp/ftcp; wireshark -k -i /tmp/ftcp), to a file, or to - (standard output, and the ' +
  'command\'s own text goes to standard error); a viewer that falls behind misses packets (counted), never slows the run';

export function addCaptureLiveOption(command: Command): Command {
  return command.option('--capture-live <path>', CAPTURE_LIVE_HELP);
}

/**
 * Opens the live stream the flag names (a usage error, one line, when it cannot) and the io
 * the command should print through: with `-`, stdout carries pcapng, so text goes to stderr.
 */
export function openCaptureLive(path: string | undefined, io: CliIo): { live: LiveCapture | undefined; io: CliIo } {
  if (path === undefined) return { live: undefined, io };
  if (path === '') throw new UsageError('--capture-live needs a path: a FIFO, a file, or - for standard output');
  let live: LiveCapture;
  try {
    live = LiveCapture.open(path);
  } catch (error) {
    throw new UsageError(`--capture-live: ${(error as Error).message}`);
  }
  return { live, io: path === '-' ? { ...io, stdout: io.stderr } : io };
}

/** One line on how the live stream went, for the command's summary. */
export function describeCaptureLive(live: LiveCapture, stats: LiveCaptureStats = live.stats): string {
  const dropped = stats.dropped > 0 ? `, ${stats.dropped} packet blocks dropped (the viewer fell behind)` : '';
  const failed = stats.failed !== null ? `; it ended early: ${stats.failed}` : '';
  return `live capture to ${live.target}: ${stats.written} blocks${dropped}${failed}`;
}
