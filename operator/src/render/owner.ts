/** The owner reference that ties an object to its MessageQueue (garbage collection, prune). */
import { API_VERSION, KIND, type MessageQueue } from '../api/types.ts';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: true;
  blockOwnerDeletion: true;
}

/** The MessageQueue as controlling owner, once it has a uid (it does once it exists). */
export function ownerReferences(cr: MessageQueue): OwnerReference[] | undefined {
  if (!cr.metadata.uid) return undefined;
  return [
    {
      apiVersion: API_VERSION,
      kind: KIND,
      name: cr.metadata.name,
      uid: cr.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
}
