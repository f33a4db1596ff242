/** kafka: placeholder until its renderer lands; renders nothing but the shared objects. */
import type { EngineModule } from './types.ts';

export const kafka: EngineModule = {
  name: 'kafka',
  internal: {},
  endpoint(ctx) {
    const host = ctx.serviceHost(ctx.names.workload);
    return { host, port: 1, url: `kafka://${host}:1` };
  },
  binding(ctx) {
    return { type: 'kafka', uri: this.endpoint(ctx).url };
  },
  render() {},
};
