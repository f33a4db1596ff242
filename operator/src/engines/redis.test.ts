import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { redisArgs } from '../api/config-policy.ts';
import type { MessageQueue } from '../api/types.ts';
import { render } from '../render/render.ts';

const cr = (replicas: number): MessageQueue =>
  ({
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    metadata: { name: 'cache', namespace: 'default', uid: 'u' },
    spec: { engine: 'redis', replicas },
  }) as MessageQueue;

/** A ConfigMap entry of the rendered Redis. */
function file(replicas: number, key: string, credentials = { username: 'mqop', password: 'pw' }): string {
  const cm = render(cr(replicas), { credentials }).objects.find((o) => o.kind === 'ConfigMap') as unknown as {
    data: Record<string, string>;
  };
  return cm.data[key] as string;
}

/**
 * Runs a rendered start script with its paths moved into a temporary folder and `redis-server`
 * replaced by `cat`, and returns the config file it wrote, as Redis's own parser splits it.
 */
function startedConf(script: string, dir: string, env: Record<string, string>): string[][] {
  const runDir = join(dir, 'run');
  mkdirSync(runDir, { recursive: true });
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'redis-server'), '#!/bin/sh\ncat "$1"\n');
  chmodSync(join(bin, 'redis-server'), 0o755);
  const path = join(dir, 'start.sh');
  writeFileSync(
    path,
    script.replaceAll('/run/redis/', `${runDir}/`).replaceAll('/run/sentinel/', `${runDir}/`),
  );
  const r = spawnSync('sh', [path], {
    encoding: 'utf8',
    env: { PATH: `${bin}:/usr/bin:/bin`, POD_NAME: 'cache-redis-0', ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const args = redisArgs(l);
      assert.ok(args, `Redis would refuse the line: ${l}`);
      return args;
    });
}

describe('redis', () => {
  test('the connection uri carries the user, so redis-cli -u logs in as that user', () => {
    const secret = render(cr(1), { credentials: { username: 'app', password: 'p@ss:w/rd' } }).objects.find(
      (o) => o.kind === 'Secret',
    ) as unknown as { data: Record<string, string> };
    const uri = Buffer.from(secret.data.uri as string, 'base64').toString();
    assert.equal(uri, 'redis://app:p%40ss%3Aw%2Frd@cache-redis.default.svc.cluster.local:6379');
  });

  for (const password of [
    'plain',
    'with "quotes"',
    'back\\slash\\',
    'dollar $HOME `id` $(id)',
    "it's >x ~* &*",
  ]) {
    test(`a password is read back by Redis as it is: ${password}`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'mqop-redis-'));
      try {
        const lines = startedConf(file(1, 'start-redis.sh'), dir, {
          REDIS_USERNAME: 'app',
          REDIS_PASSWORD: password,
        });
        assert.deepEqual(
          lines.find((l) => l[0] === 'requirepass'),
          ['requirepass', password],
        );
        assert.deepEqual(
          lines.find((l) => l[0] === 'masterauth'),
          ['masterauth', password],
        );
        assert.deepEqual(
          lines.find((l) => l[0] === 'user'),
          ['user', 'app', 'on', `>${password}`, '~*', '&*', '+@all'],
        );
        assert.equal(readFileSync(join(dir, 'run', 'redis.conf'), 'utf8').split('\n').length, 6);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('the Sentinel config quotes the password the same way', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqop-sentinel-'));
    try {
      // No Sentinel answers (no redis-cli on PATH): pod 0 is named primary.
      const lines = startedConf(file(3, 'start-sentinel.sh'), dir, { REDIS_PASSWORD: 'a "b" \\c' });
      for (const l of lines.filter((x) => x[1] === 'sentinel-pass' || x[0] === 'requirepass'))
        assert.equal(l.at(-1), 'a "b" \\c');
      assert.deepEqual(lines.find((l) => l[1] === 'auth-pass')?.slice(2), ['mymaster', 'a "b" \\c']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
