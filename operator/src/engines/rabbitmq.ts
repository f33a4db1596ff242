/** rabbitmq: placeholder until its renderer lands; renders nothing but the shared objects. */
import type { EngineModule } from './types.ts';

export const rabbitmq: EngineModule = {
  name: 'rabbitmq',
  internal: {},
  endpoint(ctx) {
    const host = ctx.serviceHost(ctx.names.workload);
    return { host, port: 1, url: `rabbitmq://${host}:1` };
  },
  binding(ctx) {
    return { type: 'rabbitmq', uri: this.endpoint(ctx).url };
  },
  render() {},
};
