/** Entry point of the `ftcp` command (bin/ftcp.js imports the compiled dist/cli/main.js). */
import { installNativeCrc32 } from '../net/native-crc.js';
import { EXIT, processIo } from './io.js';
import { installLastResort, lastResortLine } from './last-resort.js';
import { runCli } from './program.js';

installNativeCrc32();
installLastResort();
try {
  process.exitCode = await runCli(process.argv.slice(2), processIo());
} catch (error) {
  process.stderr.write(lastResortLine(error));
  process.exitCode = EXIT.crash;
}
