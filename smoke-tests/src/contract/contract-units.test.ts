import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { failedResult, percentile, SmokeCounter } from './counter.ts';
import { bestEffort, Deadline, sleep } from './deadline.ts';
import { AUTH_PATTERN, classifyError, describeError, redact, SmokeError } from './errors.ts';
import { decodePayload, encodePayload } from './payload.ts';
import { newRunId, runName } from './run-options.ts';
import { runSmoke } from './runner.ts';

describe('run names', () => {
  test('random ids are 12 hex chars and differ', () => {
    const a = newRunId();
    assert.match(a, /^[0-9a-f]{12}$/);
    assert.notEqual(a, newRunId());
  });
  test('name is mqop-smoke-<id>; odd ids are refused', () => {
    assert.deepEqual(runName('abc'), { runId: 'abc', name: 'mqop-smoke-abc' });
    assert.match(runName().name, /^mqop-smoke-[0-9a-f]{12}$/);
    assert.throws(() => runName('a b'), SmokeError);
    assert.throws(() => runName(''), SmokeError);
  });
});

describe('payload', () => {
  test('round trip, padded to the size', () => {
    const b = encodePayload('run1', 42, 1000, 1234.5);
    assert.equal(b.length, 1000);
    assert.deepEqual(decodePayload(b), { runId: 'run1', seq: 42, sentAt: 1234.5 });
    assert.deepEqual(decodePayload(b.toString('latin1')), { runId: 'run1', seq: 42, sentAt: 1234.5 });
    assert.deepEqual(decodePayload(new Uint8Array(b)), { runId: 'run1', seq: 42, sentAt: 1234.5 });
  });
  test('smaller than the header: the header alone', () => {
    const b = encodePayload('r', 1, 0, 1);
    assert.ok(b.length > 0 && b.length < 64);
    assert.equal(decodePayload(b)?.seq, 1);
  });
  test('1 MiB', () => {
    const b = encodePayload('r', 7, 1024 * 1024);
    assert.equal(b.length, 1024 * 1024);
    assert.equal(decodePayload(b)?.seq, 7);
  });
  test('foreign data decodes to undefined', () => {
    for (const x of ['', 'hello', 'mqop1 r x 1\n', 'mqop1 r -1 1\n', 'other r 1 1\n', Buffer.alloc(10)]) {
      assert.equal(decodePayload(x), undefined, String(x));
    }
  });
});

describe('percentile', () => {
  test('nearest rank', () => {
    assert.equal(percentile([], 50), 0);
    assert.equal(percentile([5], 99), 5);
    const v = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    assert.equal(percentile(v, 50), 50);
    assert.equal(percentile(v, 99), 99);
    assert.equal(percentile(v, 100), 100);
    assert.equal(percentile(v, 0), 1);
  });
});

describe('SmokeCounter', () => {
  const msg = (c: SmokeCounter, seq: number, sentAt = 100) => encodePayload(c.runId, seq, 50, sentAt);

  test('a clean run', () => {
    const c = new SmokeCounter('r', 3);
    c.produced(3);
    for (const s of [0, 1, 2]) assert.equal(c.receive(msg(c, s), 110 + s), 'new');
    assert.ok(c.complete);
    const r = c.result(50);
    assert.deepEqual(r, {
      ok: true,
      produced: 3,
      consumed: 3,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      p50Millis: 11,
      p99Millis: 12,
      durationMillis: 50,
    });
  });

  test('duplicates, reordering, losses and foreign messages', () => {
    const c = new SmokeCounter('r', 5);
    c.produced(5);
    assert.equal(c.receive(msg(c, 0)), 'new');
    assert.equal(c.receive(msg(c, 2)), 'new');
    assert.equal(c.receive(msg(c, 1)), 'new'); // out of order
    assert.equal(c.receive(msg(c, 1)), 'duplicate');
    assert.equal(c.receive(encodePayload('other', 3, 50)), 'foreign');
    assert.equal(c.receive(encodePayload('r', 99, 50)), 'foreign'); // beyond the run
    assert.equal(c.receive('junk'), 'foreign');
    const r = c.result(10);
    assert.equal(r.ok, false);
    assert.equal(r.consumed, 3);
    assert.equal(r.lost, 2);
    assert.equal(r.duplicated, 1);
    assert.equal(r.outOfOrder, 1);
    assert.equal(c.foreign, 3);
    assert.equal(r.errorKind, 'protocol');
  });

  test('order is checked per lane', () => {
    const c = new SmokeCounter('r', 4);
    c.receive(msg(c, 1), 0, 'a');
    c.receive(msg(c, 0), 0, 'b');
    c.receive(msg(c, 3), 0, 'a');
    c.receive(msg(c, 2), 0, 'b');
    assert.equal(c.outOfOrder, 0);
  });

  test('duplicates alone fail the run; an error is reported as given', () => {
    const c = new SmokeCounter('r', 1);
    c.produced();
    c.receive(msg(c, 0));
    c.receive(msg(c, 0));
    assert.equal(c.result(1).ok, false);
    assert.match(c.result(1).message ?? '', /duplicated/);
    const e = c.result(1, { kind: 'timeout', message: 'late' });
    assert.equal(e.errorKind, 'timeout');
    assert.equal(e.message, 'late');
  });

  test('latency never negative (clock skew)', () => {
    const c = new SmokeCounter('r', 1);
    c.receive(msg(c, 0, 1000), 900);
    assert.equal(c.result(1).p50Millis, 0);
  });
});

describe('errors', () => {
  const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

  test('classification', () => {
    assert.equal(classifyError(new SmokeError('timeout', 'x')), 'timeout');
    assert.equal(classifyError(new Error('x', { cause: new SmokeError('auth', 'y') })), 'auth');
    assert.equal(classifyError(new Error('WRONGPASS invalid username-password pair')), 'auth');
    assert.equal(classifyError(new Error('403 (ACCESS-REFUSED)')), 'auth');
    assert.equal(classifyError(new Error('SASL authentication failed')), 'auth');
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'ECONNRESET']) {
      assert.equal(classifyError(coded(code)), 'unreachable', code);
    }
    assert.equal(classifyError(new AggregateError([coded('ECONNREFUSED')])), 'unreachable');
    assert.equal(classifyError(new Error('ERR unknown command')), 'protocol');
    assert.equal(classifyError('string error'), 'protocol');
    assert.equal(classifyError(new Error('weird'), { isAuth: (e) => /weird/.test(String(e)) }), 'auth');
    assert.equal(
      classifyError(new Error('gone'), { isUnreachable: (e) => /gone/.test(String(e)) }),
      'unreachable',
    );
    assert.ok(AUTH_PATTERN.test('NOAUTH Authentication required'));
  });

  test('redaction', () => {
    assert.equal(redact('redis://user:pw@h:1 and amqp://:x%40y@h'), 'redis://user:***@h:1 and amqp://:***@h');
    assert.equal(redact('bad password hunter22 here', ['hunter22']), 'bad password *** here');
    assert.equal(redact('a p@ss/w b p%40ss%2Fw', ['p@ss/w']), 'a *** b ***');
    assert.equal(redact('port 1234', ['1']), 'port 1234'); // too short to redact blindly
  });

  test('describeError joins causes and codes, without secrets', () => {
    const e = new Error('connect failed for pw-1234', {
      cause: coded('ECONNREFUSED', 'connect ECONNREFUSED 1.2.3.4:1'),
    });
    assert.equal(describeError(e, ['pw-1234']), 'connect failed for ***: connect ECONNREFUSED 1.2.3.4:1');
    assert.equal(describeError(coded('EPIPE', '')), 'EPIPE');
  });
});

describe('Deadline and helpers', () => {
  test('race rejects with a timeout SmokeError', async () => {
    const d = new Deadline(0.05);
    await assert.rejects(
      d.race(new Promise(() => {})),
      (e) => e instanceof SmokeError && e.kind === 'timeout',
    );
    assert.ok(d.expired);
    assert.equal(d.remaining(), 0);
    assert.throws(() => d.check(), SmokeError);
    await assert.rejects(d.race(Promise.resolve(1)), SmokeError);
  });
  test('race passes values through before the deadline', async () => {
    const d = new Deadline(5);
    assert.equal(await d.race(Promise.resolve(7)), 7);
    assert.ok(d.remaining() > 4000);
    d.dispose();
  });
  test('sleep aborts; bestEffort bounds and swallows', async () => {
    const ac = new AbortController();
    const p = sleep(10_000, ac.signal);
    ac.abort(new Error('stop'));
    await assert.rejects(p, /stop/);
    assert.equal(await bestEffort(new Promise(() => {}), 10), undefined);
    assert.equal(await bestEffort(Promise.reject(new Error('x')), 10), undefined);
    assert.equal(await bestEffort(Promise.resolve(3), 10), 3);
  });
});

describe('runSmoke', () => {
  const opts = { messages: 2, messageBytes: 10, timeoutSeconds: 5, runId: 'unit' };

  test('ok run; cleanup called with failed=false', async () => {
    let cleaned: boolean | undefined;
    const r = await runSmoke(
      opts,
      [],
      {},
      async (ctx) => {
        assert.equal(ctx.name, 'mqop-smoke-unit');
        for (const s of [0, 1]) {
          const m = ctx.counter.encode(s, 10);
          ctx.counter.produced();
          ctx.counter.receive(m);
        }
      },
      async (_ctx, failed) => {
        cleaned = failed;
      },
    );
    assert.equal(r.ok, true);
    assert.equal(cleaned, false);
  });

  test('a failing body is classified and redacted; a throwing cleanup is swallowed', async () => {
    const r = await runSmoke(
      opts,
      ['sekret-pw'],
      {},
      async () => {
        throw new Error('WRONGPASS for sekret-pw');
      },
      async () => {
        throw new Error('cleanup boom');
      },
    );
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'auth');
    assert.equal(r.message, 'WRONGPASS for ***');
  });

  test('the deadline ends a stuck body with timeout and partial counts', async () => {
    const t0 = performance.now();
    const r = await runSmoke(
      { ...opts, timeoutSeconds: 0.1 },
      [],
      {},
      async (ctx) => {
        ctx.counter.produced();
        await new Promise(() => {});
      },
      async () => {},
    );
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(r.errorKind, 'timeout');
    assert.equal(r.produced, 1);
  });

  test('bad options fail without running', async () => {
    let ran = false;
    const r = await runSmoke(
      { ...opts, messages: 0 },
      [],
      {},
      async () => {
        ran = true;
      },
      async () => {},
    );
    assert.equal(ran, false);
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'protocol');
  });
});

describe('failedResult, cleanup reserve, summary', () => {
  const opts = { messages: 2, messageBytes: 10, timeoutSeconds: 5 };

  test('failedResult: every count zero, ok false, kind and message as given', () => {
    assert.deepEqual(failedResult('unreachable', 'no route'), {
      ok: false,
      produced: 0,
      consumed: 0,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      p50Millis: 0,
      p99Millis: 0,
      durationMillis: 0,
      errorKind: 'unreachable',
      message: 'no route',
    });
  });

  test('a cleanup reserve moves the deadline earlier and says so', async () => {
    const d = new Deadline(1, 400);
    assert.equal(d.timeoutMillis, 600);
    await assert.rejects(d.race(sleep(2000)), (e: SmokeError) => {
      assert.equal(e.kind, 'timeout');
      assert.match(e.message, /0\.6s \(of 1s; the rest is kept for cleanup\)/);
      return true;
    });
    d.dispose();
    let reserveAsked = 0;
    const t0 = performance.now();
    const r = await runSmoke(
      { ...opts, timeoutSeconds: 0.5 },
      [],
      {},
      () => new Promise(() => {}),
      async () => {},
      {
        cleanupReserveMillis: (ms) => {
          reserveAsked = ms;
          return 300;
        },
      },
    );
    assert.equal(reserveAsked, 500);
    assert.equal(r.errorKind, 'timeout');
    assert.ok(performance.now() - t0 < 450, 'the deadline came before the timeout');
  });

  test("a passing run's summary is its message (redacted); a failing run keeps the failure", async () => {
    const pass = await runSmoke(
      opts,
      ['s3cret-pw'],
      {},
      async (ctx) => {
        for (let i = 0; i < 2; i++) {
          ctx.counter.produced();
          ctx.counter.receive(ctx.counter.encode(i, 10));
        }
        ctx.summary = 'through amqp://u:s3cret-pw@h/q';
      },
      async () => {},
    );
    assert.equal(pass.ok, true);
    assert.equal(pass.message, 'through amqp://u:***@h/q');
    const fail = await runSmoke(
      opts,
      [],
      {},
      async (ctx) => {
        ctx.summary = 'never shown';
        throw new SmokeError('protocol', 'broken');
      },
      async () => {},
    );
    assert.equal(fail.ok, false);
    assert.equal(fail.message, 'broken');
  });
});
