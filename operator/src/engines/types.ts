/**
 * The one small interface every engine module implements. What else a new engine needs (its row
 * in `api/engines.ts`, its line in `index.ts`, a smoke test, an image recipe, golden files) is the
 * checklist in `docs/architecture.md`.
 */
import type { Chart } from 'cdk8s';
import type { EngineName } from '../api/engines.ts';
import type { ResolvedQueue } from '../api/resolve.ts';
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

/**
 * Objects of the user's that an engine patches: rendered as partial objects marked with
 * `PATCH_ANNOTATION`, server-side applied with a field manager of their own and no owner
 * reference, and taken out again when no longer wanted (ZeroMQ: sidecars in Deployments). The
 * controller handles them generically from this description.
 */
export interface UserObjectPatches {
  apiVersion: string;
  kind: string;
  /** The spec field that names the targets, for status messages (e.g. `zeromq.sidecarFor`). */
  field: string;
  /** The `PATCH_ANNOTATION` value on this MessageQueue's patches: how stale ones are found. */
  marker(q: Pick<ResolvedQueue, 'name'>): string;
  /** Whether this MessageQueue wants any patch now (then deletion needs a finalizer). */
  wanted(q: ResolvedQueue): boolean;
  /**
   * Consent: the target object must invite this MessageQueue (an annotation the user sets on it).
   * Without it the controller writes nothing to the target and the MessageQueue waits, with
   * `hint` in its status; a patch whose invitation is withdrawn is taken out again.
   */
  invitation: {
    /** The annotation on the target that must name the MessageQueue. */
    annotation: string;
    /** Whether the target's annotations invite this MessageQueue. */
    invites(annotations: Record<string, string> | undefined, q: Pick<ResolvedQueue, 'name'>): boolean;
  };
}

export interface EngineModule {
  name: EngineName;
  /**
   * Engine-internal values the controller generates once and keeps in the internal Secret
   * (`<cr>-<engine>-internal`), by key, e.g. `erlang-cookie`. Each generator gets 32 random bytes
   * and returns the value in the engine's format; render reads them back from `ctx.internal`.
   */
  internal: Record<string, (random: Uint8Array) => string>;
  /**
   * Whether new internal values may be generated over existing data when the internal Secret is
   * lost and the MessageQueue opts in (`mqop.dev/accept-new-credentials`). Only when no data on
   * the volumes depends on them; unset means no (Kafka's cluster id is in every log directory).
   */
  internalRecreatable?: boolean;
  /** servicebinding.io fields for the connection Secret (the endpoint is `ctx.endpoint`). */
  binding(ctx: RenderContext): Binding;
  /** Adds this engine's objects to the chart. Pure: no I/O, no clock, no randomness. */
  render(chart: Chart, ctx: RenderContext): void;
  /** Set when the engine patches objects the user owns. */
  patches?: UserObjectPatches;
}
