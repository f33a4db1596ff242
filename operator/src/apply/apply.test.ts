import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contains, DESIRED_HASH_ANNOTATION, needsApply, prunable, withDesiredHash } from './apply.ts';

const svc = (port: number) =>
  withDesiredHash({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 's', namespace: 'n', labels: { a: 'b' }, annotations: {} as Record<string, string> },
    spec: { ports: [{ name: 'p', port }], selector: { a: 'b' } },
  });

test('an observed object with server defaults still contains the desired one: no apply', () => {
  const d = svc(80);
  const observed = {
    ...d,
    metadata: { ...d.metadata, uid: 'u', resourceVersion: '7', managedFields: [] },
    spec: {
      ...d.spec,
      clusterIP: '10.0.0.1',
      ports: [{ name: 'p', port: 80, protocol: 'TCP', targetPort: 80 }],
    },
    status: {},
  };
  assert.equal(needsApply(d, observed), false);
});

test('missing, drifted, or changed objects are applied', () => {
  const d = svc(80);
  assert.equal(needsApply(d, undefined), true);
  const drifted = { ...d, spec: { ...d.spec, ports: [{ name: 'p', port: 81 }] } };
  assert.equal(needsApply(d, drifted), true);
  assert.equal(needsApply(svc(82), d), true, 'a new desired hash means apply');
  const noHash = { ...d, metadata: { ...d.metadata, annotations: {} } };
  assert.equal(needsApply(d, noHash), true);
});

test('the hash is stable and content-addressed', () => {
  assert.equal(
    svc(80).metadata.annotations?.[DESIRED_HASH_ANNOTATION],
    svc(80).metadata.annotations?.[DESIRED_HASH_ANNOTATION],
  );
  assert.notEqual(
    svc(80).metadata.annotations?.[DESIRED_HASH_ANNOTATION],
    svc(81).metadata.annotations?.[DESIRED_HASH_ANNOTATION],
  );
});

test('contains: lists must match in length, empty desired values match anything', () => {
  assert.equal(contains({ a: [1, 2] }, { a: [1] }), false);
  assert.equal(contains({}, { a: {}, b: [] }), true);
  assert.equal(contains({ a: { b: 1, c: 2 } }, { a: { b: 1 } }), true);
  assert.equal(contains({ a: '1' }, { a: 1 }), false);
});

test('prune only owned, undesired objects, and keep the once-created Secrets', () => {
  const labels = { 'mqop.dev/messagequeue': 'q', 'app.kubernetes.io/managed-by': 'mqop' };
  const mk = (
    kind: string,
    name: string,
    uid = 'me',
    more: { labels?: Record<string, string>; controller?: boolean; owner?: string } = {},
  ) => ({
    apiVersion: 'v1',
    kind,
    metadata: {
      name,
      namespace: 'n',
      labels: more.labels ?? labels,
      ownerReferences: [
        { uid, kind: 'MessageQueue', name: more.owner ?? 'q', controller: more.controller ?? true },
      ],
    },
  });
  const owned = [
    mk('Service', 'keep-me'),
    mk('Service', 'old'),
    mk('Secret', 'q-credentials'),
    mk('Service', 'other', 'x'),
    // Not mqop's for this MessageQueue, whatever else they carry: never pruned.
    mk('Service', 'earlier-instance', 'uid-of-a-deleted-q'),
    mk('Service', 'not-controller', 'me', { controller: false }),
    mk('Service', 'no-managed-by', 'me', { labels: { 'mqop.dev/messagequeue': 'q' } }),
    mk('Service', 'other-label', 'me', { labels: { ...labels, 'mqop.dev/messagequeue': 'p' } }),
  ];
  const desired = [mk('Service', 'keep-me')];
  const out = prunable(owned, desired, { uid: 'me', name: 'q' }, new Set(['Secret/q-credentials']));
  assert.deepEqual(
    out.map((o) => o.metadata.name),
    ['old'],
  );
});
