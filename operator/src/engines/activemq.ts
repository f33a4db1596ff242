/** activemq: placeholder until its renderer lands; renders nothing but the shared objects. */
import type { EngineModule } from './types.ts';

export const activemq: EngineModule = {
  name: 'activemq',
  internal: {},
  endpoint(ctx) {
    const host = ctx.serviceHost(ctx.names.workload);
    return { host, port: 1, url: `activemq://${host}:1` };
  },
  binding(ctx) {
    return { type: 'activemq', uri: this.endpoint(ctx).url };
  },
  render() {},
};
