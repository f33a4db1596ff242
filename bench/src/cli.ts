#!/usr/bin/env node
/**
 * The benchmark CLI (`npm run bench -- <args>`; it was `mqop bench` and is a development tool, not
 * part of the operator image): the seed experiment (see seed.ts). For each engine and size,
 * enqueue N messages through our client, then dequeue them all, then the same with the engine's
 * native tool; write `seed-<date>.json`, `seed.md` and `seed.svg` into --out.
 *
 *   npm run bench -- [--engines redis,...,zeromq] [--messages N] [--sizes 128,512,1024,10240]
 *              [--quick] [--out bench/results] [--no-native] [--max-seconds S]
 *              [--url ENGINE=URL]... [--keep-brokers] [--note TEXT]... [--run-id ID]
 *              [--merge EARLIER.json]
 *
 * Brokers: without --url, each engine's test bed (`scripts/brokers/<engine>.sh start`) is started
 * on ports and state folders of the benchmark's own (so that the smoke tests' brokers are not
 * disturbed): redis 16479, rabbitmq 26772, kafka 19192/19193, state under
 * `${MQOP_CACHE:-~/.cache/mqop}/bench/brokers/<engine>`; activemq 25673 (AMQP) / 26161 (OpenWire),
 * rocketmq 29876 (name server) / 28081 (gRPC) / 28080 / 30911; zeromq is `mqop zmq-proxy`
 * (pipeline, operator/src/runtime/main.ts), started as a child process on 25555 (frontend) / 25556 (backend) / 25557 (health); the MQOP_<ENGINE>_PORT / _DIR env
 * variables of the scripts win when set. Brokers the command started are stopped at the end
 * (unless --keep-brokers). With --url, credentials come from env MQOP_BENCH_USERNAME /
 * MQOP_BENCH_PASSWORD (default: the test bed's `mqop` / $MQOP_TEST_PASSWORD).
 *
 * N per engine or size: `--engines kafka:200000` and `--sizes 10240:200000` cap N there (the
 * report says so).
 *
 * Exit codes: 0 results written and every phase measured, 1 results written but something failed
 * or was partial, 2 usage error.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { SmokeTarget } from '../../smoke-tests/src/types.ts';
import {
  type BenchConfig,
  type BenchEnginePlan,
  type BenchReport,
  type BenchSizePlan,
  benchEngines,
  mergeReports,
  QUICK_MESSAGES,
  renderMarkdown,
  renderSvg,
  runBench,
  SEED_MESSAGES,
  SEED_SIZES,
  writeResults,
} from './seed.ts';

export const BENCH_USAGE = `Usage: npm run bench -- [--engines E[:N],...] [--messages N] [--sizes B[:N],...] [--quick]
                  [--out DIR] [--no-native] [--max-seconds S] [--url ENGINE=URL]...
                  [--keep-brokers] [--note TEXT]... [--run-id ID] [--merge EARLIER.json]
  Seed experiment: per engine and size, enqueue N messages through our client, then dequeue
  them all (separate phases, checkpoint every N/10), then the same with the engine's native
  tool; ratio ours/native. Writes seed-<date>.json, seed.md and seed.svg to --out.
  --engines      default ${benchEngines().join(',')}; E:N sets N for that engine
  --messages     default ${SEED_MESSAGES} (${QUICK_MESSAGES} with --quick)
  --sizes        default ${SEED_SIZES.join(',')} (bytes); B:N caps N for that size
  --quick        N=${QUICK_MESSAGES} and a 60 s guard (unless given)
  --max-seconds  per-phase guard, default 300: the phase stops and records partial results
  --url          use this broker instead of starting the engine's test bed (credentials from
                 env MQOP_BENCH_USERNAME / MQOP_BENCH_PASSWORD)
  --keep-brokers leave the test-bed brokers the command started running
  --render R.json  run nothing: rewrite seed.md and seed.svg in --out from run R's JSON (with
                 --merge as above; --note adds notes to them, not to the JSON)
  --merge        an earlier run's seed-*.json (repeatable; earlier files first win): seed.md and
                 seed.svg also show its engines that this run did not measure, each with the
                 date of its run (this run's JSON keeps only its own)
  exit code: 0 all measured, 1 something failed or was partial, 2 usage error
`;

class UsageError extends Error {}

export interface BenchCommandOptions {
  engines: BenchEnginePlan[];
  urls: Map<string, string>;
  sizes: BenchSizePlan[];
  messages: number;
  maxSeconds: number;
  native: boolean;
  quick: boolean;
  out: string;
  keepBrokers: boolean;
  notes: string[];
  runId?: string;
  /**
   * Earlier runs' JSON files: their engines not in this run (nor in a file before them) are shown
   * in seed.md / seed.svg too.
   */
  merge: string[];
  /** Run nothing: rewrite seed.md / seed.svg in --out from this run's JSON (and --merge files). */
  render?: string;
}

function positiveInt(flag: string, v: string): number {
  const t = v.trim().replace(/_/g, '');
  if (!/^\d+$/.test(t) || Number(t) < 1) throw new UsageError(`${flag}: "${v}" is not a whole number >= 1`);
  return Number(t);
}

/** `a:1,b,c:3` → [['a', 1], ['b', undefined], ['c', 3]]. */
function listWithCounts(flag: string, v: string): Array<[string, number | undefined]> {
  const out: Array<[string, number | undefined]> = [];
  for (const part of v.split(',')) {
    const p = part.trim();
    if (!p) continue;
    const [k, n, more] = p.split(':');
    if (more !== undefined || !k) throw new UsageError(`${flag}: bad item "${p}"`);
    out.push([k, n === undefined ? undefined : positiveInt(flag, n)]);
  }
  if (!out.length) throw new UsageError(`${flag} is empty`);
  return out;
}

/** Parses the flags; throws UsageError on anything wrong. */
export function parseBenchArgs(args: string[]): BenchCommandOptions {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        engines: { type: 'string' },
        messages: { type: 'string', short: 'n' },
        sizes: { type: 'string' },
        quick: { type: 'boolean' },
        out: { type: 'string' },
        'no-native': { type: 'boolean' },
        'max-seconds': { type: 'string' },
        url: { type: 'string', multiple: true },
        'keep-brokers': { type: 'boolean' },
        note: { type: 'string', multiple: true },
        'run-id': { type: 'string' },
        merge: { type: 'string', multiple: true },
        render: { type: 'string' },
      },
    }) as { values: Record<string, string | boolean | string[] | undefined> });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const quick = values.quick === true;
  const known = benchEngines();
  const engines: BenchEnginePlan[] = listWithCounts(
    '--engines',
    (values.engines as string | undefined) ?? known.join(','),
  ).map(([engine, n]) => {
    if (!known.includes(engine)) {
      throw new UsageError(`--engines: no benchmark for "${engine}" (have: ${known.join(', ')})`);
    }
    const plan: BenchEnginePlan = { engine, target: { url: '' } };
    if (n !== undefined) {
      plan.messages = n;
      plan.notes = [`N set to ${n.toLocaleString('en-US')} for ${engine} (--engines ${engine}:${n}).`];
    }
    return plan;
  });
  const sizes: BenchSizePlan[] = listWithCounts(
    '--sizes',
    (values.sizes as string | undefined) ?? SEED_SIZES.join(','),
  ).map(([b, n]) => {
    const bytes = positiveInt('--sizes', b);
    return n === undefined ? { bytes } : { bytes, messages: n };
  });
  const messages =
    values.messages !== undefined
      ? positiveInt('--messages', values.messages as string)
      : quick
        ? QUICK_MESSAGES
        : SEED_MESSAGES;
  const maxSeconds =
    values['max-seconds'] !== undefined
      ? positiveInt('--max-seconds', values['max-seconds'] as string)
      : quick
        ? 60
        : 300;
  const urls = new Map<string, string>();
  for (const u of (values.url as string[] | undefined) ?? []) {
    const i = u.indexOf('=');
    if (i <= 0) throw new UsageError(`--url must be ENGINE=URL, got "${u.replace(/\/\/[^@/]*@/, '//***@')}"`);
    const engine = u.slice(0, i);
    if (!known.includes(engine)) throw new UsageError(`--url: unknown engine "${engine}"`);
    urls.set(engine, u.slice(i + 1));
  }
  const runId = values['run-id'] as string | undefined;
  if (runId !== undefined && !/^[a-z0-9-]{1,40}$/.test(runId)) {
    throw new UsageError('--run-id must be 1-40 characters of a-z 0-9 -');
  }
  const opts: BenchCommandOptions = {
    engines,
    urls,
    sizes,
    messages,
    maxSeconds,
    native: values['no-native'] !== true,
    quick,
    out: (values.out as string | undefined) ?? 'bench/results',
    keepBrokers: values['keep-brokers'] === true,
    notes: (values.note as string[] | undefined) ?? [],
    merge: (values.merge as string[] | undefined) ?? [],
  };
  if (runId) opts.runId = runId;
  if (typeof values.render === 'string') {
    if (!values.render.endsWith('.json')) throw new UsageError("--render takes a run's seed-*.json");
    opts.render = values.render;
  }
  for (const m of (values.merge as string[] | undefined) ?? []) {
    if (!m.endsWith('.json')) throw new UsageError("--merge takes an earlier run's seed-*.json");
  }
  return opts;
}

// ---------------------------------------------------------------------------------------------
// Test beds

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The env the test-bed scripts get: the benchmark's own ports and state folders by default. */
export function testbedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const cache = env.MQOP_CACHE || join(homedir(), '.cache', 'mqop');
  const defaults: Record<string, string> = {
    MQOP_REDIS_PORT: '16479',
    MQOP_REDIS_DIR: join(cache, 'bench', 'brokers', 'redis'),
    MQOP_RABBITMQ_PORT: '26772',
    MQOP_RABBITMQ_DIR: join(cache, 'bench', 'brokers', 'rabbitmq'),
    MQOP_KAFKA_PORT: '19192',
    MQOP_KAFKA_CONTROLLER_PORT: '19193',
    MQOP_KAFKA_DIR: join(cache, 'bench', 'brokers', 'kafka'),
    MQOP_ACTIVEMQ_PORT: '25673',
    MQOP_ACTIVEMQ_OPENWIRE_PORT: '26161',
    MQOP_ACTIVEMQ_DIR: join(cache, 'bench', 'brokers', 'activemq'),
    MQOP_ROCKETMQ_NAMESRV_PORT: '29876',
    MQOP_ROCKETMQ_GRPC_PORT: '28081',
    MQOP_ROCKETMQ_REMOTING_PORT: '28080',
    MQOP_ROCKETMQ_BROKER_PORT: '30911',
    MQOP_ROCKETMQ_DIR: join(cache, 'bench', 'brokers', 'rocketmq'),
    MQOP_ZEROMQ_PORT: '25555',
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(defaults)) out[k] = env[k] || v;
  return out;
}

function script(
  engine: string,
  action: string,
  env: Record<string, string>,
  timeoutMillis: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts', 'brokers', `${engine}.sh`), action], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const t = setTimeout(() => child.kill('SIGTERM'), timeoutMillis);
    child.on('error', (e) => {
      clearTimeout(t);
      resolvePromise({ code: null, stdout, stderr: stderr + String(e) });
    });
    child.on('close', (code) => {
      clearTimeout(t);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** A `mqop zmq-proxy` the command started for the zeromq engine. */
interface ZmqProxyChild {
  child: ChildProcess;
  frontend: string;
  backend: string;
}

/**
 * Starts `mqop zmq-proxy --role=central --pattern=pipeline` on 127.0.0.1 (frontend `port`,
 * backend `port + 1`, health `port + 2`) as a child process; resolves once it says it forwards.
 */
async function startZmqProxy(port: number, log: (line: string) => void): Promise<ZmqProxyChild> {
  const main = join(REPO_ROOT, 'operator', 'src', 'runtime', 'main.ts');
  const args = [
    main,
    'zmq-proxy',
    '--role=central',
    '--pattern=pipeline',
    `--frontend=tcp://127.0.0.1:${port}`,
    `--backend=tcp://127.0.0.1:${port + 1}`,
    '--health-host=127.0.0.1',
    `--health-port=${port + 2}`,
    '--linger=0',
  ];
  log(`zeromq: starting mqop zmq-proxy (pipeline, tcp://127.0.0.1:${port} → tcp://127.0.0.1:${port + 1})`);
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    if (out.length < 100_000) out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    if (out.length < 100_000) out += d;
  });
  const t0 = Date.now();
  for (;;) {
    const line = out.split('\n').find((l) => l.includes('"msg":"forwarding"'));
    if (line) {
      const { frontend, backend } = JSON.parse(line) as { frontend: string; backend: string };
      return { child, frontend, backend };
    }
    if (child.exitCode !== null || Date.now() - t0 > 20_000) {
      child.kill('SIGKILL');
      throw new Error(`mqop zmq-proxy did not start: ${out.trim().split('\n').slice(-3).join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopZmqProxy(p: ZmqProxyChild): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** Extra target settings the engines' test beds need (ports from the test-bed env). */
export function testbedExtra(
  engine: string,
  env: Record<string, string>,
): Record<string, string> | undefined {
  if (engine === 'activemq') {
    return { 'openwire.url': `tcp://127.0.0.1:${env.MQOP_ACTIVEMQ_OPENWIRE_PORT ?? '16161'}` };
  }
  if (engine === 'rocketmq')
    return { 'namesrv.addr': `127.0.0.1:${env.MQOP_ROCKETMQ_NAMESRV_PORT ?? '19876'}` };
  return undefined;
}

export interface BenchIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

const DEFAULT_IO: BenchIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
};

/** Runs the benchmark CLI; returns the exit code. */
export async function benchCommand(args: string[], io: BenchIo = DEFAULT_IO): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(BENCH_USAGE);
    return 0;
  }
  let opts: BenchCommandOptions;
  try {
    opts = parseBenchArgs(args);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`mqop bench: ${e.message}\n\n${BENCH_USAGE}`);
      return 2;
    }
    throw e;
  }
  const log = (line: string) => io.stderr(`${line}\n`);
  const env = testbedEnv(io.env);
  const started: string[] = [];
  let zmqProxy: ZmqProxyChild | undefined;
  const merged: Array<{ file: string; report: BenchReport }> = [];
  for (const file of [...(opts.render ? [opts.render] : []), ...opts.merge]) {
    try {
      const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
      if (report.schema !== 'mqop-bench/1' || !Array.isArray(report.engines)) {
        throw new Error('not an mqop bench report (schema mqop-bench/1)');
      }
      merged.push({ file, report });
    } catch (e) {
      io.stderr(`mqop bench: --merge ${file}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  if (opts.render) {
    const [first, ...rest] = merged;
    if (!first) return 2;
    const reduced = rest.reduce((acc, m) => mergeReports(acc, m.report, m.file), first.report);
    // --note: added to what is shown (the JSON files stay as the runs wrote them).
    const shown = opts.notes.length ? { ...reduced, notes: [...reduced.notes, ...opts.notes] } : reduced;
    const out = resolve(opts.out);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'seed.md'), renderMarkdown(shown));
    writeFileSync(join(out, 'seed.svg'), renderSvg(shown));
    io.stdout(`wrote ${join(out, 'seed.md')}\nwrote ${join(out, 'seed.svg')}\n`);
    return 0;
  }

  const password = io.env.MQOP_TEST_PASSWORD || 'mqop-test-pw';
  try {
    for (const plan of opts.engines) {
      const url = opts.urls.get(plan.engine);
      if (url) {
        const target: SmokeTarget = { url };
        const user = io.env.MQOP_BENCH_USERNAME ?? 'mqop';
        const pw = io.env.MQOP_BENCH_PASSWORD ?? password;
        if (user) target.username = user;
        if (pw) target.password = pw;
        plan.target = target;
        continue;
      }
      if (plan.engine === 'zeromq') {
        try {
          zmqProxy = await startZmqProxy(Number(env.MQOP_ZEROMQ_PORT), log);
          plan.target = { url: zmqProxy.frontend, extra: { backend: zmqProxy.backend, pattern: 'pipeline' } };
        } catch (e) {
          log(`zeromq: ${(e as Error).message}`);
          plan.target = { url: 'tcp://proxy-not-started:0' };
          plan.error = `mqop zmq-proxy did not start: ${(e as Error).message}`;
        }
        continue;
      }
      const status = await script(plan.engine, 'status', env, 60_000);
      log(`${plan.engine}: starting the test bed (scripts/brokers/${plan.engine}.sh start)`);
      const r = await script(plan.engine, 'start', env, 300_000);
      const lines = r.stdout.trim().split('\n');
      const found = lines[lines.length - 1]?.trim() ?? '';
      if (r.code !== 0 || !/^[a-z+]+:\/\//.test(found)) {
        log(`${plan.engine}: test bed did not start: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        plan.target = { url: `${plan.engine}://test-bed-not-started` };
        plan.error = `the test bed did not start (scripts/brokers/${plan.engine}.sh start exited ${r.code})`;
        continue;
      }
      if (status.code !== 0) started.push(plan.engine);
      plan.target = { url: found, username: 'mqop', password };
      const extra = testbedExtra(plan.engine, env);
      if (extra) plan.target.extra = extra;
    }
    const cfg: BenchConfig = {
      engines: opts.engines,
      sizes: opts.sizes,
      messages: opts.messages,
      maxSeconds: opts.maxSeconds,
      native: opts.native,
      quick: opts.quick,
      repoRoot: REPO_ROOT,
      log,
    };
    if (opts.runId) cfg.runId = opts.runId;
    if (opts.notes.length) cfg.notes = opts.notes;
    const report = await runBench(cfg);
    for (const e of report.engines) {
      if (e.engine === 'kafka' && !e.brokerVersion && !opts.urls.has('kafka')) {
        e.brokerVersion = `${io.env.MQOP_KAFKA_VERSION || '3.9.1'} (test bed)`;
      }
      if (e.engine === 'rocketmq' && !e.brokerVersion && !opts.urls.has('rocketmq')) {
        e.brokerVersion = `${io.env.MQOP_ROCKETMQ_VERSION || '5.3.3'} (test bed)`;
      }
    }
    const out = resolve(opts.out);
    const shown = merged.reduce((acc, m) => mergeReports(acc, m.report, m.file), report);
    const paths = writeResults(report, out, '', shown);
    io.stdout(`wrote ${paths.json}\nwrote ${paths.md}\nwrote ${paths.svg}\n`);
    if (merged.length) {
      io.stdout(
        `seed.md and seed.svg also show ${shown.engines.length - report.engines.length} engine row(s) from ${opts.merge.join(', ')}\n`,
      );
    }
    let ok = true;
    for (const e of report.engines) {
      if (e.error || e.sizes.length === 0) ok = false;
      for (const s of e.sizes) {
        if (s.ours.enqueue.partial || s.ours.dequeue.partial || !(s.ours.enqueue.rate > 0)) ok = false;
        if (opts.native && s.native && (s.native.enqueue.rate <= 0 || s.native.dequeue.rate <= 0)) ok = false;
      }
    }
    return ok ? 0 : 1;
  } finally {
    if (zmqProxy) {
      log('zeromq: stopping mqop zmq-proxy');
      await stopZmqProxy(zmqProxy);
    }
    if (!opts.keepBrokers) {
      for (const engine of started) {
        log(`${engine}: stopping the test bed`);
        await script(engine, 'stop', env, 120_000);
      }
    }
  }
}

if (import.meta.main) process.exitCode = await benchCommand(process.argv.slice(2));
