/**
 * The registry of smoke tests: one line per engine. `smokeTestFor('redis')` returns the engine's
 * {@link SmokeTest}; an engine without one throws, naming those that exist.
 */
import { activemqSmoke } from './activemq.ts';
import { kafkaSmoke } from './kafka.ts';
import { rabbitmqSmokeTest } from './rabbitmq.ts';
import { redisSmokeTest } from './redis.ts';
import { rocketmqSmoke } from './rocketmq.ts';
import type { SmokeTest } from './types.ts';
import { zeromqSmoke } from './zeromq.ts';

const SMOKE_TESTS: readonly SmokeTest[] = [
  redisSmokeTest,
  rabbitmqSmokeTest,
  kafkaSmoke,
  zeromqSmoke,
  activemqSmoke,
  rocketmqSmoke,
  // one line per engine
];

const BY_ENGINE: ReadonlyMap<string, SmokeTest> = new Map(SMOKE_TESTS.map((t) => [t.engine, t]));

/** Engines that have a smoke test. */
export function smokeEngines(): string[] {
  return [...BY_ENGINE.keys()];
}

/** The smoke test of an engine; throws for an engine that has none. */
export function smokeTestFor(engine: string): SmokeTest {
  const t = BY_ENGINE.get(engine);
  if (!t) throw new Error(`no smoke test for engine "${engine}" (have: ${smokeEngines().join(', ')})`);
  return t;
}

export { failedResult } from './contract/counter.ts';
export { redact } from './contract/errors.ts';
export type { SmokeErrorKind, SmokeOptions, SmokeResult, SmokeTarget, SmokeTest } from './types.ts';
