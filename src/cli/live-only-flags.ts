/**
 * `ftcp demo failover --sim` with a flag that only real processes use (--kill-after-ms,
 * --bytes, --mtu, ...: their help starts "real processes:") used to be accepted and
 * ignored, so the run was not the one asked for. Given on the command line beside --sim,
 * such a flag is refused with one line; its default never is.
 */
import type { Command } from 'commander';
import { UsageError } from './io.js';

export function refuseLiveOnlyFlags(command: Command): void {
  for (const option of command.options) {
    const liveOnly = option.description.startsWith('real processes') || option.description.startsWith('--client kernel') || option.description.startsWith('--network lan');
    if (liveOnly && command.getOptionValueSource(option.attributeName()) === 'cli') {
      throw new UsageError(`${option.long ?? option.flags} is for real processes; with --sim it would be ignored: drop one of them`);
    }
  }
}
