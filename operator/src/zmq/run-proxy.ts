/** Runs `mqop zmq-proxy` on its own (tests start it as a child process). */
import { zmqProxyCommand } from '../cli/zmq-proxy-command.ts';

process.exitCode = await zmqProxyCommand(process.argv.slice(2));
