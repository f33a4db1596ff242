import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, WorkQueue } from './work-queue.ts';

test('backoff doubles per attempt and is capped', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 10].map((n) => backoffDelay(n, 100, 1000)),
    [100, 200, 400, 800, 1000],
  );
});

test('a key queued many times runs once', async () => {
  const runs: string[] = [];
  const q = new WorkQueue(
    async (k) => {
      runs.push(k);
      await sleep(10);
      return undefined;
    },
    { concurrency: 1 },
  );
  q.add('busy'); // occupies the only worker, so the adds below wait in the queue
  for (let i = 0; i < 10; i++) q.add('a');
  q.add('b');
  await q.idle();
  assert.deepEqual(runs.sort(), ['a', 'b', 'busy']);
});

test('one reconcile in flight per key; an add during a run runs it again afterwards', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  let runs = 0;
  const q = new WorkQueue(
    async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      runs++;
      await sleep(20);
      inFlight--;
      return undefined;
    },
    { concurrency: 4 },
  );
  q.add('k');
  await sleep(5);
  q.add('k');
  q.add('k');
  await sleep(100);
  await q.idle();
  assert.equal(maxInFlight, 1);
  assert.equal(runs, 2);
});

test('concurrency is bounded', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const q = new WorkQueue(
    async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(10);
      inFlight--;
      return undefined;
    },
    { concurrency: 3 },
  );
  for (let i = 0; i < 20; i++) q.add(`k${i}`);
  await q.idle();
  assert.equal(maxInFlight, 3);
});

test('failures retry with per-key backoff, and success resets it', async () => {
  const times: number[] = [];
  const start = Date.now();
  let n = 0;
  const q = new WorkQueue(
    async () => {
      times.push(Date.now() - start);
      n++;
      if (n <= 3) throw new Error('boom');
      return undefined;
    },
    { concurrency: 1, baseDelayMs: 20, maxDelayMs: 1000 },
  );
  q.add('k');
  await sleep(400);
  await q.idle();
  assert.equal(n, 4);
  // gaps ≈ 20, 40, 80 ms
  const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
  assert.ok(
    (gaps[0] as number) >= 15 && (gaps[1] as number) >= 35 && (gaps[2] as number) >= 70,
    `gaps ${gaps}`,
  );
  assert.ok((gaps[2] as number) > (gaps[0] as number));
});

test('requeueAfter schedules the key again; shutdown stops it', async () => {
  let runs = 0;
  const q = new WorkQueue(
    async () => {
      runs++;
      return { requeueAfterMs: 10 };
    },
    { concurrency: 1 },
  );
  q.add('k');
  await sleep(80);
  await q.shutdown();
  const at = runs;
  assert.ok(at >= 3, `ran ${at} times`);
  await sleep(50);
  assert.equal(runs, at);
});
