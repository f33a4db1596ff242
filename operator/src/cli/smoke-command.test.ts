import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  formatJson,
  formatTable,
  parseSmokeArgs,
  readSecretFile,
  secretFromManifest,
  smokeCommand,
  UsageError,
} from './smoke-command.ts';

const tmp = mkdtempSync(join(tmpdir(), 'mqop-smoke-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('readSecretFile', () => {
  test('a servicebinding directory: one file per key, hidden entries skipped, trailing newline trimmed', () => {
    const dir = join(tmp, 'binding');
    const data = join(dir, '..2024_01_01');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'password'), 's3cret\n');
    writeFileSync(join(dir, 'username'), 'mqop');
    writeFileSync(join(dir, 'sentinel.master'), 'mymaster\n');
    symlinkSync(join(data, 'password'), join(dir, 'password'));
    symlinkSync(data, join(dir, '..data'));
    assert.deepEqual(readSecretFile(dir), {
      password: 's3cret',
      'sentinel.master': 'mymaster',
      username: 'mqop',
    });
  });

  test('a YAML Secret manifest: data base64, stringData wins', () => {
    const f = join(tmp, 'secret.yaml');
    writeFileSync(
      f,
      `apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata:\n  username: ${b64('mqop')}\n  password: ${b64('old')}\nstringData:\n  password: new-pw\n  port: 6379\n`,
    );
    assert.deepEqual(readSecretFile(f), { username: 'mqop', password: 'new-pw', port: '6379' });
  });

  test('a JSON Secret manifest, and a Secret among other documents', () => {
    const f = join(tmp, 'secret.json');
    writeFileSync(
      f,
      JSON.stringify({ apiVersion: 'v1', kind: 'Secret', data: { password: b64('pw-json') } }),
    );
    assert.deepEqual(readSecretFile(f), { password: 'pw-json' });
    const multi = `kind: ConfigMap\ndata: {a: b}\n---\nkind: Secret\nstringData: {password: pw2}\n`;
    assert.deepEqual(secretFromManifest(multi), { password: 'pw2' });
  });

  test('a plain key/value map', () => {
    assert.deepEqual(secretFromManifest('username: u\npassword: p\n'), { username: 'u', password: 'p' });
  });

  test('errors are usage errors', () => {
    assert.throws(() => readSecretFile(join(tmp, 'missing')), UsageError);
    assert.throws(() => secretFromManifest('kind: ConfigMap\ndata: {}\n'), /not a Secret/);
    assert.throws(() => secretFromManifest('kind: Secret\ndata: {password: "not base64!"}\n'), /base64/);
    assert.throws(() => secretFromManifest('a: [\n'), UsageError);
  });
});

describe('parseSmokeArgs', () => {
  test('defaults', () => {
    const c = parseSmokeArgs(['--engine', 'redis', '--url', 'redis://h:6379'], {});
    assert.deepEqual(c, {
      engine: 'redis',
      target: { url: 'redis://h:6379' },
      options: { messages: 1000, messageBytes: 1024, timeoutSeconds: 60 },
      output: 'table',
    });
  });

  test('all flags, credentials from the secret file, extras passed on', () => {
    const f = join(tmp, 'all.yaml');
    writeFileSync(f, 'kind: Secret\nstringData: {username: from-secret, password: pw, sentinel.master: m}\n');
    const c = parseSmokeArgs(
      [
        '--engine=redis',
        '--url=redis+sentinel://s:26379',
        '--secret-file',
        f,
        '--username',
        'cli-user',
        '--messages',
        '50',
        '--message-bytes',
        '0',
        '--timeout',
        '2.5',
        '--run-id',
        'abc-1',
        '--output',
        'json',
      ],
      {},
    );
    assert.deepEqual(c, {
      engine: 'redis',
      target: {
        url: 'redis+sentinel://s:26379',
        username: 'cli-user',
        password: 'pw',
        extra: { 'sentinel.master': 'm' },
      },
      options: { messages: 50, messageBytes: 0, timeoutSeconds: 2.5, runId: 'abc-1' },
      output: 'json',
    });
  });

  test('engine and url may come from the binding (type, uri); password from env', () => {
    const dir = join(tmp, 'binding2');
    mkdirSync(dir);
    writeFileSync(join(dir, 'type'), 'rabbitmq');
    writeFileSync(join(dir, 'uri'), 'amqp://rmq:5672');
    const c = parseSmokeArgs(['--secret-file', dir], { MQOP_SMOKE_PASSWORD: 'env-pw' });
    assert.equal(c.engine, 'rabbitmq');
    assert.equal(c.target.url, 'amqp://rmq:5672');
    assert.equal(c.target.password, 'env-pw');
  });

  test('usage errors', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--url', 'redis://h'], /--engine is required/],
      [['--engine', 'nope', '--url', 'x'], /--engine must be one of/],
      [['--engine', 'redis'], /--url is required/],
      [['--engine', 'redis', '--url', 'u', '--messages', '0'], /--messages must be >= 1/],
      [['--engine', 'redis', '--url', 'u', '--messages', '1e3'], /whole number/],
      [['--engine', 'redis', '--url', 'u', '--timeout', '-1'], /--timeout/],
      [['--engine', 'redis', '--url', 'u', '--output', 'xml'], /--output/],
      [['--engine', 'redis', '--url', 'u', '--run-id', 'a b'], /--run-id/],
      [['--engine', 'redis', '--url', 'u', '--password', 'x'], /Unknown option/],
      [['--engine', 'redis', '--url', 'u', 'extra'], /positional/],
    ];
    for (const [args, re] of bad) assert.throws(() => parseSmokeArgs(args, {}), re, args.join(' '));
  });
});

describe('smokeCommand', () => {
  const capture = () => {
    const out = { stdout: '', stderr: '' };
    return {
      out,
      io: { stdout: (s: string) => (out.stdout += s), stderr: (s: string) => (out.stderr += s), env: {} },
    };
  };

  test('usage error exits 2', async () => {
    const { out, io } = capture();
    assert.equal(await smokeCommand(['--engine', 'redis'], io), 2);
    assert.match(out.stderr, /--url is required/);
    assert.match(out.stderr, /Usage: mqop smoke/);
  });

  test('--help exits 0', async () => {
    const { out, io } = capture();
    assert.equal(await smokeCommand(['--help'], io), 0);
    assert.match(out.stdout, /Usage: mqop smoke/);
  });

  test('a failed run exits 1 and never prints the password', async () => {
    const f = join(tmp, 'pw.yaml');
    writeFileSync(f, 'kind: Secret\nstringData: {password: very-secret-pw}\n');
    for (const output of ['table', 'json']) {
      const { out, io } = capture();
      const code = await smokeCommand(
        [
          '--engine',
          'redis',
          '--url',
          'redis://:very-secret-pw@127.0.0.1:1',
          '--secret-file',
          f,
          '--output',
          output,
          '--timeout',
          '5',
        ],
        io,
      );
      assert.equal(code, 1);
      assert.doesNotMatch(out.stdout + out.stderr, /very-secret-pw/);
      if (output === 'json') {
        const j = JSON.parse(out.stdout);
        assert.equal(j.ok, false);
        assert.equal(j.errorKind, 'unreachable');
        assert.equal(j.url, 'redis://:***@127.0.0.1:1');
      } else {
        assert.match(out.stdout, /result\s+FAIL \(unreachable\)/);
      }
    }
  });
});

describe('formatting', () => {
  const cmd = parseSmokeArgs(['--engine', 'redis', '--url', 'redis://h:1'], {});
  const r = {
    ok: true,
    produced: 10,
    consumed: 10,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    p50Millis: 1.5,
    p99Millis: 3,
    durationMillis: 100,
  };
  test('table', () => {
    const t = formatTable(cmd, r);
    assert.match(t, /^engine\s+redis$/m);
    assert.match(t, /^result\s+PASS$/m);
    assert.match(t, /^throughput\s+100 msg\/s$/m);
    assert.match(t, /^latency p50\s+1\.5 ms$/m);
  });
  test('json', () => {
    assert.deepEqual(JSON.parse(formatJson(cmd, r)), {
      engine: 'redis',
      url: 'redis://h:1',
      messages: 1000,
      messageBytes: 1024,
      timeoutSeconds: 60,
      ...r,
    });
  });
});
