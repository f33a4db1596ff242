/** Recommended `app.kubernetes.io/*` labels, and the smaller stable subset used in selectors. */
import type { ResolvedQueue } from './resolve.ts';

/** What labels are made of. */
type Labelled = Pick<ResolvedQueue, 'engine' | 'name' | 'version'>;

export const MANAGED_BY = 'mqop';
/** Label on every object mqop renders for a MessageQueue; prune lists by it. */
export const OWNER_LABEL = 'mqop.dev/messagequeue';

/** Labels that select one component's pods. Never change these for an existing object. */
export function selectorLabels(ctx: Labelled, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': ctx.engine,
    'app.kubernetes.io/instance': ctx.name,
    'app.kubernetes.io/component': component,
  };
}

/** Full label set for an object of one component. */
export function objectLabels(ctx: Labelled, component: string): Record<string, string> {
  return {
    ...selectorLabels(ctx, component),
    'app.kubernetes.io/version': ctx.version,
    'app.kubernetes.io/part-of': 'mqop',
    'app.kubernetes.io/managed-by': MANAGED_BY,
    [OWNER_LABEL]: ctx.name,
  };
}
