#!/usr/bin/env node
/**
 * The one mqop CLI: `operator`, `render`, `smoke`, `zmq-proxy`. One binary, one image, holding
 * only what runs in a cluster (development tools such as the benchmarks live in `bench/`).
 */
import { parseArgs } from 'node:util';
import { renderFile } from '../cli/render-command.ts';
import { smokeCommand } from '../cli/smoke-command.ts';
import { zmqProxyCommand } from '../cli/zmq-proxy-command.ts';
import { createLogger } from '../telemetry/logger.ts';
import { OPERATOR_USAGE, operatorConfig } from './config.ts';
import { runOperator } from './operator.ts';

const RENDER_USAGE = `  mqop render -f <file|folder|-> [-f ...] [--image-registry R] [--operator-image I]
             [--operator-namespace N]
      Print the manifests mqop applies for each MessageQueue in the files, as YAML.
      Like kubectl: - is standard input, a folder means its *.yaml, *.yml and *.json
      files in name order, and -f may be repeated.
      Credentials are placeholders: the controller reads the real ones from Secrets.
`;

const USAGE = `mqop - a Kubernetes operator for message queues

Usage:
  mqop operator [flags]
      Run the controller (see mqop operator --help).
${RENDER_USAGE}  mqop smoke --engine E --url U [--secret-file F] [--messages N] [--message-bytes B]
             [--timeout S] [--output table|json]
      Produce and consume messages through a broker and report what arrived.
      Credentials come from a servicebinding Secret (directory or manifest) or
      MQOP_SMOKE_PASSWORD; never from a flag.
  mqop zmq-proxy --role=central|sidecar --pattern=pubsub|pipeline --frontend=E --backend=E ...
      The ZeroMQ device the zeromq engine runs (see mqop zmq-proxy --help).
  mqop --help
`;

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  try {
    switch (command) {
      case 'render': {
        if (rest.includes('--help') || rest.includes('-h')) {
          process.stdout.write(RENDER_USAGE);
          return 0;
        }
        const { values } = parseArgs({
          args: rest,
          options: {
            file: { type: 'string', short: 'f', multiple: true },
            'image-registry': { type: 'string' },
            'operator-image': { type: 'string' },
            'operator-namespace': { type: 'string' },
          },
        });
        process.stdout.write(
          renderFile({
            files: values.file ?? [],
            imageRegistry: values['image-registry'],
            operatorImage: values['operator-image'],
            operatorNamespace: values['operator-namespace'],
          }),
        );
        return 0;
      }
      case 'operator': {
        if (rest.includes('--help')) {
          process.stdout.write(OPERATOR_USAGE);
          return 0;
        }
        const cfg = operatorConfig(rest);
        const log = createLogger(cfg.logLevel);
        const op = await runOperator(cfg, log);
        await new Promise<void>((resolve) => {
          const onSignal = (sig: string) => {
            log.info({ signal: sig }, 'signal received');
            void op.stop().then(resolve);
          };
          process.once('SIGTERM', () => onSignal('SIGTERM'));
          process.once('SIGINT', () => onSignal('SIGINT'));
        });
        return 0;
      }
      case 'smoke':
        return await smokeCommand(rest);
      case 'zmq-proxy':
        // Returns after SIGTERM; the process then ends on its own so socket linger is honoured.
        return await zmqProxyCommand(rest);
      default:
        process.stderr.write(`mqop: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    process.stderr.write(`mqop ${command}: ${(err as Error).message}\n`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
