/**
 * The ZeroMQ device behind `mqop zmq-proxy` (engine `zeromq`; see ../engines/zeromq.ts).
 *
 * - central, pubsub: XSUB bound at `frontend` (publishers connect) ⇄ XPUB bound at `backend`
 *   (subscribers connect). Messages flow frontend → backend, subscriptions backend → frontend.
 * - central, pipeline: PULL bound at `frontend` (pushers connect) → PUSH bound at `backend`
 *   (pullers connect).
 * - sidecar: the same two halves, each relaying between the pod's loopback and the central proxy.
 *   pubsub: XSUB bound at `frontend` ⇄ XPUB connected to `upstreamFrontend` (the central XSUB), and
 *   XSUB connected to `upstreamBackend` (the central XPUB) ⇄ XPUB bound at `backend`. pipeline:
 *   PULL bound at `frontend` → PUSH connected to `upstreamFrontend`, and PULL connected to
 *   `upstreamBackend` → PUSH bound at `backend`.
 *
 * Forwarding is libzmq's own `zmq_proxy_steerable` (zeromq.js `Proxy`), so messages never cross
 * into JavaScript. Each device occupies one libuv thread-pool thread for its lifetime (the pool
 * has 4 by default): a central proxy uses one, a sidecar two.
 */
import * as zmq from 'zeromq';

export const ROLES = ['central', 'sidecar'] as const;
export type ZmqRole = (typeof ROLES)[number];
export const PATTERNS = ['pubsub', 'pipeline'] as const;
export type ZmqPattern = (typeof PATTERNS)[number];

export interface ProxyConfig {
  role: ZmqRole;
  pattern: ZmqPattern;
  /** Bound: where publishers/pushers connect (`tcp://*:5555`, `tcp://127.0.0.1:*` for any port). */
  frontend: string;
  /** Bound: where subscribers/pullers connect. */
  backend: string;
  /** Sidecar only: the central proxy's frontend, connected to. */
  upstreamFrontend?: string;
  /** Sidecar only: the central proxy's backend, connected to. */
  upstreamBackend?: string;
  /** ZMQ_SNDHWM on every socket (messages per peer); libzmq's default 1000 if absent. */
  sndhwm?: number;
  /** ZMQ_RCVHWM on every socket. */
  rcvhwm?: number;
  /** ZMQ_LINGER (ms) on every socket: how long queued messages may still go out on shutdown. */
  linger: number;
}

/** One running forwarding device: a pair of sockets joined by a libzmq proxy loop. */
interface Device {
  name: string;
  proxy: zmq.Proxy;
  run: Promise<void>;
}

export interface RunningProxy {
  config: ProxyConfig;
  /** The actually bound endpoints (a `*` port resolved to the chosen one). */
  frontend: string;
  backend: string;
  /** True from when every socket is bound/connected until stop() begins. */
  readonly ready: boolean;
  /** Settles when every device loop has ended; rejects if one fails on its own. */
  readonly done: Promise<void>;
  /** Terminates the devices (sockets close with the configured linger). Idempotent. */
  stop(): Promise<void>;
}

const TCP_ENDPOINT =
  /^tcp:\/\/(\*|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\*|\d{1,5})$/;

/**
 * Checks a ZeroMQ endpoint; returns an error message or undefined. Binding accepts `*` as host
 * (all interfaces) and as port (any free port); connecting needs a concrete host and port.
 */
export function endpointError(endpoint: string, mode: 'bind' | 'connect'): string | undefined {
  if (endpoint.startsWith('ipc://')) {
    return endpoint.length > 'ipc://'.length ? undefined : `"${endpoint}": ipc:// needs a path`;
  }
  const m = TCP_ENDPOINT.exec(endpoint);
  if (!m) {
    return `"${endpoint}" is not a ZeroMQ endpoint (expected tcp://HOST:PORT or ipc://PATH)`;
  }
  const [, host, port] = m;
  if (mode === 'connect' && (host === '*' || port === '*')) {
    return `"${endpoint}": a connect endpoint needs a concrete host and port`;
  }
  if (port !== '*') {
    const n = Number(port);
    if (n < 1 || n > 65535) return `"${endpoint}": port must be 1-65535`;
  }
  return undefined;
}

/** Validates a config; returns every problem found (empty when fine). */
export function configErrors(c: ProxyConfig): string[] {
  const errors: string[] = [];
  if (!ROLES.includes(c.role)) errors.push(`unknown role "${c.role}" (expected ${ROLES.join(' or ')})`);
  if (!PATTERNS.includes(c.pattern)) {
    errors.push(`unknown pattern "${c.pattern}" (expected ${PATTERNS.join(' or ')})`);
  }
  for (const [flag, ep] of [
    ['--frontend', c.frontend],
    ['--backend', c.backend],
  ] as const) {
    const e = endpointError(ep, 'bind');
    if (e) errors.push(`${flag}: ${e}`);
  }
  if (c.frontend === c.backend && !c.frontend.endsWith(':*')) {
    errors.push('--frontend and --backend must differ');
  }
  const upstream = [
    ['--upstream-frontend', c.upstreamFrontend],
    ['--upstream-backend', c.upstreamBackend],
  ] as const;
  for (const [flag, ep] of upstream) {
    if (c.role === 'sidecar') {
      if (!ep) errors.push(`${flag} is required for --role=sidecar (the central proxy's endpoint)`);
      else {
        const e = endpointError(ep, 'connect');
        if (e) errors.push(`${flag}: ${e}`);
      }
    } else if (ep) {
      errors.push(`${flag} is only for --role=sidecar`);
    }
  }
  for (const [flag, v, min] of [
    ['--sndhwm', c.sndhwm, 0],
    ['--rcvhwm', c.rcvhwm, 0],
    ['--linger', c.linger, 0],
  ] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) {
      errors.push(`${flag} must be an integer >= ${min}, got ${v}`);
    }
  }
  return errors;
}

type AnySocket = zmq.XSubscriber | zmq.XPublisher | zmq.Pull | zmq.Push;

function socketOptions(c: ProxyConfig, connects: boolean) {
  return {
    linger: c.linger,
    // Dual stack: `tcp://*:P` listens on IPv6 and IPv4 (libzmq falls back to IPv4-only when the
    // kernel has no IPv6), and upstream names may resolve to IPv6 addresses.
    ipv6: true,
    ...(c.sndhwm !== undefined ? { sendHighWaterMark: c.sndhwm } : {}),
    ...(c.rcvhwm !== undefined ? { receiveHighWaterMark: c.rcvhwm } : {}),
    // ZMTP heartbeats find dead peers behind NAT/conntrack (kube-proxy) that TCP would not.
    heartbeatInterval: 10_000,
    heartbeatTimeout: 30_000,
    // Towards the central proxy: back off up to 5 s between reconnects, and queue messages
    // only on completed connections (not towards a peer that is not there).
    ...(connects ? { reconnectInterval: 100, reconnectMaxInterval: 5_000, immediate: true } : {}),
  };
}

/** The two ends of one forwarding device; `up` is the side towards the backend/subscribers. */
function makeSockets(c: ProxyConfig, frontConnects: boolean, backConnects: boolean): [AnySocket, AnySocket] {
  if (c.pattern === 'pubsub') {
    return [
      new zmq.XSubscriber(socketOptions(c, frontConnects)),
      new zmq.XPublisher(socketOptions(c, backConnects)),
    ];
  }
  return [new zmq.Pull(socketOptions(c, frontConnects)), new zmq.Push(socketOptions(c, backConnects))];
}

async function attach(socket: AnySocket, endpoint: string, mode: 'bind' | 'connect'): Promise<string> {
  if (mode === 'connect') {
    socket.connect(endpoint);
    return endpoint;
  }
  try {
    await socket.bind(endpoint);
  } catch (err) {
    throw new Error(`cannot bind ${endpoint}: ${(err as Error).message}`);
  }
  // With ipv6 on, an IPv4 address is reported IPv4-mapped (tcp://[::ffff:127.0.0.1]:5555).
  return (socket.lastEndpoint ?? endpoint).replace(/^tcp:\/\/\[::ffff:([0-9.]+)\]/, 'tcp://$1');
}

/**
 * Binds/connects the sockets and starts forwarding. Rejects (with every socket closed) when a
 * bind fails, e.g. the port is taken.
 */
export async function startProxy(config: ProxyConfig): Promise<RunningProxy> {
  const errors = configErrors(config);
  if (errors.length > 0) throw new Error(errors.join('; '));

  const sockets: AnySocket[] = [];
  const plans: { name: string; front: AnySocket; back: AnySocket }[] = [];
  let frontend: string;
  let backend: string;
  try {
    if (config.role === 'central') {
      const [front, back] = makeSockets(config, false, false);
      sockets.push(front, back);
      frontend = await attach(front, config.frontend, 'bind');
      backend = await attach(back, config.backend, 'bind');
      plans.push({ name: 'central', front, back });
    } else {
      // Publish/push path: local bound frontend → central frontend.
      const [localIn, toCentral] = makeSockets(config, false, true);
      // Subscribe/pull path: central backend → local bound backend.
      const [fromCentral, localOut] = makeSockets(config, true, false);
      sockets.push(localIn, toCentral, fromCentral, localOut);
      frontend = await attach(localIn, config.frontend, 'bind');
      backend = await attach(localOut, config.backend, 'bind');
      await attach(toCentral, config.upstreamFrontend as string, 'connect');
      await attach(fromCentral, config.upstreamBackend as string, 'connect');
      plans.push({ name: 'send', front: localIn, back: toCentral });
      plans.push({ name: 'receive', front: fromCentral, back: localOut });
    }
  } catch (err) {
    for (const s of sockets) {
      s.linger = 0;
      s.close();
    }
    throw err;
  }

  let ready = true;
  let stopping = false;
  const devices: Device[] = plans.map(({ name, front, back }) => {
    const proxy = new zmq.Proxy(front, back);
    return { name, proxy, run: proxy.run() };
  });
  const done = Promise.all(
    devices.map((d) =>
      d.run.then(
        () => {
          if (!stopping) throw new Error(`device "${d.name}" stopped unexpectedly`);
        },
        (err: Error) => {
          throw new Error(`device "${d.name}" failed: ${err.message}`);
        },
      ),
    ),
  ).then(
    () => {
      ready = false;
    },
    (err: unknown) => {
      ready = false;
      throw err;
    },
  );
  // Callers observe `done`; keep an unobserved failure from crashing the process.
  done.catch(() => {});

  return {
    config,
    frontend,
    backend,
    get ready() {
      return ready;
    },
    done,
    async stop() {
      if (!stopping) {
        stopping = true;
        ready = false;
        for (const d of devices) {
          try {
            d.proxy.terminate();
          } catch {
            // Already ended (EBADF): nothing to terminate.
          }
        }
      }
      await Promise.allSettled(devices.map((d) => d.run));
    },
  };
}

/** What the devices are, in words, for the startup log. */
export function describeDevices(p: RunningProxy): string {
  const c = p.config;
  const [inType, outType] = c.pattern === 'pubsub' ? ['XSUB', 'XPUB'] : ['PULL', 'PUSH'];
  if (c.role === 'central') {
    return `${inType} bound at ${p.frontend} → ${outType} bound at ${p.backend}`;
  }
  return (
    `${inType} bound at ${p.frontend} → ${outType} connected to ${c.upstreamFrontend}; ` +
    `${inType} connected to ${c.upstreamBackend} → ${outType} bound at ${p.backend}`
  );
}
