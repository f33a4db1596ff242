/**
 * The test beds the smoke tests run against: the broker scripts (scripts/brokers/<engine>.sh) and,
 * per engine, the target a run gets and a way to ask the broker what a run left behind. ZeroMQ
 * has no broker to install: its test bed is `mqop zmq-proxy`, started as a child process.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { RocketmqAdmin } from '../src/protocols/rocketmq-admin.ts';
import { amqpConnectOptions } from '../src/rabbitmq.ts';
import { rocketmqEndpoints } from '../src/rocketmq.ts';
import type { SmokeTarget } from '../src/types.ts';

export const brokerScript = (engine: string): string =>
  join(dirname(fileURLToPath(import.meta.url)), `../../scripts/brokers/${engine}.sh`);

/** Runs a broker test-bed script (scripts/brokers/<engine>.sh) action; returns its stdout. */
export function testBed(script: string, action: string, timeout = 300_000, ...args: string[]): string {
  return execFileSync('bash', [script, action, ...args], {
    encoding: 'utf8',
    timeout,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** The password of the test beds' user `mqop`. */
export const TEST_PASSWORD = process.env.MQOP_TEST_PASSWORD ?? 'mqop-test-pw';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Redis

export const REDIS_PORT = Number(process.env.MQOP_REDIS_PORT ?? 16379);
export const redisTarget: SmokeTarget = {
  url: `redis://127.0.0.1:${REDIS_PORT}`,
  username: 'mqop',
  password: TEST_PASSWORD,
};

/** Whether the stream `name` exists on the test-bed Redis. */
export async function redisStreamExists(name: string): Promise<boolean> {
  const c = new Redis({
    port: REDIS_PORT,
    host: '127.0.0.1',
    username: 'mqop',
    password: TEST_PASSWORD,
    protocol: 2,
  });
  try {
    return (await c.exists(name)) === 1;
  } finally {
    c.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// RabbitMQ

export const RABBITMQ_PORT = Number(process.env.MQOP_RABBITMQ_PORT ?? 26672);
export const rabbitmqTarget: SmokeTarget = {
  url: `amqp://127.0.0.1:${RABBITMQ_PORT}`,
  username: 'mqop',
  password: TEST_PASSWORD,
};

/** Whether a queue exists on the test-bed RabbitMQ: a passive declare answers 404 for a missing one. */
export async function rabbitmqQueueExists(name: string): Promise<boolean> {
  const conn = await connect(amqpConnectOptions(rabbitmqTarget));
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    try {
      await ch.checkQueue(name);
      return true;
    } catch (err) {
      if (/404|NOT_FOUND/.test(String((err as Error).message))) return false;
      throw err;
    }
  } finally {
    await conn.close().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Kafka (the URL is what `kafka.sh start` prints)

export const kafkaTarget = (url: string): SmokeTarget => ({ url, username: 'mqop', password: TEST_PASSWORD });

/** The topic and consumer group of run `runId` that still exist on the Kafka at `url`. */
export async function kafkaLeftovers(url: string, runId: string): Promise<string[]> {
  const kafka = new Kafka({
    clientId: 'mqop-smoke-test-check',
    brokers: [url.replace('kafka://', '')],
    ssl: false,
    sasl: { mechanism: 'scram-sha-512', username: 'mqop', password: TEST_PASSWORD },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    const { groups } = await admin.listGroups();
    const name = `mqop-smoke-${runId}`;
    return [...topics.filter((t) => t === name), ...groups.map((g) => g.groupId).filter((g) => g === name)];
  } finally {
    await admin.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// ActiveMQ

export const ACTIVEMQ_PORT = Number(process.env.MQOP_ACTIVEMQ_PORT ?? 15673);
export const ACTIVEMQ_OPENWIRE_PORT = Number(process.env.MQOP_ACTIVEMQ_OPENWIRE_PORT ?? 16161);
export const activemqTarget: SmokeTarget = {
  url: `amqp://127.0.0.1:${ACTIVEMQ_PORT}`,
  username: 'mqop',
  password: TEST_PASSWORD,
  extra: { 'openwire.url': `tcp://127.0.0.1:${ACTIVEMQ_OPENWIRE_PORT}` },
};

/** The test-bed broker's queues, as ActiveMQ's OpenWire client sees them (`activemq.sh queues`). */
export async function activemqQueues(): Promise<string[]> {
  const { stdout } = await promisify(execFile)('bash', [brokerScript('activemq'), 'queues'], {
    timeout: 60_000,
  });
  return stdout.split('\n').filter(Boolean);
}

// ---------------------------------------------------------------------------------------------
// RocketMQ

export const ROCKETMQ_GRPC_PORT = Number(process.env.MQOP_ROCKETMQ_GRPC_PORT ?? 18081);
export const ROCKETMQ_NAMESRV_PORT = Number(process.env.MQOP_ROCKETMQ_NAMESRV_PORT ?? 19876);
export const ROCKETMQ_CLUSTER = process.env.MQOP_ROCKETMQ_CLUSTER ?? 'mqop-testbed';
export const rocketmqTarget: SmokeTarget = {
  url: `rocketmq://127.0.0.1:${ROCKETMQ_GRPC_PORT}`,
  username: 'mqop',
  password: TEST_PASSWORD,
  extra: {
    'namesrv.addr': `127.0.0.1:${ROCKETMQ_NAMESRV_PORT}`,
    'grpc.endpoint': `127.0.0.1:${ROCKETMQ_GRPC_PORT}`,
    'cluster.name': ROCKETMQ_CLUSTER,
  },
};

/** What is left of a run on the broker and name server: topics and groups named after it. */
export async function rocketmqLeftovers(runId: string): Promise<string[]> {
  const name = `mqop-smoke-${runId}`;
  const admin = new RocketmqAdmin(rocketmqEndpoints(rocketmqTarget), {
    accessKey: 'mqop',
    secretKey: TEST_PASSWORD,
  });
  try {
    const found: string[] = [];
    if (await admin.topicRouteExists(name)) found.push(`route ${name}`);
    for (const b of await admin.masters()) {
      for (const t of await admin.brokerTopics(b)) if (t.includes(name)) found.push(`topic ${t}`);
      for (const g of await admin.brokerGroups(b)) if (g.includes(name)) found.push(`group ${g}`);
    }
    return found;
  } finally {
    admin.close();
  }
}

// ---------------------------------------------------------------------------------------------
// ZeroMQ: `mqop zmq-proxy` processes on free ports

const ZMQ_PROXY = fileURLToPath(new URL('../../operator/src/cli/run-zmq-proxy.ts', import.meta.url));
export const ZMQ_PATTERNS = ['pubsub', 'pipeline'] as const;
export type ZmqPattern = (typeof ZMQ_PATTERNS)[number];

export interface ZmqProxy {
  child: ChildProcess;
  frontend: string;
  backend: string;
  exit: Promise<unknown>;
}

/** Starts `mqop zmq-proxy --role=central` on free ports; resolves once it forwards. */
export async function startProxy(pattern: ZmqPattern): Promise<ZmqProxy> {
  const child = spawn(
    process.execPath,
    [
      ZMQ_PROXY,
      '--role=central',
      `--pattern=${pattern}`,
      '--frontend=tcp://127.0.0.1:*',
      '--backend=tcp://127.0.0.1:*',
      '--health-host=127.0.0.1',
      '--health-port=0',
      '--linger=0',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exit = once(child, 'exit');
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  const t0 = Date.now();
  for (;;) {
    const line = out.split('\n').find((l) => l.includes('"msg":"forwarding"'));
    if (line) {
      const { frontend, backend } = JSON.parse(line) as { frontend: string; backend: string };
      return { child, frontend, backend, exit };
    }
    if (child.exitCode !== null || Date.now() - t0 > 15_000) {
      child.kill('SIGKILL');
      throw new Error(`mqop zmq-proxy did not start: ${out}`);
    }
    await sleep(20);
  }
}

export async function stopProxy(p: ZmqProxy | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  await p.exit;
}

export const zeromqTarget = (p: ZmqProxy, pattern: ZmqPattern): SmokeTarget => ({
  url: p.frontend,
  extra: { pattern, frontend: p.frontend, backend: p.backend },
});

/** Established client-side TCP connections to `port` on this host (Linux /proc). */
export function clientConnectionsTo(port: number): number {
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const remote = cols[2];
      if (remote && cols[3] === '01' && Number.parseInt(remote.split(':')[1] ?? '', 16) === port) n++;
    }
  }
  return n;
}

export const portOf = (url: string) => Number(url.split(':').pop());

/** Waits (up to `millis`) until nothing on this host is connected to the proxy; false if something still is. */
export async function proxyConnectionsGone(p: ZmqProxy, millis = 3000): Promise<boolean> {
  const t0 = Date.now();
  while (clientConnectionsTo(portOf(p.frontend)) + clientConnectionsTo(portOf(p.backend)) > 0) {
    if (Date.now() - t0 >= millis) return false;
    await sleep(50);
  }
  return true;
}
