/**
 * Controller benchmark (DESIGN §6, issue 3 §4), against a real local control plane:
 *  1. mqop reconciles N MessageQueues (created while the operator is stopped); time until every
 *     one has status.observedGeneration and all its objects exist.
 *  2. The ceiling, in the same run: the very same objects (render() output with the Secrets the
 *     operator created) server-side applied straight to the API server in a tight loop, with the
 *     same concurrency, into a fresh namespace.
 *  3. Reconcile latency p50/p99 (per reconcile, from the operator's histogram), operator RSS at N
 *     CRs, and write requests per idle resync (from the audit log).
 * Usage: node operator/bench/reconcile-bench.ts [--count 1000] [--concurrency 4] [--out bench/results]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { MessageQueue } from '../src/api/types.ts';
import type { KubeObject } from '../src/controller/kube-client.ts';
import { MESSAGE_QUEUE, SECRET } from '../src/controller/resources.ts';
import { engineModule } from '../src/engines/index.ts';
import { render } from '../src/render/render.ts';
import { ROOT, startCluster, startOperator, waitFor } from '../test/integration/cluster.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '4' },
    out: { type: 'string', default: join(ROOT, 'bench/results') },
  },
});
const N = Number(values.count);
const CONC = Number(values.concurrency);
const ENGINES = ['redis', 'kafka', 'rabbitmq', 'zeromq', 'activemq', 'rocketmq'] as const;

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++] as T);
    }),
  );
}

function quantile(buckets: [number, number][], q: number): number {
  // Prometheus-style linear interpolation within the histogram bucket that holds the quantile.
  const total = buckets.at(-1)?.[1] ?? 0;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

async function main() {
  const c = await startCluster();
  const log = (...a: unknown[]) => console.log(new Date().toISOString().slice(11, 19), ...a);
  try {
    await c.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
    await c.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ceiling' } });
    const crs = Array.from({ length: N }, (_, i) => {
      const engine = ENGINES[i % ENGINES.length] as string;
      const spec: Record<string, unknown> = { engine, smokeTest: { enabled: false } };
      if (engine !== 'zeromq') spec.storage = { ephemeral: true };
      return {
        apiVersion: 'mqop.dev/v1alpha1',
        kind: 'MessageQueue',
        metadata: { name: `q${i}`, namespace: 'bench' },
        spec,
      };
    });
    log(`creating ${N} MessageQueues (operator stopped)`);
    await pool(crs, 16, async (cr) => {
      await c.client.create(cr as KubeObject);
    });

    log('starting the operator');
    const op = await startOperator(c, {
      identity: 'bench',
      leaderElect: false,
      concurrency: CONC,
      resyncSeconds: 30,
    });
    const t0 = Date.now();
    await waitFor(
      async () => {
        const l = await c.client.list<MessageQueue & KubeObject>(MESSAGE_QUEUE, 'bench');
        return l.items.filter((i) => i.status?.observedGeneration === 1).length === N;
      },
      1_800_000,
      'all reconciled',
    );
    const operatorSeconds = (Date.now() - t0) / 1000;
    log(`operator: ${N} reconciled in ${operatorSeconds.toFixed(1)} s`);
    const pid = op.proc.pid as number;
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

    // Latency histogram of reconciles.
    const metrics = await (await fetch(`http://127.0.0.1:${op.port}/metrics`)).text();
    const buckets: [number, number][] = [];
    for (const m of metrics.matchAll(/^mqop_reconcile_duration_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)) {
      buckets.push([m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), Number(m[2])]);
    }
    const reconciles = buckets.at(-1)?.[1] ?? 0;

    // Idle resyncs: writes per resync over two resync periods.
    await sleep(5000);
    const before = c.operatorWrites().length;
    const rBefore = await op.metric('mqop_reconcile_total');
    await sleep(65_000);
    const idleWrites = c.operatorWrites().length - before;
    const idleReconciles = (await op.metric('mqop_reconcile_total')) - rBefore;
    await op.kill('SIGTERM');

    // Ceiling: the same objects, applied straight, same concurrency.
    log('ceiling: applying the same objects straight with server-side apply');
    const all = await c.client.list<MessageQueue & KubeObject>(MESSAGE_QUEUE, 'bench');
    const objects: KubeObject[] = [];
    for (const cr of all.items) {
      const dec = (s: KubeObject & { data?: Record<string, string> }, k: string) =>
        Buffer.from(s.data?.[k] ?? '', 'base64').toString();
      let credentials: { username: string; password: string } | undefined;
      if (cr.spec.engine !== 'zeromq') {
        const s = await c.client.get<KubeObject & { data?: Record<string, string> }>(
          SECRET,
          'bench',
          `${cr.metadata.name}-credentials`,
        );
        credentials = { username: dec(s, 'username'), password: dec(s, 'password') };
        objects.push({ ...s, metadata: { name: s.metadata.name, namespace: 'ceiling' } } as KubeObject);
      }
      const keys = Object.keys(engineModule(cr.spec.engine).internal);
      const internal: Record<string, string> = {};
      if (keys.length) {
        const s = await c.client.get<KubeObject & { data?: Record<string, string> }>(
          SECRET,
          'bench',
          `${cr.metadata.name}-${cr.spec.engine}-internal`,
        );
        for (const k of keys) internal[k] = dec(s, k);
        objects.push({ ...s, metadata: { name: s.metadata.name, namespace: 'ceiling' } } as KubeObject);
      }
      const { objects: rendered } = render(
        { ...cr, metadata: { ...cr.metadata, namespace: 'ceiling', uid: undefined } },
        { credentials, internal },
      );
      objects.push(...(rendered as KubeObject[]));
    }
    const c0 = Date.now();
    await pool(objects, CONC, async (o) => {
      await c.client.apply(o, 'ceiling');
    });
    const ceilingSeconds = (Date.now() - c0) / 1000;
    log(`ceiling: ${objects.length} objects applied in ${ceilingSeconds.toFixed(1)} s`);

    const result = {
      date: new Date().toISOString(),
      kubernetes: 'v1.34.4 (local control plane: etcd + kube-apiserver + kube-controller-manager, 127.0.0.1)',
      machine: '2 cores, 24 GiB',
      messageQueues: N,
      concurrency: CONC,
      objectsPerRun: objects.length,
      operatorSeconds,
      ceilingSeconds,
      ratio: Math.round((ceilingSeconds / operatorSeconds) * 1000) / 1000,
      reconciles,
      reconcileP50Ms: Math.round(quantile(buckets, 0.5) * 10000) / 10,
      reconcileP99Ms: Math.round(quantile(buckets, 0.99) * 10000) / 10,
      operatorRssMiB: Math.round(rssKiB / 102.4) / 10,
      idleReconciles,
      idleWrites,
      writesPerIdleResync: idleReconciles ? idleWrites / (idleReconciles / N) : null,
    };
    mkdirSync(values.out as string, { recursive: true });
    writeFileSync(join(values.out as string, 'controller.json'), `${JSON.stringify(result, null, 2)}\n`);
    const md = `# Controller benchmark

${result.date} — ${result.kubernetes}; ${result.machine}. Produced by \`node operator/bench/reconcile-bench.ts --count ${N} --concurrency ${CONC}\`.

| measure | value |
|---|---|
| MessageQueues (six engines in turn) | ${N} |
| objects per run (rendered + Secrets) | ${objects.length} |
| mqop: time until all reconciled | ${operatorSeconds.toFixed(1)} s |
| ceiling: same objects, plain server-side apply, same concurrency (${CONC}) | ${ceilingSeconds.toFixed(1)} s |
| **ratio (ceiling time / mqop time; goal ≥ 0.8)** | **${result.ratio}** |
| reconciles during the run | ${reconciles} |
| reconcile latency p50 / p99 | ${result.reconcileP50Ms} ms / ${result.reconcileP99Ms} ms |
| operator RSS at ${N} MessageQueues | ${result.operatorRssMiB} MiB |
| write requests during ${idleReconciles} idle reconciles (${(idleReconciles / N).toFixed(1)} resyncs) | ${idleWrites} |
`;
    writeFileSync(join(values.out as string, 'controller.md'), md);
    console.log(md);
  } finally {
    await c.stop();
  }
}

await main();
