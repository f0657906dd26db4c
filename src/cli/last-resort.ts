/**
 * What a user sees when something nobody foresaw goes wrong (a bug, or a file system that
 * fails in a way no check covers): one line naming the error, exit 5, never a Node stack
 * trace. FTCP_STACK=1 prints the stack too, for whoever debugs it.
 */
import { EXIT } from './io.js';

export function lastResortLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const stack = process.env['FTCP_STACK'] === '1' && error instanceof Error && error.stack !== undefined ? `\n${error.stack}` : '';
  return `error: ftcp stopped on an unexpected error: ${message.split('\n')[0]} (FTCP_STACK=1 shows where)${stack}\n`;
}

/** An error thrown where no caller catches it (a socket callback, a timer) ends the process the same way. */
export function installLastResort(): void {
  const die = (error: unknown) => {
    process.stderr.write(lastResortLine(error));
    process.exit(EXIT.crash);
  };
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
}
