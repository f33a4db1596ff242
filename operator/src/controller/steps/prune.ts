/**
 * Step: prune. Deletes what this MessageQueue owns but no longer wants (the PDB after scaling to
 * one replica, the NetworkPolicy when switched off). The cache is the list: no API call when there
 * is nothing to delete. Only objects mqop created for this MessageQueue (its uid in the controller
 * owner reference and mqop's labels) are ever deleted: an object that only carries the owner
 * label, or belongs to an earlier MessageQueue of the same name, is left alone.
 */
import { OWNER_LABEL } from '../../api/labels.ts';
import type { ResolvedQueue } from '../../api/resolve.ts';
import { prunable } from '../../apply/apply.ts';
import type { K8sObject } from '../../render/render.ts';
import type { Logger } from '../../telemetry/logger.ts';
import type { Caches } from '../cache.ts';
import type { Client, KubeObject } from '../kube-client.ts';
import { typeOf } from '../resources.ts';
import { keptSecrets } from './secrets.ts';

export async function prune(
  client: Client,
  caches: Caches,
  q: ResolvedQueue,
  desired: readonly K8sObject[],
  log: Logger,
): Promise<void> {
  const owned: KubeObject[] = [];
  for (const cache of caches.owned.values()) {
    owned.push(...cache.list(q.namespace).filter((o) => o.metadata.labels?.[OWNER_LABEL] === q.name));
  }
  for (const o of prunable(
    owned,
    [...desired],
    { uid: q.cr.metadata.uid as string, name: q.name },
    keptSecrets(q),
  )) {
    log.info(
      { kind: o.kind, name: o.metadata.name, namespace: q.namespace },
      'pruning object no longer desired',
    );
    await client.delete(typeOf(o), q.namespace, o.metadata.name);
  }
}
