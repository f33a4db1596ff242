/** zeromq: placeholder until its renderer lands; renders nothing but the shared objects. */
import type { EngineModule } from './types.ts';

export const zeromq: EngineModule = {
  name: 'zeromq',
  internal: {},
  endpoint(ctx) {
    const host = ctx.serviceHost(ctx.names.workload);
    return { host, port: 1, url: `zeromq://${host}:1` };
  },
  binding(ctx) {
    return { type: 'zeromq', uri: this.endpoint(ctx).url };
  },
  render() {},
};
