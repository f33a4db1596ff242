/**
 * The smoke contract, checked the same way for every engine against its real test bed
 * (test-bed.ts): a run produces and consumes every message exactly once (in order where the
 * engine keeps order), reports sane latency percentiles and leaves nothing of its own
 * `mqop-smoke-<runId>` queue/topic/stream on the broker; a run whose timeout is far too short
 * ends with `timeout` at the deadline, with the partial counts, cleans up all the same and does
 * not hang. Every engine in the registry must have a test bed here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newRunId } from '../src/contract/run-options.ts';
import { smokeEngines, smokeTestFor } from '../src/index.ts';
import type { SmokeTarget } from '../src/types.ts';
import {
  activemqQueues,
  activemqTarget,
  brokerScript,
  kafkaLeftovers,
  kafkaTarget,
  proxyConnectionsGone,
  rabbitmqQueueExists,
  rabbitmqTarget,
  redisStreamExists,
  redisTarget,
  rocketmqLeftovers,
  rocketmqTarget,
  startProxy,
  stopProxy,
  testBed,
  type ZmqPattern,
  type ZmqProxy,
  zeromqTarget,
} from './test-bed.ts';

interface Bed {
  /** The engine's name in the registry. */
  engine: string;
  label: string;
  up(): Promise<void> | void;
  down(): Promise<void> | void;
  target(): SmokeTarget;
  /**
   * What of run `runId` is still there, asked of the broker ([] when nothing). ZeroMQ creates
   * nothing on the proxy: there, the run's connections to it.
   */
  leftovers(runId: string): Promise<string[]>;
  /** The run's queue/partition/stream keeps order (nothing may come out of order). */
  ordered: boolean;
  /** A timeout that the run's setup fits in but a million messages do not. */
  shortTimeoutSeconds: number;
}

/** A test bed of scripts/brokers/<engine>.sh. */
function scriptBed(
  engine: string,
  bed: Omit<Bed, 'engine' | 'label' | 'up' | 'down'> & { startMillis?: number; stopMillis?: number },
  onStart: (stdout: string) => void = () => {},
): Bed {
  const script = brokerScript(engine);
  return {
    engine,
    label: engine,
    up: () => {
      testBed(script, 'install', bed.startMillis ?? 300_000);
      onStart(testBed(script, 'start', bed.startMillis ?? 300_000));
    },
    down: () => {
      testBed(script, 'stop', bed.stopMillis ?? 120_000);
    },
    ...bed,
  };
}

const name = (runId: string) => `mqop-smoke-${runId}`;

let kafkaUrl = '';
function zeromqBed(pattern: ZmqPattern): Bed {
  let proxy: ZmqProxy | undefined;
  return {
    engine: 'zeromq',
    label: `zeromq ${pattern}`,
    up: async () => {
      proxy = await startProxy(pattern);
    },
    down: () => stopProxy(proxy),
    target: () => zeromqTarget(proxy as ZmqProxy, pattern),
    leftovers: async () =>
      (await proxyConnectionsGone(proxy as ZmqProxy)) ? [] : ['connections to the proxy'],
    // PUSH/PULL deals to whichever puller is next; a single run is still in order.
    ordered: true,
    shortTimeoutSeconds: 2,
  };
}

const BEDS: Bed[] = [
  scriptBed('redis', {
    target: () => redisTarget,
    leftovers: async (runId) => ((await redisStreamExists(name(runId))) ? [`stream ${name(runId)}`] : []),
    ordered: true,
    shortTimeoutSeconds: 2,
    stopMillis: 60_000,
  }),
  scriptBed('rabbitmq', {
    target: () => rabbitmqTarget,
    leftovers: async (runId) => ((await rabbitmqQueueExists(name(runId))) ? [`queue ${name(runId)}`] : []),
    ordered: true,
    shortTimeoutSeconds: 3,
  }),
  scriptBed(
    'kafka',
    {
      target: () => kafkaTarget(kafkaUrl),
      leftovers: (runId) => kafkaLeftovers(kafkaUrl, runId),
      ordered: true,
      // Connect, create the topic, join the group (~3 s); the last fifth is kept for cleanup.
      shortTimeoutSeconds: 8,
      startMillis: 180_000,
    },
    (stdout) => {
      kafkaUrl = stdout.trim().split('\n').pop() ?? '';
      assert.match(kafkaUrl, /^kafka:\/\/127\.0\.0\.1:\d+$/);
    },
  ),
  scriptBed('activemq', {
    target: () => activemqTarget,
    leftovers: async (runId) => (await activemqQueues()).filter((q) => q === name(runId)),
    ordered: true,
    shortTimeoutSeconds: 3,
  }),
  scriptBed('rocketmq', {
    target: () => rocketmqTarget,
    leftovers: rocketmqLeftovers,
    // Many sends are in flight at once (rocketmq.ts): the broker stores them in the order they
    // arrive, which need not be the order of their sequence numbers.
    ordered: false,
    // Create the topic, start producer and consumer through the proxy.
    shortTimeoutSeconds: 10,
    startMillis: 400_000,
    stopMillis: 150_000,
  }),
  zeromqBed('pubsub'),
  zeromqBed('pipeline'),
];

/** After the deadline, cleanup may take this long at most before the run returns. */
const CLEANUP_SLACK_MILLIS = 6_000;

test('every engine in the registry has a test bed here', () => {
  assert.deepEqual([...new Set(BEDS.map((b) => b.engine))].sort(), smokeEngines().sort());
});

for (const bed of BEDS) {
  describe(`smoke contract: ${bed.label}`, { timeout: 600_000 }, () => {
    const smoke = smokeTestFor(bed.engine);
    before(() => bed.up(), { timeout: 450_000 });
    after(() => bed.down(), { timeout: 160_000 });

    test('every message produced and consumed once, sane latency, nothing left behind', async () => {
      const messages = 2000;
      const runId = newRunId();
      const t0 = performance.now();
      const r = await smoke.run(bed.target(), { messages, messageBytes: 512, timeoutSeconds: 60, runId });
      const took = performance.now() - t0;
      assert.equal(r.ok, true, `${r.errorKind}: ${r.message}`);
      assert.equal(r.errorKind, undefined);
      assert.equal(r.produced, messages, 'produced');
      assert.equal(r.consumed, messages, 'consumed');
      assert.equal(r.lost, 0, 'lost');
      assert.equal(r.duplicated, 0, 'duplicated');
      if (bed.ordered) assert.equal(r.outOfOrder, 0, 'out of order');
      else assert.ok(r.outOfOrder >= 0 && r.outOfOrder < messages, `out of order ${r.outOfOrder}`);
      // Latency: measured (above zero), p99 not below p50, neither longer than the run itself.
      assert.ok(r.p50Millis > 0, `p50 ${r.p50Millis}`);
      assert.ok(r.p99Millis >= r.p50Millis, `p50 ${r.p50Millis} p99 ${r.p99Millis}`);
      assert.ok(r.p99Millis <= r.durationMillis, `p99 ${r.p99Millis} of a ${r.durationMillis} ms run`);
      assert.ok(r.durationMillis > 0 && r.durationMillis <= took + 1, `duration ${r.durationMillis}`);
      assert.deepEqual(await bed.leftovers(runId), [], 'left behind');
    });

    test('a too-short timeout: timeout at the deadline, partial counts, cleaned up, no hang', async (t) => {
      const messages = 1_000_000;
      const timeoutSeconds = bed.shortTimeoutSeconds;
      const runId = newRunId();
      const t0 = performance.now();
      const r = await smoke.run(bed.target(), { messages, messageBytes: 1024, timeoutSeconds, runId });
      const took = performance.now() - t0;
      t.diagnostic(
        `${r.errorKind} after ${Math.round(took)} ms: produced ${r.produced}, consumed ${r.consumed}`,
      );
      assert.equal(r.ok, false);
      assert.equal(r.errorKind, 'timeout', r.message);
      assert.ok(r.produced > 0 && r.produced < messages, `produced ${r.produced}`);
      assert.ok(r.consumed > 0 && r.consumed < messages, `consumed ${r.consumed}`);
      assert.equal(r.lost, Math.max(0, r.produced - r.consumed), 'lost');
      assert.equal(r.duplicated, 0, 'duplicated');
      // The deadline ended it (not an earlier failure, not a later one); cleanup did not hang.
      const timeoutMillis = timeoutSeconds * 1000;
      assert.ok(r.durationMillis >= timeoutMillis * 0.75, `duration ${r.durationMillis}`);
      assert.ok(r.durationMillis <= timeoutMillis + 500, `duration ${r.durationMillis}`);
      assert.ok(took <= timeoutMillis + CLEANUP_SLACK_MILLIS, `returned after ${Math.round(took)} ms`);
      assert.deepEqual(await bed.leftovers(runId), [], 'left behind');
    });
  });
}
