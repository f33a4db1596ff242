/**
 * What an engine renders from: the resolved MessageQueue plus the values the controller keeps in
 * Secrets (credentials, engine-internal values). Render never resolves a second time.
 */
import { type OperatorSettings, type ResolvedQueue, resolve } from '../api/resolve.ts';
import type { MessageQueue } from '../api/types.ts';

/** Values from the Secrets mqop keeps (absent for engines without auth or internal values). */
export interface SecretInputs {
  /** Username and password from the credentials Secret. */
  credentials?: { username: string; password: string };
  /** Generated engine-internal values from the internal Secret, by key (e.g. `erlang-cookie`). */
  internal?: Record<string, string>;
}

/** Render inputs for a MessageQueue that is not resolved yet (CLI, tests): Secrets and operator settings. */
export interface RenderInputs extends SecretInputs {
  operator?: OperatorSettings;
}

export interface RenderContext extends ResolvedQueue {
  credentials: { username: string; password: string };
  internal: Record<string, string>;
}

/** The render context of a resolved MessageQueue and its Secrets' values. Pure. */
export function withSecrets(q: ResolvedQueue, secrets: SecretInputs = {}): RenderContext {
  return {
    ...q,
    credentials: secrets.credentials ?? { username: '', password: '' },
    internal: secrets.internal ?? {},
  };
}

/** Resolves and adds the Secrets' values in one step (for callers outside the controller). */
export function renderContext(cr: MessageQueue, inputs: RenderInputs = {}): RenderContext {
  return withSecrets(resolve(cr, inputs.operator), inputs);
}
