/**
 * `mqop zmq-proxy`: the ZeroMQ device mqop runs for engine `zeromq`, as the central proxy
 * Deployment or as a sidecar in the application's pods (flags rendered by ../engines/zeromq.ts).
 *
 * Serves `GET /healthz` (200 "ok" while forwarding, 503 while starting or shutting down). On
 * SIGTERM/SIGINT: health turns 503, forwarding continues for `--drain-ms`, then the sockets close
 * (queued messages get `--linger` ms to go out), the HTTP server closes, exit 0.
 * Exit codes: 0 clean shutdown, 1 runtime failure (e.g. port taken), 2 bad flags.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import {
  configErrors,
  describeDevices,
  PATTERNS,
  type ProxyConfig,
  ROLES,
  type RunningProxy,
  startProxy,
  type ZmqPattern,
  type ZmqRole,
} from '../zmq/proxy.ts';

export const ZMQ_PROXY_USAGE = `Usage:
  mqop zmq-proxy --role=central --pattern=pubsub|pipeline
      [--frontend=tcp://*:5555] [--backend=tcp://*:5556] [--health-port=8080]
  mqop zmq-proxy --role=sidecar --pattern=pubsub|pipeline
      --upstream-frontend=tcp://HOST:5555 --upstream-backend=tcp://HOST:5556
      [--frontend=tcp://127.0.0.1:5557] [--backend=tcp://127.0.0.1:5558] [--health-port=18080]
  Common: [--health-host=0.0.0.0] [--sndhwm N] [--rcvhwm N] [--linger MS (default 1000)]
          [--drain-ms MS (default 0)]

  pubsub: publishers connect to the frontend (XSUB), subscribers to the backend (XPUB).
  pipeline: pushers connect to the frontend (PULL), pullers to the backend (PUSH).
  A sidecar binds frontend/backend for the application and relays to the central proxy.
`;

const DEFAULTS = {
  central: { frontend: 'tcp://*:5555', backend: 'tcp://*:5556', healthPort: 8080 },
  sidecar: { frontend: 'tcp://127.0.0.1:5557', backend: 'tcp://127.0.0.1:5558', healthPort: 18080 },
} as const;

export interface ServeOptions {
  proxy: ProxyConfig;
  healthHost: string;
  /** 0 picks a free port (tests). */
  healthPort: number;
  drainMillis: number;
}

class UsageError extends Error {}

function integer(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`--${flag} must be an integer, got "${value}"`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${flag} must be >= ${min}, got ${value}`);
  return n;
}

/** Parses and validates the flags; throws UsageError with every problem found. */
export function parseZmqProxyArgs(args: string[]): ServeOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        role: { type: 'string' },
        pattern: { type: 'string' },
        frontend: { type: 'string' },
        backend: { type: 'string' },
        'upstream-frontend': { type: 'string' },
        'upstream-backend': { type: 'string' },
        'health-port': { type: 'string' },
        'health-host': { type: 'string' },
        sndhwm: { type: 'string' },
        rcvhwm: { type: 'string' },
        linger: { type: 'string' },
        'drain-ms': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const str = (k: string) => values[k] as string | undefined;
  const role = str('role');
  const pattern = str('pattern');
  if (!role) throw new UsageError(`--role is required (${ROLES.join(' or ')})`);
  if (!ROLES.includes(role as ZmqRole)) {
    throw new UsageError(`unknown --role "${role}" (expected ${ROLES.join(' or ')})`);
  }
  if (!pattern) throw new UsageError(`--pattern is required (${PATTERNS.join(' or ')})`);
  const defaults = DEFAULTS[role as ZmqRole];
  const problems: string[] = [];
  const num = (flag: string, min: number) => {
    try {
      return integer(flag, str(flag), min);
    } catch (err) {
      problems.push((err as Error).message);
      return undefined;
    }
  };
  const healthPort = num('health-port', 0) ?? defaults.healthPort;
  if (healthPort > 65535) problems.push(`--health-port must be <= 65535, got ${healthPort}`);
  const proxy: ProxyConfig = {
    role: role as ZmqRole,
    pattern: pattern as ZmqPattern,
    frontend: str('frontend') ?? defaults.frontend,
    backend: str('backend') ?? defaults.backend,
    upstreamFrontend: str('upstream-frontend'),
    upstreamBackend: str('upstream-backend'),
    sndhwm: num('sndhwm', 0),
    rcvhwm: num('rcvhwm', 0),
    linger: num('linger', 0) ?? 1000,
  };
  const drainMillis = num('drain-ms', 0) ?? 0;
  problems.push(...configErrors(proxy));
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return { proxy, healthHost: str('health-host') ?? '0.0.0.0', healthPort, drainMillis };
}

/** One JSON object per line on stdout, for `kubectl logs` and log collectors. */
function log(level: 'info' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}

export interface Service {
  proxy: RunningProxy;
  healthUrl: string;
  /** Resolves with the exit code once shut down (after shutdown() or a device failure). */
  finished: Promise<number>;
  /** Starts a graceful shutdown; idempotent. A non-zero exitCode sticks. */
  shutdown(reason: string, exitCode?: number): void;
}

/** Starts the devices and the health server. Rejects if a socket cannot bind or the port is taken. */
export async function serve(opts: ServeOptions): Promise<Service> {
  const proxy = await startProxy(opts.proxy);
  let shuttingDown = false;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/healthz') {
      const ok = proxy.ready && !shuttingDown;
      res
        .writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' })
        .end(ok ? 'ok\n' : shuttingDown ? 'shutting down\n' : 'not forwarding\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  });
  server.keepAliveTimeout = 5_000;
  try {
    server.listen(opts.healthPort, opts.healthHost);
    await once(server, 'listening');
  } catch (err) {
    await proxy.stop();
    throw new Error(
      `cannot serve health on ${opts.healthHost}:${opts.healthPort}: ${(err as Error).message}`,
    );
  }
  const { port } = server.address() as AddressInfo;
  const host = opts.healthHost.includes(':') ? `[${opts.healthHost}]` : opts.healthHost;
  const healthUrl = `http://${host}:${port}/healthz`;

  let resolveFinished: (code: number) => void = () => {};
  const finished = new Promise<number>((r) => {
    resolveFinished = r;
  });
  let exitCode = 0;

  const closeAll = async () => {
    await proxy.stop();
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
    resolveFinished(exitCode);
  };

  const shutdown = (reason: string, code = 0) => {
    if (code !== 0) exitCode = code;
    if (shuttingDown) return;
    shuttingDown = true;
    log('info', 'shutting down', { reason, drainMillis: opts.drainMillis, lingerMillis: opts.proxy.linger });
    setTimeout(() => void closeAll(), opts.drainMillis);
  };

  proxy.done.catch((err: Error) => {
    log('error', 'forwarding failed', { error: err.message });
    shutdown('device failure', 1);
  });

  return { proxy, healthUrl, finished, shutdown };
}

/** `mqop zmq-proxy ...`: runs until SIGTERM/SIGINT; resolves with the exit code. */
export async function zmqProxyCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(ZMQ_PROXY_USAGE);
    return 0;
  }
  let opts: ServeOptions;
  try {
    opts = parseZmqProxyArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`mqop zmq-proxy: ${err.message}\n\n${ZMQ_PROXY_USAGE}`);
    return 2;
  }
  let service: Service;
  try {
    service = await serve(opts);
  } catch (err) {
    log('error', 'startup failed', { error: (err as Error).message });
    return 1;
  }
  const c = opts.proxy;
  log('info', 'forwarding', {
    role: c.role,
    pattern: c.pattern,
    frontend: service.proxy.frontend,
    backend: service.proxy.backend,
    ...(c.role === 'sidecar'
      ? { upstreamFrontend: c.upstreamFrontend, upstreamBackend: c.upstreamBackend }
      : {}),
    health: service.healthUrl,
    devices: describeDevices(service.proxy),
  });
  const onSignal = (sig: NodeJS.Signals) => service.shutdown(sig);
  // A process that dies with a libzmq device running hangs in its exit handler (the device's
  // thread keeps the ZeroMQ context open), so a crash must stop the devices first.
  const onFatal = (err: unknown) => {
    log('error', 'internal error', { error: err instanceof Error ? err.stack : String(err) });
    service.shutdown('internal error', 1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  try {
    const code = await service.finished;
    log('info', 'stopped', { exitCode: code });
    return code;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('uncaughtException', onFatal);
    process.off('unhandledRejection', onFatal);
  }
}
