/**
 * Test harness: a real control plane (scripts/k8s/up.sh: etcd, kube-apiserver,
 * kube-controller-manager on 127.0.0.1) and mqop operators as child processes, so tests can
 * SIGKILL them. Nothing here fakes the API server.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/controller/kube-client.ts';

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NODE = process.execPath;

export interface Cluster {
  dir: string;
  kubeconfig: string;
  client: KubeClient;
  kubectl(args: string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }>;
  restartApiserver(secondsDown?: number): Promise<void>;
  /** Write requests (create/update/patch/delete) by mqop's User-Agent, except its Lease. */
  operatorWrites(): { verb: string; uri: string; time: number }[];
  stop(): Promise<void>;
}

export async function startCluster(): Promise<Cluster> {
  await run('bash', [join(ROOT, 'scripts/k8s/build.sh')], { maxBuffer: 1 << 24, timeout: 3_600_000 });
  const dir = mkdtempSync(join(tmpdir(), 'mqop-it-'));
  await run('bash', [join(ROOT, 'scripts/k8s/up.sh'), dir], { maxBuffer: 1 << 24, timeout: 300_000 });
  const env = Object.fromEntries(
    readFileSync(join(dir, 'env'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => {
        const i = l.indexOf('=');
        return [l.slice(0, i), l.slice(i + 1).replace(/^'|'$/g, '')];
      }),
  ) as Record<string, string>;
  const kubeconfig = env.KUBECONFIG as string;
  const kubectlBin = join(env.MQOP_K8S_BIN as string, 'kubectl');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const cluster: Cluster = {
    dir,
    kubeconfig,
    client: new KubeClient(kc, 'mqop-integration-test', 'mqop-integration-test'),
    kubectl: (args, input) =>
      new Promise((resolve) => {
        const p = execFile(
          kubectlBin,
          ['--kubeconfig', kubeconfig, ...args],
          { maxBuffer: 1 << 24 },
          (err, stdout, stderr) =>
            resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 }),
        );
        if (input !== undefined) p.stdin?.end(input);
      }),
    restartApiserver: async (secondsDown = 0) => {
      await run('bash', [join(ROOT, 'scripts/k8s/restart-apiserver.sh'), dir, String(secondsDown)], {
        timeout: 180_000,
      });
    },
    operatorWrites: () =>
      readFileSync(join(dir, 'audit.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(
          (l) =>
            JSON.parse(l) as {
              verb: string;
              requestURI: string;
              userAgent?: string;
              stageTimestamp: string;
              objectRef?: { resource?: string };
            },
        )
        .filter(
          (e) =>
            e.userAgent?.startsWith('mqop-operator') &&
            ['create', 'update', 'patch', 'delete'].includes(e.verb) &&
            e.objectRef?.resource !== 'leases',
        )
        .map((e) => ({ verb: e.verb, uri: e.requestURI, time: Date.parse(e.stageTimestamp) })),
    stop: async () => {
      await run('bash', [join(ROOT, 'scripts/k8s/down.sh'), dir], { timeout: 120_000 }).catch(() => {});
    },
  };
  const crd = await cluster.kubectl([
    'apply',
    '--server-side',
    '-f',
    join(ROOT, 'crds/messagequeues.mqop.dev.yaml'),
  ]);
  if (crd.code !== 0) throw new Error(`CRD apply failed: ${crd.stderr}`);
  await cluster.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/messagequeues.mqop.dev',
  ]);
  await cluster.kubectl(['create', 'namespace', 'mqop-system']);
  return cluster;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface OperatorProcess {
  proc: ChildProcess;
  port: number;
  identity: string;
  log(): string;
  metric(name: string, labels?: string): Promise<number>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `mqop operator` against the cluster as a child process. */
export async function startOperator(
  c: Cluster,
  opts: {
    identity: string;
    resyncSeconds?: number;
    leaderElect?: boolean;
    namespaces?: string[];
    concurrency?: number;
    /** More flags of `mqop operator`, e.g. `--operator-image=...`. */
    extraArgs?: string[];
  },
): Promise<OperatorProcess> {
  const port = await freePort();
  const args = [
    join(ROOT, 'operator/src/runtime/main.ts'),
    'operator',
    `--kubeconfig=${c.kubeconfig}`,
    `--health-port=${port}`,
    `--identity=${opts.identity}`,
    `--resync-seconds=${opts.resyncSeconds ?? 300}`,
    `--leader-elect=${opts.leaderElect === false ? 'false' : 'true'}`,
    `--concurrency=${opts.concurrency ?? 4}`,
    '--smoke-tests=false',
    '--operator-namespace=mqop-system',
    '--log-level=info',
  ];
  if (opts.namespaces) args.push(`--namespaces=${opts.namespaces.join(',')}`);
  args.push(...(opts.extraArgs ?? []));
  const proc = spawn(NODE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  proc.stderr?.on('data', (d) => {
    out += d;
  });
  const op: OperatorProcess = {
    proc,
    port,
    identity: opts.identity,
    log: () => out,
    metric: async (name, labels) => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      const text = await res.text();
      let sum = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith(name)) continue;
        const rest = line.slice(name.length);
        if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
        if (labels && !rest.includes(labels)) continue;
        sum += Number(line.split(' ').pop());
      }
      return sum;
    },
    kill: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill(signal);
      }),
  };
  await waitFor(
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
      } catch {
        return false;
      }
    },
    30_000,
    () => `operator did not start: ${out}`,
  );
  return op;
}

/** Polls until `fn` is truthy (every `intervalMs`); fails with `what` after the timeout. */
export async function waitFor<T>(
  fn: () => Promise<T> | T,
  timeoutMs: number,
  what: string | (() => string | Promise<string>),
  intervalMs = 250,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : await what()}${last ? ` (last error: ${(last as Error).message})` : ''}`,
  );
}
