/**
 * The MessageQueue CustomResourceDefinition, built from `schema.ts`. Generated into `crds/` by
 * `npm run gen:crds`; the drift test compares the two.
 */

import { messageQueueSchema } from './schema.ts';
import { GROUP, KIND, PLURAL, VERSION } from './types.ts';

/** The CRD object, ready to serialise or apply. */
export function messageQueueCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${PLURAL}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'mqop', 'app.kubernetes.io/part-of': 'mqop' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: 'messagequeue',
        shortNames: ['mq'],
        categories: ['mqop', 'messaging'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Engine', type: 'string', jsonPath: '.spec.engine' },
            { name: 'Version', type: 'string', jsonPath: '.status.version' },
            {
              name: 'Ready',
              type: 'string',
              jsonPath: '.status.conditions[?(@.type=="Ready")].status',
            },
            { name: 'Smoke', type: 'string', jsonPath: '.status.smokeTest.result' },
            {
              name: 'Latency',
              type: 'number',
              description: 'p99 produce-to-consume latency of the last smoke test, in milliseconds',
              jsonPath: '.status.smokeTest.p99Millis',
            },
            { name: 'Endpoint', type: 'string', jsonPath: '.status.endpoint.url' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase', priority: 1 },
            { name: 'Replicas', type: 'integer', jsonPath: '.status.readyReplicas', priority: 1 },
          ],
          schema: { openAPIV3Schema: messageQueueSchema() },
        },
      ],
    },
  };
}
