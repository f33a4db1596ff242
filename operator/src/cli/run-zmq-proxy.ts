/** Runs `mqop zmq-proxy` as a process of its own, without the rest of the CLI (tests start it). */
import { zmqProxyCommand } from './zmq-proxy-command.ts';

process.exitCode = await zmqProxyCommand(process.argv.slice(2));
