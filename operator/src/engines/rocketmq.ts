/** rocketmq: placeholder until its renderer lands; renders nothing but the shared objects. */
import type { EngineModule } from './types.ts';

export const rocketmq: EngineModule = {
  name: 'rocketmq',
  internal: {},
  endpoint(ctx) {
    const host = ctx.serviceHost(ctx.names.workload);
    return { host, port: 1, url: `rocketmq://${host}:1` };
  },
  binding(ctx) {
    return { type: 'rocketmq', uri: this.endpoint(ctx).url };
  },
  render() {},
};
