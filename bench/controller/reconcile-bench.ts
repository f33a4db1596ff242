/**
 * Controller benchmark (DESIGN §6, issue 3 §4), against a real local control plane:
 *  1. mqop reconciles N MessageQueues (created while the operator is stopped); time until every
 *     one has status.observedGeneration and all its objects exist.
 *  2. The ceiling, in the same run: the very same objects (render() output with the Secrets the
 *     operator created) server-side applied straight to the API server in a tight loop, with the
 *     same concurrency, into a fresh namespace.
 *  3. Reconcile latency p50/p99 (per reconcile, from the operator's histogram), operator RSS at N
 *     CRs, and write requests per idle resync (from the audit log).
 * Usage: node bench/controller/reconcile-bench.ts [--count 1000] [--concurrency 4] [--out bench/results]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { MessageQueue } from '../../operator/src/api/types.ts';
import { Informer } from '../../operator/src/controller/informer.ts';
import type { KubeObject } from '../../operator/src/controller/kube-client.ts';
import { MESSAGE_QUEUE, SECRET } from '../../operator/src/controller/resources.ts';
import { engineModule } from '../../operator/src/engines/index.ts';
import { render } from '../../operator/src/render/render.ts';
import { ROOT, startCluster, startOperator } from '../../operator/test/integration/cluster.ts';

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

/** User + system CPU time of a process so far (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Write requests by verb and resource, e.g. `{"patch messagequeues/status": 1000}`. */
function breakdown(writes: { verb: string; uri: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of writes) {
    const path = new URL(w.uri, 'http://x').pathname.split('/');
    const i = path.indexOf('namespaces');
    const resource =
      i >= 0
        ? path
            .slice(i + 2)
            .filter((_, j) => j !== 1)
            .join('/')
        : path.at(-1);
    const k = `${w.verb} ${resource}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

async function main() {
  const c = await startCluster();
  const log = (...a: unknown[]) => console.log(new Date().toISOString().slice(11, 19), ...a);
  try {
    await c.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
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
    const load0 = loadavg().map((l) => Math.round(l * 100) / 100);
    log(`creating ${N} MessageQueues (operator stopped); load average ${load0.join(' ')}`);
    await pool(crs, 16, async (cr) => {
      await c.client.create(cr as KubeObject);
    });

    log('starting the operator');
    // The clock starts with the operator process: its start-up (informer lists) counts.
    const t0 = Date.now();
    const op = await startOperator(c, {
      identity: 'bench',
      leaderElect: false,
      concurrency: CONC,
      resyncSeconds: 30,
    });
    const startupSeconds = (Date.now() - t0) / 1000;
    // Completion is watched, not polled: listing 1,000 MessageQueues every 250 ms would load the
    // API server in this phase only and slow the operator down.
    const done = new Set<string>();
    let allDone: () => void = () => {};
    const finished = new Promise<void>((r) => {
      allDone = r;
    });
    const watcher = new Informer<MessageQueue & KubeObject>(
      c.client,
      MESSAGE_QUEUE,
      (o) => {
        if (o.status?.observedGeneration === 1) done.add(o.metadata.name);
        if (done.size === N) allDone();
      },
      { namespace: 'bench' },
    );
    watcher.start();
    const limit = setTimeout(() => {
      console.error(`only ${done.size} of ${N} reconciled within 30 min`);
      process.exit(1);
    }, 1_800_000);
    await finished;
    clearTimeout(limit);
    const operatorSeconds = (Date.now() - t0) / 1000;
    watcher.stop();
    const operatorCpuSeconds = cpuSeconds(op.proc.pid as number);
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
    // API request latency by verb, as the operator saw it.
    const apiLatency: Record<string, { count: number; p50Ms: number; p99Ms: number }> = {};
    const byVerb = new Map<string, [number, number][]>();
    for (const m of metrics.matchAll(
      /^mqop_api_request_duration_seconds_bucket\{le="([^"]+)",verb="([^"]+)"\} (\d+)/gm,
    )) {
      const b = byVerb.get(m[2] as string) ?? [];
      b.push([m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), Number(m[3])]);
      byVerb.set(m[2] as string, b);
    }
    for (const [verb, b] of byVerb) {
      apiLatency[verb] = {
        count: b.at(-1)?.[1] ?? 0,
        p50Ms: Math.round(quantile(b, 0.5) * 10000) / 10,
        p99Ms: Math.round(quantile(b, 0.99) * 10000) / 10,
      };
    }
    log(`API latency: ${JSON.stringify(apiLatency)}`);

    const runWrites = breakdown(c.operatorWrites().filter((w) => w.time >= t0));
    log(`operator writes while reconciling: ${JSON.stringify(runWrites)}`);

    // Idle resyncs. The controller-manager keeps creating Pods for the new StatefulSets for a
    // while, and the status that mirrors them changes (a real change, not idle): wait until the
    // operator has written nothing for 20 s (at most 10 min), then count over two resync periods.
    const settle0 = Date.now();
    for (let last = -1, quietSince = Date.now(); Date.now() - settle0 < 600_000; await sleep(5000)) {
      const n = c.operatorWrites().length;
      if (n !== last) [last, quietSince] = [n, Date.now()];
      else if (Date.now() - quietSince >= 20_000) break;
    }
    const settleSeconds = (Date.now() - settle0) / 1000;
    log(`settled after ${settleSeconds.toFixed(0)} s`);
    const idleFrom = Date.now();
    const before = c.operatorWrites().length;
    const rBefore = await op.metric('mqop_reconcile_total');
    await sleep(65_000);
    const idleWrites = c.operatorWrites().length - before;
    const idleBreakdown = breakdown(c.operatorWrites().filter((w) => w.time >= idleFrom));
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
    // The ceiling is the API server's best: the same objects at the operator's concurrency and at
    // 4x that, each pass into a fresh namespace; the faster pass is the ceiling.
    const passes: { concurrency: number; seconds: number }[] = [];
    for (const [i, conc] of [CONC, CONC * 4].entries()) {
      const ns = `ceiling-${i}`;
      await c.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      const c0 = Date.now();
      await pool(objects, conc, async (o) => {
        await c.client.apply({ ...o, metadata: { ...o.metadata, namespace: ns } }, 'ceiling');
      });
      passes.push({ concurrency: conc, seconds: (Date.now() - c0) / 1000 });
      log(
        `ceiling: ${objects.length} objects applied in ${passes.at(-1)?.seconds.toFixed(1)} s, ${conc} in flight`,
      );
    }
    const best = passes.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const ceilingSeconds = best.seconds;

    const result = {
      date: new Date().toISOString(),
      kubernetes: 'v1.34.4 (local control plane: etcd + kube-apiserver + kube-controller-manager, 127.0.0.1)',
      machine: '2 cores, 24 GiB',
      messageQueues: N,
      concurrency: CONC,
      objectsPerRun: objects.length,
      operatorSeconds,
      ceilingSeconds,
      startupSeconds,
      operatorCpuSeconds,
      apiLatency,
      ceilingPasses: passes,
      ratio: Math.round((ceilingSeconds / operatorSeconds) * 1000) / 1000,
      loadAverageBefore: load0,
      operatorWritesWhileReconciling: runWrites,
      settleSeconds,
      idleWriteBreakdown: idleBreakdown,
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

${result.date} — ${result.kubernetes}; ${result.machine}. Produced by \`node bench/controller/reconcile-bench.ts --count ${N} --concurrency ${CONC}\`.

| measure | value |
|---|---|
| MessageQueues (six engines in turn) | ${N} |
| objects per run (rendered + Secrets) | ${objects.length} |
| mqop: time from the operator's start until all reconciled (start-up until ready: ${startupSeconds.toFixed(1)} s) | ${operatorSeconds.toFixed(1)} s |
| ceiling: same objects, plain server-side apply, best of ${passes.map((p) => `${p.seconds.toFixed(1)} s at ${p.concurrency} in flight`).join(' and ')} | ${ceilingSeconds.toFixed(1)} s |
| **ratio (ceiling time / mqop time; goal ≥ 0.8)** | **${result.ratio}** |
| operator CPU time while reconciling (of 2 cores × ${operatorSeconds.toFixed(0)} s) | ${operatorCpuSeconds.toFixed(1)} s |
| API requests by verb: count, latency p50 / p99 | ${Object.entries(apiLatency)
      .map(([v, l]) => `${v}: ${l.count}, ${l.p50Ms} / ${l.p99Ms} ms`)
      .join('; ')} |
| reconciles during the run | ${reconciles} |
| reconcile latency p50 / p99 | ${result.reconcileP50Ms} ms / ${result.reconcileP99Ms} ms |
| operator RSS at ${N} MessageQueues | ${result.operatorRssMiB} MiB |
| write requests during ${idleReconciles} idle reconciles (${(idleReconciles / N).toFixed(1)} resyncs), after ${settleSeconds.toFixed(0)} s settling | ${idleWrites} ${idleWrites ? JSON.stringify(idleBreakdown) : ''} |
| operator writes while reconciling | ${Object.entries(runWrites)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')} |
| load average (1/5/15 min) before the run | ${load0.join(' / ')} |
`;
    writeFileSync(join(values.out as string, 'controller.md'), md);
    console.log(md);
  } finally {
    await c.stop();
  }
}

await main();
