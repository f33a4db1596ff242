/**
 * `mqop operator`: wires the data flow together.
 *   informers (MessageQueue + owned kinds) ─► work queue (ns/name) ─► Reconciler ─► API server
 * plus leader election, health and metrics endpoints, and a graceful shutdown.
 */
import http from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { OWNER_LABEL } from '../api/labels.ts';
import { type MessageQueue, PLURAL } from '../api/types.ts';
import { cachedSecret, mergeCaches, slimClaim, slimPod } from '../controller/cache.ts';
import { Informer } from '../controller/informer.ts';
import { KubeClient, type KubeObject } from '../controller/kube-client.ts';
import { LeaderElector } from '../controller/leader-election.ts';
import { Reconciler } from '../controller/reconciler.ts';
import { MESSAGE_QUEUE, ownedTypes, POD, PVC } from '../controller/resources.ts';
import { SmokeScheduler } from '../controller/smoke-scheduler.ts';
import { WorkQueue } from '../controller/work-queue.ts';
import type { ClaimLike, PodLike } from '../status/pods.ts';
import { createLogger, type Logger } from '../telemetry/logger.ts';
import { Metrics } from '../telemetry/metrics.ts';
import type { OperatorConfig } from './config.ts';

export interface RunningOperator {
  stop(): Promise<void>;
  metrics: Metrics;
  client: KubeClient;
  /** Resolves once this replica leads and its caches are filled. */
  ready: Promise<void>;
  isLeader(): boolean;
}

function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromCluster();
  return kc;
}

export async function runOperator(
  cfg: OperatorConfig,
  log: Logger = createLogger(cfg.logLevel),
): Promise<RunningOperator> {
  const client = new KubeClient(loadKubeConfig(cfg.kubeconfig));
  const metrics = new Metrics();
  client.onRequest((verb, _path, status, seconds) => {
    metrics.apiRequests.inc({ verb, code: `${Math.floor(status / 100)}xx` });
    metrics.apiSeconds.observe({ verb }, seconds);
  });

  const namespaces: (string | undefined)[] = cfg.namespaces.length ? cfg.namespaces : [undefined];
  const mqInformers: Informer<MessageQueue & KubeObject>[] = [];
  const owned = new Map<string, Informer[]>();
  // Pods and claims are not rendered (their controllers make them) but say why a MessageQueue is
  // not ready; they carry the owner label from the pod and claim templates. Cached trimmed.
  const pods: Informer<KubeObject & PodLike>[] = [];
  const claims: Informer<KubeObject & ClaimLike>[] = [];
  const onError = (t: { kind: string }, err: unknown) =>
    log.warn(
      { kind: t.kind, err: (err as Error)?.message ?? String(err) },
      'watch failed, restarting with backoff',
    );

  let reconciler: Reconciler;
  const queue = new WorkQueue((key) => reconciler.reconcile(key), {
    concurrency: cfg.concurrency,
    onError: (key, err, attempt) =>
      log.warn(
        { key, attempt, err: (err as Error)?.message ?? String(err) },
        'reconcile failed, retrying with backoff',
      ),
  });
  const depth = setInterval(() => metrics.queueDepth.set(queue.depth()), 1000);
  depth.unref();

  const enqueueOwner = (o: KubeObject) => {
    const owner = o.metadata.labels?.[OWNER_LABEL];
    if (owner && o.metadata.namespace) queue.add(`${o.metadata.namespace}/${owner}`);
  };
  for (const ns of namespaces) {
    mqInformers.push(
      new Informer<MessageQueue & KubeObject>(
        client,
        MESSAGE_QUEUE,
        (o) => queue.add(`${o.metadata.namespace}/${o.metadata.name}`),
        { namespace: ns, resyncMs: cfg.resyncSeconds * 1000, onError },
      ),
    );
    for (const t of ownedTypes(cfg.manageRoles)) {
      const key = `${t.apiVersion}/${t.kind}`;
      const list = owned.get(key) ?? [];
      list.push(
        new Informer(client, t, enqueueOwner, { namespace: ns, labelSelector: OWNER_LABEL, onError }),
      );
      owned.set(key, list);
    }
    const observed = { namespace: ns, labelSelector: OWNER_LABEL, onError };
    pods.push(new Informer(client, POD, enqueueOwner, { ...observed, transform: slimPod as never }));
    claims.push(new Informer(client, PVC, enqueueOwner, { ...observed, transform: slimClaim as never }));
  }
  // Per-namespace informers stand behind one cache per kind.
  const caches = {
    messageQueues: mergeCaches(mqInformers),
    owned: new Map([...owned].map(([k, v]) => [k, mergeCaches(v)])),
    pods: mergeCaches(pods),
    claims: mergeCaches(claims),
  };
  reconciler = new Reconciler(client, caches, log, metrics, {
    operator: {
      image: cfg.operatorImage,
      namespace: cfg.operatorNamespace,
      imageRegistry: cfg.imageRegistry,
      sidecarImages: cfg.sidecarImages,
    },
    instance: cfg.identity,
  });
  reconciler.enqueue = (key) => queue.add(key);
  if (cfg.smokeTests) {
    reconciler.smoke = new SmokeScheduler(log, metrics, {
      maxConcurrent: cfg.smokeConcurrency,
      maxPerNamespace: cfg.smokeConcurrencyPerNamespace,
      triggerMinIntervalMs: cfg.smokeTriggerMinIntervalSeconds * 1000,
      secret: (ns, name) => cachedSecret(caches, ns, name),
      onResult: (key, outcome) => reconciler.smokeResult(key, outcome),
      onDeferred: (cr, e) => void reconciler.event(cr, e),
    });
  }
  const all = () => [...mqInformers, ...[...owned.values()].flat(), ...pods, ...claims];

  let resolveReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    resolveReady = r;
  });
  let stopping = false;
  const startControllers = () => {
    for (const i of all()) i.start();
    const wait = setInterval(() => {
      if (all().every((i) => i.hasSynced())) {
        clearInterval(wait);
        log.info(
          { namespaces: cfg.namespaces.length ? cfg.namespaces : 'all', resource: PLURAL },
          'caches synced',
        );
        resolveReady();
      }
    }, 100);
  };

  const elector = cfg.leaderElect
    ? new LeaderElector(client, log, {
        namespace: cfg.operatorNamespace,
        name: cfg.leaseName,
        identity: cfg.identity,
      })
    : undefined;

  const server = http.createServer(async (req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
    } else if (req.url === '/readyz') {
      const ok = !stopping;
      res.writeHead(ok ? 200 : 503).end(ok ? 'ok' : 'stopping');
    } else if (req.url === '/metrics') {
      res
        .writeHead(200, { 'Content-Type': metrics.registry.contentType })
        .end(await metrics.registry.metrics());
    } else {
      res.writeHead(404).end();
    }
  });
  if (cfg.healthPort > 0) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) =>
        reject(new Error(`health port ${cfg.healthPort}: ${(e as Error).message}`)),
      );
      server.listen(cfg.healthPort, resolve);
    });
  }

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down');
    for (const i of all()) i.stop();
    await queue.shutdown();
    await elector?.stop();
    metrics.isLeader.set(0);
    await new Promise<void>((r) => server.close(() => r()));
  };

  if (elector) {
    elector.start(
      () => {
        metrics.isLeader.set(1);
        startControllers();
      },
      () => {
        // A leader that lost its lease must stop reconciling at once; exiting lets the
        // Deployment restart it as a fresh candidate.
        metrics.isLeader.set(0);
        void stop().finally(() => process.exit(1));
      },
    );
  } else {
    metrics.isLeader.set(1);
    startControllers();
  }
  log.info(
    { identity: cfg.identity, leaderElect: cfg.leaderElect, healthPort: cfg.healthPort },
    'mqop operator started',
  );
  return { stop, metrics, client, ready, isLeader: () => elector?.isLeader() ?? true };
}
