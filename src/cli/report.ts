/**
 * `ftcp report DIR`: one self-contained page (DIR/report.html) from a run's captures and
 * event logs: the sequence diagram around the failover, bytes per client connection over
 * time, and the verdict. A soak's directory (soak.json) gets the soak page instead, from
 * that file alone. Exit 0 when the page is written; 2 when DIR holds no capture, or a
 * soak.json that is not a soak result.
 */
import type { Command } from 'commander';
import { ReportInputError } from '../lab/report/load.js';
import { writeReport } from '../lab/report/html.js';
import { EXIT, type CliIo } from './io.js';

export function registerReportCommand(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('report')
    .description('draw a run (its captures and event logs) as one self-contained page, DIR/report.html: packets, log entries, the kill, the test-and-set, go-live, re-sent segments and the client\'s answer, bytes per connection, the verdict. A soak\'s run directory (soak.json) gets the soak page: the verdict, the RSS of the pair and of each replica over time, the faults')
    .argument('<dir>', 'a run folder written by `ftcp demo failover`, `ftcp scenario run`, `ftcp chaos` or `ftcp soak`')
    .action((dir: string) => {
      try {
        io.stdout(`report: ${writeReport(dir)}\n`);
        setExitCode(EXIT.ok);
      } catch (error) {
        if (!(error instanceof ReportInputError)) throw error;
        io.stderr(`error: ftcp report: ${error.message}\n`);
        setExitCode(EXIT.usage);
      }
    });
}
