/** The engine registry: one module per engine. */
import type { EngineName } from '../api/engines.ts';
import { activemq } from './activemq.ts';
import { kafka } from './kafka.ts';
import { rabbitmq } from './rabbitmq.ts';
import { redis } from './redis.ts';
import { rocketmq } from './rocketmq.ts';
import type { EngineModule } from './types.ts';
import { zeromq } from './zeromq.ts';

const MODULES: Record<EngineName, EngineModule> = { rabbitmq, redis, kafka, activemq, rocketmq, zeromq };

/** The module of an engine. */
export function engineModule(engine: EngineName): EngineModule {
  return MODULES[engine];
}
