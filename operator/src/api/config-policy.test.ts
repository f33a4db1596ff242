import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CONFIG_POLICY, configProblems, redisArgs, refusedBy } from './config-policy.ts';

describe('redisArgs (redis.conf argument splitting, as sdssplitargs)', () => {
  const cases: [string, string[] | undefined][] = [
    ['allkeys-lru', ['allkeys-lru']],
    ['normal 0 0 0', ['normal', '0', '0', '0']],
    ['"3600 1 300 100"', ['3600 1 300 100']],
    ['""', ['']],
    ['"a\\"b" c', ['a"b', 'c']],
    ['"\\x41\\n"', ['A\n']],
    ["'it\\'s'", ["it's"]],
    ['"unterminated', undefined],
    ["'unterminated", undefined],
    ['"closed"x', undefined],
    ['a"b', ['a"b']],
  ];
  for (const [line, want] of cases) test(JSON.stringify(line), () => assert.deepEqual(redisArgs(line), want));
});

describe('configProblems', () => {
  test('Redis keys are compared case-insensitively', () => {
    assert.equal(refusedBy(CONFIG_POLICY.redis, 'USER')?.why, refusedBy(CONFIG_POLICY.redis, 'user')?.why);
    assert.ok(refusedBy(CONFIG_POLICY.redis, 'Enable-Debug-Command'));
    assert.equal(refusedBy(CONFIG_POLICY.redis, 'maxmemory'), undefined);
  });
  test('Kafka keys are case-sensitive, and per-listener overrides are refused as a prefix', () => {
    assert.ok(refusedBy(CONFIG_POLICY.kafka, 'listener.name.client.sasl.enabled.mechanisms'));
    assert.equal(refusedBy(CONFIG_POLICY.kafka, 'num.partitions'), undefined);
  });
  test('each problem names the field and the key', () => {
    const p = configProblems('redis', { USER: 'x', maxmemory: '1gb', save: '"1' });
    assert.deepEqual(
      p.map((x) => x.field),
      ['spec.config.USER', 'spec.config.save'],
    );
    assert.match(p[0]?.message ?? '', /config key "USER": refused for redis: authentication/);
    assert.match(p[1]?.message ?? '', /unbalanced quotes/);
  });
  test('engines with a fixed list check keys and values', () => {
    assert.deepEqual(configProblems('activemq', { memoryLimit: '512 mb', maxConnections: '100' }), []);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Spring placeholder, on purpose
    assert.equal(configProblems('activemq', { memoryLimit: '${x}' }).length, 1);
    assert.equal(configProblems('activemq', { useJmx: 'true' }).length, 1);
    assert.deepEqual(configProblems('zeromq', { linger: '-1', sndhwm: '1000' }), []);
  });
  test('a value on two lines is refused even without the CRD', () => {
    assert.match(
      configProblems('kafka', { 'num.partitions': '1\nsuper.users=User:x' })[0]?.message ?? '',
      /one line/,
    );
  });
});
