/**
 * RocketMQ 5 smoke test: the run's own NORMAL topic `mqop-smoke-<id>` and SimpleConsumer group of
 * the same name; messages go through the proxy's gRPC endpoint (rocketmq-client-nodejs, many sends
 * in flight), come back through SimpleConsumer receive (long-polling batches, acks in flight), then
 * the topic and the group are deleted.
 *
 * Creating and deleting the topic: the gRPC protocol has no admin calls, and the broker's
 * `autoCreateTopicEnable` does not help gRPC clients (the proxy answers a route query for an
 * unknown topic with TOPIC_NOT_FOUND, 40402; checked against 5.3.3). So the smoke test speaks the
 * RocketMQ *remoting* protocol itself (protocols/rocketmq-remoting.ts and rocketmq-admin.ts), like
 * `mqadmin updateTopic -c <cluster>` does: it asks a name server for the cluster's master brokers
 * (GET_BROKER_CLUSTER_INFO, 106), then sends each master UPDATE_AND_CREATE_TOPIC (17) with
 * `+message.type=NORMAL`. Cleanup sends DELETE_SUBSCRIPTIONGROUP (207), DELETE_TOPIC_IN_BROKER
 * (215, for the topic and the group's `%RETRY%`/`%DLQ%` topics) to every master and
 * DELETE_TOPIC_IN_NAMESRV (216) to every name server. Broker requests are signed the way
 * RocketMQ's AclClientRPCHook does and ACL 2.0 checks (`AccessKey` ext field, `Signature` = base64
 * HMAC-SHA1 over the ext field values sorted by key, then the body). Shelling out to mqadmin is
 * not an option (no JVM in the operator image), and the proxy's remoting port does not forward
 * admin requests; the broker port (brokerIP1:10911, the pod IP in mqop's layout) is.
 *
 * Target: `rocketmq://<proxy host>:<gRPC port>` (8081 by default); `extra['namesrv.addr']` the name
 * server(s) (`host:port[;host:port]`), `extra['cluster.name']` the cluster (optional: every
 * cluster's masters otherwise). Credentials: the ACL 2.0 user (accessKey = username, secretKey =
 * password).
 */
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import { bestEffort, sleep } from './contract/deadline.ts';
import { describeError, rawCodeOf, SmokeError } from './contract/errors.ts';
import { nowMillis } from './contract/payload.ts';
import { type RunContext, runSmoke } from './contract/runner.ts';
import { type AdminEndpoints, RocketmqAdmin } from './protocols/rocketmq-admin.ts';
import {
  ackAll,
  closeClient,
  laneOf,
  quietLogger,
  REQUEST_TIMEOUT_MILLIS,
} from './protocols/rocketmq-grpc.ts';
import {
  ADMIN_TIMEOUT_MILLIS,
  type Credentials,
  NO_PERMISSION,
  RemotingConnection,
  RemotingError,
} from './protocols/rocketmq-remoting.ts';
import type { SmokeOptions, SmokeResult, SmokeTarget, SmokeTest } from './types.ts';

const DEFAULT_GRPC_PORT = 8081;
const DEFAULT_NAMESRV_PORT = 9876;
/** Queues of the run's topic on each master broker: one keeps order checks meaningful. */
const QUEUES_PER_BROKER = 1;
/** Sends in flight, in bytes (and at most MAX_INFLIGHT messages). */
const WINDOW_BYTES = 8 * 1024 * 1024;
const MAX_INFLIGHT = 256;
/** At most this many bytes confirmed but not yet consumed sit in the broker. */
const MAX_BACKLOG_BYTES = 32 * 1024 * 1024;
/** Messages per receive call (the proxy caps a batch at 32), and bytes per batch. */
const MAX_BATCH = 32;
const BATCH_BYTES = 8 * 1024 * 1024;
/**
 * Concurrent receive calls. One is fastest with one queue per broker: a second one mostly waits
 * for the queue's pop lock (measured on 5.3.3: 1 850 msgs/s with one, 1 000 with two).
 */
const RECEIVERS = 1;
/** Long polling of one receive call (the proxy allows 5-20 s). */
const AWAIT_MILLIS = 5_000;
/** A received message not acked within this long is delivered again (a duplicate). */
const INVISIBLE_MILLIS = 60_000;

// ---------------------------------------------------------------------------------------------
// Target

/** The proxy's gRPC endpoint, and the name servers and cluster for admin requests. */
export interface RocketmqEndpoints extends AdminEndpoints {
  /** `host:port` of the proxy's gRPC endpoint. */
  grpc: string;
}

function hostPort(s: string, defaultPort: number, what: string): string {
  const m = /^(\[[^\]]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/.exec(s.trim());
  if (!m) throw new SmokeError('protocol', `${what} must look like host[:port], not "${s}"`);
  return `${m[1]}:${m[2] ?? defaultPort}`;
}

/** The gRPC endpoint, name servers and cluster of a target. */
export function rocketmqEndpoints(target: SmokeTarget): RocketmqEndpoints {
  const m = /^rocketmq:\/\/(?:[^@/]*@)?([^/?#]+)\/?$/i.exec(target.url.trim());
  if (!m) throw new SmokeError('protocol', 'RocketMQ URL must look like rocketmq://host:port');
  const grpc = hostPort(m[1] as string, DEFAULT_GRPC_PORT, 'RocketMQ URL');
  const ns = target.extra?.['namesrv.addr'];
  if (!ns?.trim()) {
    throw new SmokeError('protocol', "RocketMQ target needs extra['namesrv.addr'] to create the run's topic");
  }
  const namesrv = ns
    .split(/[;,]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => hostPort(s.replace(/^[a-z]+:\/\//i, ''), DEFAULT_NAMESRV_PORT, 'namesrv.addr'));
  const cluster = target.extra?.['cluster.name']?.trim();
  return cluster ? { grpc, namesrv, cluster } : { grpc, namesrv };
}

// ---------------------------------------------------------------------------------------------
// Error classification

/** gRPC status codes (@grpc/grpc-js) that mean the endpoint could not be reached. */
const GRPC_UNAVAILABLE = 14;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNAUTHENTICATED = 16;
/** RocketMQ 5 gRPC status codes: UNAUTHORIZED, FORBIDDEN. */
const ROCKETMQ_AUTH_CODES = new Set([40100, 40300]);

function numericCode(err: unknown): number | undefined {
  const c = rawCodeOf(err);
  return typeof c === 'number' ? c : undefined;
}

function isRocketAuth(err: unknown): boolean {
  if (err instanceof RemotingError) return err.responseCode === NO_PERMISSION;
  const c = numericCode(err);
  if (
    c !== undefined &&
    (ROCKETMQ_AUTH_CODES.has(c) || c === GRPC_UNAUTHENTICATED || c === GRPC_PERMISSION_DENIED)
  ) {
    return true;
  }
  const m = err instanceof Error ? err.message : '';
  return /check signature failed|User:\S* is not found|AuthenticationException|No accessKey/i.test(m);
}

function isRocketUnreachable(err: unknown): boolean {
  if (numericCode(err) === GRPC_UNAVAILABLE) return true;
  const m = err instanceof Error ? err.message : '';
  return /\b(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ECONNRESET|EAI_AGAIN)\b|No connection established|Connection dropped/.test(
    m,
  );
}

// ---------------------------------------------------------------------------------------------
// The run

interface State {
  admin?: RocketmqAdmin;
  /** Master brokers the topic was (or may have been) created on. */
  masters: string[];
  topicCreated: boolean;
  /** Every client constructed (started or not): cleanup shuts them all down. */
  clients: Array<Producer | SimpleConsumer>;
  closing: boolean;
  /** Aborted by cleanup: stops the produce loop's waits. */
  stop: AbortController;
}

export function clientOptions(endpoints: RocketmqEndpoints, target: SmokeTarget) {
  const o: {
    endpoints: string;
    namespace: string;
    requestTimeout: number;
    logger: typeof quietLogger;
    sessionCredentials?: { accessKey: string; accessSecret: string };
  } = {
    endpoints: endpoints.grpc,
    namespace: '',
    requestTimeout: REQUEST_TIMEOUT_MILLIS,
    logger: quietLogger,
  };
  if (target.username)
    o.sessionCredentials = { accessKey: target.username, accessSecret: target.password ?? '' };
  return o;
}

export function credentialsOf(target: SmokeTarget): Credentials | undefined {
  return target.username ? { accessKey: target.username, secretKey: target.password ?? '' } : undefined;
}

async function body(target: SmokeTarget, ctx: RunContext, state: State): Promise<void> {
  const { deadline, counter, name, options } = ctx;
  const endpoints = rocketmqEndpoints(target);
  const admin = new RocketmqAdmin(endpoints, credentialsOf(target));
  state.admin = admin;

  // 1. The run's topic on every master of the cluster (remoting, signed), once the proxy port
  //    answers at all (the gRPC client would retry its first route query for seconds).
  const [masters] = await Promise.all([admin.masters(), probeTcp(endpoints.grpc, deadline.remaining())]);
  state.masters = masters;
  state.topicCreated = true; // from here on cleanup deletes it, even if a create fails half-way
  await Promise.all(masters.map((b) => admin.createTopic(b, name, QUEUES_PER_BROKER)));
  deadline.check();

  // 2. Producer and consumer through the proxy (gRPC). The proxy may still miss the route for a
  //    moment after the brokers registered it: retry the start on TOPIC_NOT_FOUND.
  const producer = new Producer({ ...clientOptions(endpoints, target), topics: [name], maxAttempts: 1 });
  await startClient(producer, ctx, state);
  const consumer = new SimpleConsumer({
    ...clientOptions(endpoints, target),
    consumerGroup: name,
    subscriptions: new Map([[name, '*']]),
    awaitDuration: AWAIT_MILLIS,
    maxRetryAttempts: 1,
  });
  await startClient(consumer, ctx, state);

  let fail: (e: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {});

  const size = Math.max(1, options.messageBytes);
  const batch = Math.max(1, Math.min(MAX_BATCH, Math.floor(BATCH_BYTES / size)));
  const maxInflight = Math.max(1, Math.min(MAX_INFLIGHT, Math.floor(WINDOW_BYTES / size)));
  const maxBacklog = Math.max(maxInflight, Math.floor(MAX_BACKLOG_BYTES / size));

  // 3. Consume: a few receive calls in parallel, acks in flight without waiting for them.
  const acks = new Set<Promise<void>>();
  const consume = async () => {
    while (!counter.complete) {
      deadline.check();
      if (state.closing) return;
      const msgs = await consumer.receive(batch, INVISIBLE_MILLIS);
      const at = nowMillis();
      for (const m of msgs) counter.receive(m.body, at, laneOf(m));
      if (msgs.length) {
        const a = ackAll(consumer, name, msgs).then(
          () => {
            acks.delete(a);
          },
          (e: unknown) => {
            acks.delete(a);
            fail(e);
          },
        );
        acks.add(a);
      }
      while (acks.size > 8) await Promise.race(acks);
    }
  };

  // 4. Produce: many sends in flight, bounded by count and bytes.
  let inflight = 0;
  let wake: (() => void) | undefined;
  const produce = async () => {
    for (let seq = 0; seq < options.messages; seq++) {
      deadline.check();
      if (state.closing) return;
      inflight++;
      producer.send({ topic: name, body: counter.encode(seq, options.messageBytes) }).then(
        () => {
          inflight--;
          counter.produced();
          const w = wake;
          wake = undefined;
          w?.();
        },
        (e: unknown) => {
          inflight--;
          fail(e);
          const w = wake;
          wake = undefined;
          w?.();
        },
      );
      while (inflight >= maxInflight) await new Promise<void>((resolve) => (wake = resolve));
      await counter.throttle(maxBacklog, AbortSignal.any([deadline.signal, state.stop.signal]));
    }
    while (inflight > 0) await new Promise<void>((resolve) => (wake = resolve));
  };

  const receivers = Array.from({ length: Math.min(RECEIVERS, options.messages) }, () => consume());
  await Promise.race([Promise.all([produce(), ...receivers]), failed]);
  // The last acks, so that nothing comes back (cleanup deletes the group anyway).
  await Promise.race([Promise.all(acks), failed]);
}

/** Resolves once a TCP connection to `host:port` opens (and closes it again). */
async function probeTcp(addr: string, timeoutMillis: number): Promise<void> {
  const c = await RemotingConnection.open(addr, Math.min(ADMIN_TIMEOUT_MILLIS, timeoutMillis));
  c.close();
}

/**
 * Starts a client that cleanup will shut down; one whose start ends after cleanup began (the
 * deadline passed meanwhile) is shut down here, since its start may have set up timers anew.
 */
async function startClient(client: Producer | SimpleConsumer, ctx: RunContext, state: State): Promise<void> {
  state.clients.push(client);
  try {
    await startWithRetry(() => client.startup(), ctx);
  } finally {
    if (state.closing) await closeClient(client);
  }
  if (state.closing) throw new SmokeError('timeout', 'client started after the run ended');
}

/** Starts a client, retrying while the proxy does not know the new topic's route yet. */
async function startWithRetry(start: () => Promise<void>, ctx: RunContext): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      return;
    } catch (e) {
      const notFound = /40402|No topic route/i.test(describeError(e));
      if (!notFound || attempt >= 5 || ctx.deadline.remaining() < 1500) throw e;
      await sleep(500, ctx.deadline.signal);
    }
  }
}

async function cleanup(ctx: RunContext, state: State): Promise<void> {
  state.closing = true;
  state.stop.abort(new SmokeError('protocol', 'run stopped'));
  const { name } = ctx;
  // Clients first (they notify the proxy), bounded: a dead proxy must not hold the run.
  await Promise.all(state.clients.map((c) => closeClient(c)));
  const admin = state.admin;
  if (!admin) return;
  try {
    if (!state.topicCreated) return;
    const group = name;
    await bestEffort(
      Promise.all(
        state.masters.map(async (b) => {
          // Group first (its offsets), then the topic and the group's retry/dead-letter topics.
          await admin.deleteGroup(b, group).catch(() => {});
          for (const t of [name, `%RETRY%${group}`, `%DLQ%${group}`]) {
            await admin.deleteTopicInBroker(b, t).catch(() => {});
          }
        }),
      ),
      4000,
    );
    await bestEffort(admin.deleteTopicInNamesrvs(name), 2000);
  } finally {
    admin.close();
  }
}

export const rocketmqSmoke: SmokeTest = {
  engine: 'rocketmq',
  run(target: SmokeTarget, options: SmokeOptions): Promise<SmokeResult> {
    const state: State = {
      masters: [],
      topicCreated: false,
      clients: [],
      closing: false,
      stop: new AbortController(),
    };
    return runSmoke(
      options,
      [target.password],
      { isAuth: isRocketAuth, isUnreachable: isRocketUnreachable },
      (ctx) => body(target, ctx, state),
      (ctx) => cleanup(ctx, state),
    );
  },
};
