/**
 * The one small interface every engine module implements. Adding a seventh engine means one new
 * file in this folder, one line in `index.ts` and one row in `api/engines.ts`.
 */
import type { Chart } from 'cdk8s';
import type { EngineName } from '../api/engines.ts';
import type { Endpoint } from '../api/types.ts';
import type { RenderContext } from '../render/context.ts';

/** What the servicebinding.io connection Secret says about the broker, beyond the endpoint. */
export interface Binding {
  /** servicebinding.io `type`, e.g. `rabbitmq`, `redis`, `kafka`. */
  type: string;
  /** Application-facing URI; embeds credentials where the engine's URI scheme has them. */
  uri: string;
  /** Extra keys (e.g. `sasl.mechanism`, `sentinel.master`), all strings. */
  extra?: Record<string, string>;
}

export interface EngineModule {
  name: EngineName;
  /**
   * Engine-internal values the controller generates once and keeps in the internal Secret
   * (`<cr>-<engine>-internal`), by key, e.g. `erlang-cookie`. Each generator gets 32 random bytes
   * and returns the value in the engine's format; render reads them back from `ctx.internal`.
   */
  internal: Record<string, (random: Uint8Array) => string>;
  /** Where clients connect. Never a secret. */
  endpoint(ctx: RenderContext): Endpoint;
  /** servicebinding.io fields for the connection Secret. */
  binding(ctx: RenderContext): Binding;
  /** Adds this engine's objects to the chart. Pure: no I/O, no clock, no randomness. */
  render(chart: Chart, ctx: RenderContext): void;
}
