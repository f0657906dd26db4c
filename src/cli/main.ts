/** Entry point of the `ftcp` command (bin/ftcp.js imports the compiled dist/cli/main.js). */
import { installNativeCrc32 } from '../net/native-crc.js';
import { processIo } from './io.js';
import { runCli } from './program.js';

installNativeCrc32();
process.exitCode = await runCli(process.argv.slice(2), processIo());
