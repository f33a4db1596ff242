/**
 * The mqop container image, built offline by `scripts/image/build.sh` (idempotent: a second run
 * only checks that the image carries the current inputs), then run the way a restricted Pod runs
 * it: read-only root file system, a tmpfs on /tmp, uid 65532, no network.
 *
 * Needs root (or a running Docker daemon) and Debian's docker.io + mmdebstrap (the build script
 * installs them with apt-get when they are missing and it runs as root). The script starts dockerd
 * when none answers and leaves it running (`scripts/image/dockerd.sh stop` stops it).
 * Skip with MQOP_SKIP_IMAGE_TEST=1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const skip = process.env.MQOP_SKIP_IMAGE_TEST === '1' ? 'MQOP_SKIP_IMAGE_TEST=1' : false;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let engine = 'docker';
let image = '';
const containers: string[] = [];

function run(cmd: string, args: string[], timeoutMs = 60_000): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `<engine> <args>`; fails the test with the command's output when it exits non-zero. */
function ok(args: string[], timeoutMs?: number): Run {
  const r = run(engine, args, timeoutMs);
  assert.equal(r.code, 0, `${engine} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** A locked-down one-shot run: read-only root fs, tmpfs /tmp, uid 65532, no network. */
const LOCKED = ['--rm', '--read-only', '--tmpfs', '/tmp', '--user', '65532', '--network', 'none'];

function containerName(what: string): string {
  const name = `mqop-image-test-${process.pid}-${what}`;
  containers.push(name);
  return name;
}

describe('mqop image', { skip }, () => {
  before(
    () => {
      const r = run('bash', [`${root}scripts/image/build.sh`], 20 * 60_000);
      assert.equal(r.code, 0, `scripts/image/build.sh exited ${r.code}\n${r.stderr}`);
      const out: Record<string, string> = Object.fromEntries(
        r.stdout
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      engine = out.MQOP_CONTAINER_ENGINE ?? '';
      image = out.MQOP_IMAGE ?? '';
      assert.ok(engine && image, `build.sh printed no image:\n${r.stdout}`);
      process.stderr.write(`# ${image} (${engine}): ${Math.round(Number(out.MQOP_IMAGE_SIZE) / 1e6)} MB\n`);
    },
    { timeout: 20 * 60_000 },
  );

  after(() => {
    for (const name of containers) run(engine, ['rm', '-f', '-v', name]);
  });

  test('a second build is a no-op that keeps the same image', () => {
    const before = ok(['image', 'inspect', '--format', '{{.Id}}', image]).stdout.trim();
    const t0 = Date.now();
    const r = run('bash', [`${root}scripts/image/build.sh`], 5 * 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /up to date/);
    assert.ok(Date.now() - t0 < 30_000, `cached build took ${Date.now() - t0} ms`);
    assert.equal(ok(['image', 'inspect', '--format', '{{.Id}}', image]).stdout.trim(), before);
  });

  test('image config: non-root user, tini as PID 1 running the CLI', () => {
    const cfg = JSON.parse(ok(['image', 'inspect', '--format', '{{json .Config}}', image]).stdout);
    assert.equal(cfg.User, '65532:65532');
    assert.equal(cfg.WorkingDir, '/app');
    assert.deepEqual(cfg.Entrypoint, ['/usr/bin/tini', '--', 'node', '/app/operator/src/runtime/main.ts']);
  });

  test('mqop --help exits 0 with the usage text (entrypoint and the mqop wrapper)', () => {
    const viaEntrypoint = ok(['run', ...LOCKED, image, '--help']);
    assert.match(viaEntrypoint.stdout, /^mqop - a Kubernetes operator for message queues/);
    assert.match(viaEntrypoint.stdout, /mqop zmq-proxy/);
    // The zeromq engine's Deployment runs `command: ['mqop']`, which replaces the entrypoint.
    const viaWrapper = ok(['run', ...LOCKED, '--entrypoint', 'mqop', image, '--help']);
    assert.equal(viaWrapper.stdout, viaEntrypoint.stdout);
  });

  test('runs as uid 65532 by default (no --user given)', () => {
    const r = ok(['run', '--rm', '--read-only', '--network', 'none', '--entrypoint', 'id', image]);
    assert.match(r.stdout, /^uid=65532\(mqop\) gid=65532\(mqop\)/);
  });

  test('the app is read-only for its user', () => {
    const r = run(engine, [
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      'sh',
      image,
      '-c',
      'touch /app/x 2>/dev/null && echo writable || echo read-only',
    ]);
    assert.equal(r.stdout.trim(), 'read-only');
  });

  test('every production dependency loads in the image (the node_modules pruning kept what runs)', () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const deps = Object.keys(pkg.dependencies);
    assert.ok(deps.length >= 10, deps.join(','));
    const script = `for (const d of ${JSON.stringify(deps)}) await import(d); console.log('loaded', ${deps.length})`;
    const r = ok(['run', ...LOCKED, '--entrypoint', 'node', image, '--input-type=module', '-e', script]);
    assert.equal(r.stdout.trim(), `loaded ${deps.length}`);
  });

  test('every subcommand answers --help: operator, render, smoke, zmq-proxy', () => {
    for (const cmd of ['operator', 'render', 'smoke', 'zmq-proxy']) {
      const r = run(engine, ['run', ...LOCKED, image, cmd, '--help']);
      assert.equal(r.code, 0, `mqop ${cmd} --help exited ${r.code}\n${r.stdout}${r.stderr}`);
      assert.match(r.stdout, new RegExp(`mqop ${cmd}`), `mqop ${cmd} --help:\n${r.stdout}`);
    }
  });

  test('development tools stay out: no bench/, no test files, no `mqop bench`', () => {
    const r = ok([
      'run',
      ...LOCKED,
      '--entrypoint',
      'sh',
      image,
      '-c',
      'ls /app; find /app/operator /app/smoke-tests -name "*.test.ts" | wc -l',
    ]);
    const [files, tests] = [r.stdout.split('\n').slice(0, -2), r.stdout.trim().split('\n').at(-1)];
    assert.ok(files.includes('operator') && files.includes('smoke-tests'), r.stdout);
    assert.ok(!files.includes('bench'), `bench/ in the image:\n${r.stdout}`);
    assert.equal(tests, '0', 'test files in the image');
    const bench = run(engine, ['run', ...LOCKED, image, 'bench', '--help']);
    assert.equal(bench.code, 2, `mqop bench exited ${bench.code}`);
    assert.match(bench.stderr, /unknown command "bench"/);
  });

  test('mqop render -f /app/examples/kind/all-engines.yaml', () => {
    const r = ok(['run', ...LOCKED, image, 'render', '-f', '/app/examples/kind/all-engines.yaml']);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
    const kinds = new Set(docs.map((d) => d?.kind));
    for (const k of ['StatefulSet', 'Deployment', 'Service', 'ConfigMap']) assert.ok(kinds.has(k), k);
    const zmq = docs.find((d) => d?.kind === 'Deployment' && d.metadata?.name === 'ticks-zeromq');
    assert.ok(zmq, 'the zeromq Deployment (ticks-zeromq)');
    assert.deepEqual(zmq.spec.template.spec.containers[0].command, ['mqop']);
  });

  test('mqop zmq-proxy answers /healthz and stops on SIGTERM with exit code 0', async () => {
    const name = containerName('zmq');
    ok([
      'run',
      '-d',
      '--name',
      name,
      '--read-only',
      '--tmpfs',
      '/tmp',
      '--user',
      '65532',
      '--network',
      'none',
      image,
      'zmq-proxy',
      '--role=central',
      '--pattern=pubsub',
      '--frontend=tcp://127.0.0.1:5555',
      '--backend=tcp://127.0.0.1:5556',
      '--health-port=8080',
    ]);
    const probe =
      "fetch('http://127.0.0.1:8080/healthz').then(r=>{console.log(r.status);process.exit(r.status===200?0:1)},()=>process.exit(1))";
    let last: Run | undefined;
    for (let i = 0; i < 60; i++) {
      last = run(engine, ['exec', name, 'node', '-e', probe]);
      if (last.code === 0) break;
      await sleep(500);
    }
    assert.equal(
      last?.code,
      0,
      `no 200 from /healthz: ${last?.stdout}${last?.stderr}\n${run(engine, ['logs', name]).stderr}`,
    );
    assert.equal(last?.stdout.trim(), '200');

    // Every process in the container (tini, node) runs as 65532.
    const uids = ok(['exec', name, 'sh', '-c', 'grep -h ^Uid: /proc/[0-9]*/status'])
      .stdout.trim()
      .split('\n');
    assert.ok(uids.length >= 2, uids.join('\n'));
    for (const line of uids) assert.match(line, /^Uid:\s+65532\s+65532\s+65532\s+65532$/);

    const t0 = Date.now();
    ok(['stop', '--time', '20', name]);
    const stopMillis = Date.now() - t0;
    assert.ok(stopMillis < 10_000, `docker stop took ${stopMillis} ms`);
    assert.equal(ok(['inspect', '--format', '{{.State.ExitCode}}', name]).stdout.trim(), '0');
    const logs = run(engine, ['logs', name]);
    assert.match(logs.stdout + logs.stderr, /"msg":"stopped","exitCode":0/);
  });
});
