/**
 * Helpers for the end-to-end suite: a real cluster (scripts/cluster/up.sh, the README's main
 * command) with mqop installed by its chart, driven through kubectl as a user would.
 * scripts/cluster/e2e.sh brings the cluster up and sets KUBECONFIG and MQOP_K8S_BIN.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { OWNER_LABEL } from '../../src/api/labels.ts';
import type { MessageQueue } from '../../src/api/types.ts';
import { OWNED_TYPES } from '../../src/controller/resources.ts';
import { waitFor as integrationWaitFor, ROOT } from '../integration/cluster.ts';

export { ROOT };

export const KUBECTL = join(process.env.MQOP_K8S_BIN ?? '', 'kubectl');
assert.ok(
  process.env.KUBECONFIG && process.env.MQOP_K8S_BIN,
  'run through scripts/cluster/e2e.sh (npm run test:e2e)',
);

/** Runs kubectl; throws with its stderr on a non-zero exit. */
export function kubectl(args: string[], input?: string, timeoutMs = 120_000): string {
  const r = spawnSync(KUBECTL, args, { input, encoding: 'utf8', maxBuffer: 64 << 20, timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

/** kubectl with its exit code instead of an exception (kubectl diff: 0 same, 1 differs). */
export function kubectlStatus(
  args: string[],
  input?: string,
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(KUBECTL, args, { input, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function getJson<T = Record<string, unknown>>(args: string[]): T {
  return JSON.parse(kubectl([...args, '-o', 'json'])) as T;
}

/** Server-side apply of objects (field manager e2e, as a user or a GitOps tool would). */
export function apply(...objects: object[]): void {
  kubectl(
    ['apply', '--server-side', '--field-manager=e2e', '-f', '-'],
    objects.map((o) => `---\n${stringify(o)}`).join(''),
  );
}

export function createNamespace(ns: string): void {
  apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
}

/**
 * Deletes a test namespace: its MessageQueues first, then (once their broker pods are gone) the
 * namespace. Deleting the namespace straight away can stall for the pods' whole grace period: the
 * namespace controller waits out the longest `terminationGracePeriodSeconds` it sees (a
 * clustered RabbitMQ has 900 s) before it deletes the rest (seen in CI).
 */
export function deleteNamespace(ns: string): void {
  const t = ['--ignore-not-found', '--wait=true', '--timeout=300s'];
  kubectl(['delete', 'messagequeues', '--all', '-n', ns, ...t], undefined, 330_000);
  kubectl(
    ['wait', '--for=delete', 'pods', '-l', OWNER_LABEL, '-n', ns, '--timeout=300s'],
    undefined,
    330_000,
  );
  kubectl(['delete', 'namespace', ns, ...t], undefined, 330_000);
}

export const mq = (namespace: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'mqop.dev/v1alpha1',
  kind: 'MessageQueue',
  metadata: { name, namespace },
  spec: { smokeTest: { intervalSeconds: 30 }, ...spec },
});

export function getMq(ns: string, name: string): MessageQueue {
  return getJson<MessageQueue>(['get', 'messagequeue', name, '-n', ns]);
}

export function condition(m: MessageQueue, type: string): string | undefined {
  return m.status?.conditions?.find((c) => c.type === type)?.status;
}

/** What a failed wait prints: the MessageQueue's status, its pods and the recent events. */
export function describeMq(ns: string, name: string): string {
  const parts: string[] = [];
  const run = (args: string[]) => {
    const r = kubectlStatus(args);
    parts.push(`$ kubectl ${args.join(' ')}\n${r.stdout}${r.stderr}`);
  };
  run(['get', 'messagequeue', name, '-n', ns, '-o', 'jsonpath={.status}']);
  run(['get', 'pods', '-n', ns, '-o', 'wide', '-l', `app.kubernetes.io/instance=${name}`]);
  run(['get', 'events', '-n', ns, '--sort-by=.lastTimestamp']);
  return parts.join('\n').slice(-6000);
}

/** Polls once a second until fn is truthy; on timeout fails with what() (e.g. describeMq). */
export const waitFor = <T>(fn: () => T | Promise<T>, timeoutMs: number, what: () => string) =>
  integrationWaitFor(fn, timeoutMs, what, 1000);

/**
 * Waits until the MessageQueue is Ready with `replicas` ready pods and has a passed smoke test
 * that ran after `after` (so an old pass does not count). Returns the seconds it took.
 */
export async function waitReadyAndSmoke(
  ns: string,
  name: string,
  opts: { after?: Date; replicas?: number; timeoutMs?: number } = {},
): Promise<number> {
  const t0 = Date.now();
  const after = opts.after ?? new Date(0);
  await waitFor(
    () => {
      const m = getMq(ns, name);
      const s = m.status;
      return (
        condition(m, 'Ready') === 'True' &&
        condition(m, 'SmokeTestPassed') === 'True' &&
        s?.observedGeneration === m.metadata.generation &&
        (opts.replicas === undefined || s?.readyReplicas === opts.replicas) &&
        s?.smokeTest?.result === 'Passed' &&
        new Date(s.smokeTest.lastRunTime ?? 0) > after
      );
    },
    opts.timeoutMs ?? 300_000,
    () => describeMq(ns, name),
  );
  return (Date.now() - t0) / 1000;
}

/** Runs a shell command in a pod's container (secrets stay inside: read from the pod's env). */
export function exec(ns: string, pod: string, container: string, script: string): string {
  return kubectl(['exec', '-n', ns, pod, '-c', container, '--', 'sh', '-c', script], undefined, 60_000);
}

/** kubectl's names of the kinds mqop creates for a MessageQueue (all carry OWNER_LABEL). */
export const OWNED_KINDS = OWNED_TYPES.map((t) => t.plural).join(',');

/** Names of the pods of a MessageQueue (optionally one component: broker, sentinel, ...). */
export function podsOf(ns: string, name: string, component?: string): string[] {
  const sel = [
    `app.kubernetes.io/instance=${name}`,
    ...(component ? [`app.kubernetes.io/component=${component}`] : []),
  ];
  return kubectl(['get', 'pods', '-n', ns, '-l', sel.join(','), '-o', 'jsonpath={.items[*].metadata.name}'])
    .split(' ')
    .filter(Boolean)
    .sort();
}
