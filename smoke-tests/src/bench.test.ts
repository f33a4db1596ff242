import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseBenchArgs, testbedEnv } from '../../operator/src/cli/bench-command.ts';
import { checkpointMarks, PhaseMeter, ratePerSecond } from './bench/meter.ts';
import {
  parseConsumerPerformance,
  parsePerfTest,
  parseProducerPerformance,
  parseRedisBenchmarkCsv,
} from './bench/native.ts';
import {
  chartSeries,
  fmtRate,
  goalCount,
  historical,
  logRange,
  renderMarkdown,
  renderSvg,
  sizeLabel,
  writeResults,
} from './bench/report.ts';
import type { BenchReport, PhaseResult, SizeResult } from './bench/types.ts';
import { benchPayload, redactUrl } from './bench/util.ts';
import { messagesFor, ratio } from './bench.ts';

/** A clock the test moves by hand. */
function fakeClock(start = 1000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('checkpoint math', () => {
  it('puts a checkpoint at every tenth', () => {
    assert.deepEqual(checkpointMarks(1000), [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    assert.deepEqual(checkpointMarks(5), [1, 2, 3, 4, 5]);
    assert.deepEqual(checkpointMarks(0), []);
    assert.equal(checkpointMarks(1_000_000).length, 10);
  });

  it('rate is count per second, 0 when undefined', () => {
    assert.equal(ratePerSecond(1000, 500), 2000);
    assert.equal(ratePerSecond(1000, 0), 0);
    assert.equal(ratePerSecond(0, 10), 0);
  });

  it('records elapsed and the rate since the previous checkpoint', () => {
    const clock = fakeClock();
    const seen: number[] = [];
    const m = new PhaseMeter(1000, { clock: clock.now, onCheckpoint: (c) => seen.push(c.count) });
    m.start();
    for (let i = 0; i < 10; i++) {
      clock.advance(i < 5 ? 100 : 50); // first half 1000 msg/s, second half 2000 msg/s
      m.add(100);
    }
    const r = m.finish();
    assert.equal(r.count, 1000);
    assert.equal(r.partial, false);
    assert.equal(r.elapsedMillis, 750);
    assert.equal(r.rate, Math.round(1000 / 0.75));
    assert.deepEqual(seen, [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    assert.deepEqual(
      r.checkpoints.map((c) => c.rate),
      [1000, 1000, 1000, 1000, 1000, 2000, 2000, 2000, 2000, 2000],
    );
    assert.equal(r.checkpoints[4]?.elapsedMillis, 500);
  });

  it('one big batch crossing several marks makes one checkpoint', () => {
    const clock = fakeClock();
    const m = new PhaseMeter(1000, { clock: clock.now });
    m.start();
    clock.advance(100);
    m.add(350);
    clock.advance(100);
    m.add(650);
    const r = m.finish();
    assert.deepEqual(
      r.checkpoints.map((c) => [c.count, c.rate]),
      [
        [350, 3500],
        [1000, 6500],
      ],
    );
  });

  it('a partial phase ends with a checkpoint where it stopped', () => {
    const clock = fakeClock();
    const m = new PhaseMeter(1000, { clock: clock.now });
    m.start();
    clock.advance(100);
    m.add(150);
    clock.advance(100);
    m.add(20);
    const r = m.finish('stopped by the 1s guard');
    assert.equal(r.partial, true);
    assert.equal(r.error, 'stopped by the 1s guard');
    assert.deepEqual(
      r.checkpoints.map((c) => [c.count, c.elapsedMillis, c.rate]),
      [
        [150, 100, 1500],
        [170, 200, 200],
      ],
    );
    assert.equal(r.rate, 850);
  });

  it('N per engine and size, and the ratio', () => {
    assert.equal(messagesFor(1_000_000), 1_000_000);
    assert.equal(messagesFor(1_000_000, 300_000), 300_000);
    assert.equal(messagesFor(1_000_000, undefined, 200_000), 200_000);
    assert.equal(messagesFor(1_000_000, 100_000, 200_000), 100_000);
    assert.equal(ratio(50, 100), 0.5);
    assert.equal(ratio(2, 3), 0.667);
    assert.equal(ratio(0, 100), undefined);
    assert.equal(ratio(10, undefined), undefined);
  });
});

describe('native tool output', () => {
  it('redis-benchmark --csv', () => {
    const out =
      'XADD s * p: rps=0.0 (overall: nan) avg_msec=nan (overall: nan)\r' +
      '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"\n' +
      '"XADD bstream * p","462962.97","0.205","0.112","0.183","0.271","0.527","8.535"\n';
    assert.deepEqual(parseRedisBenchmarkCsv(out), [{ test: 'XADD bstream * p', rps: 462962.97 }]);
    const two = '"LPUSH","835654.62","0.112"\n"LPOP","1224489.75","0.073"\n';
    assert.deepEqual(
      parseRedisBenchmarkCsv(two).map((r) => r.test),
      ['LPUSH', 'LPOP'],
    );
    assert.deepEqual(parseRedisBenchmarkCsv('NOAUTH Authentication required.'), []);
  });

  it('PerfTest producer and consumer summaries', () => {
    const p = [
      'id: pt, time 5.016 s, sent: 16123 msg/s, confirmed: 16078 msg/s, nacked: 0 msg/s',
      'id: pt, time 6.001 s, sent: 23346 msg/s, confirmed: 23484 msg/s, nacked: 0 msg/s',
      'test stopped (Producer reached message limit)',
      'id: pt, sending rate avg: 14880 msg/s',
      'id: pt, receiving rate avg: 0 msg/s',
    ].join('\n');
    assert.deepEqual(parsePerfTest(p), {
      sendRate: 14880,
      receiveRate: 0,
      stopReason: 'Producer reached message limit',
      lastSampleSeconds: 6.001,
    });
    const c = 'test stopped (Consumer reached message limit)\nid: pt, receiving rate avg: 49261 msg/s\n';
    assert.equal(parsePerfTest(c).receiveRate, 49261);
    assert.equal(parsePerfTest('Exception in thread main').sendRate, undefined);
  });

  it('ProducerPerformance: final line, or the windows when it was stopped', () => {
    const full =
      '196938 records sent, 39387.6 records/sec (38.46 MB/sec), 939.5 ms avg latency, 2045.0 ms max latency.\n' +
      '300000 records sent, 29756.000793 records/sec (29.06 MB/sec), 964.74 ms avg latency, 2048.00 ms max latency, 989 ms 50th, 1985 ms 95th, 2038 ms 99th, 2045 ms 99.9th.\n';
    assert.deepEqual(parseProducerPerformance(full), { records: 300000, rate: 29756.000793, final: true });
    const cut =
      '100000 records sent, 20000.0 records/sec (1 MB/sec), 9 ms avg latency, 20 ms max latency.\n' +
      '200000 records sent, 40000.0 records/sec (2 MB/sec), 9 ms avg latency, 20 ms max latency.\n';
    const r = parseProducerPerformance(cut);
    assert.equal(r?.final, false);
    assert.equal(r?.records, 300000);
    assert.equal(r?.rate, 30000); // 300000 in 5 s + 5 s
    assert.equal(parseProducerPerformance('nothing'), undefined);
  });

  it('ConsumerPerformance summary', () => {
    const out =
      'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n' +
      '2026-11-27 12:44:07:966, 2026-11-27 12:44:10:648, 292.9688, 109.2352, 300000, 111856.8233, 1098, 1584, 184.9550, 189393.9394\n';
    assert.deepEqual(parseConsumerPerformance(out), {
      messages: 300000,
      rate: 111856.8233,
      fetchRate: 189393.9394,
      rebalanceMillis: 1098,
      fetchMillis: 1584,
    });
    assert.equal(parseConsumerPerformance('WARN: timed out'), undefined);
  });
});

function phase(requested: number, rate: number, extra: Partial<PhaseResult> = {}): PhaseResult {
  return {
    requested,
    count: requested,
    elapsedMillis: (requested / rate) * 1000,
    rate,
    partial: false,
    checkpoints: [{ count: requested, elapsedMillis: (requested / rate) * 1000, rate }],
    ...extra,
  };
}

function sizeResult(bytes: number, ours: [number, number], native?: [number, number]): SizeResult {
  const n = 1000;
  const s: SizeResult = {
    messageBytes: bytes,
    messages: n,
    name: `mqop-bench-x-${bytes}`,
    ours: { enqueue: phase(n, ours[0]), dequeue: phase(n, ours[1]), how: 'our client' },
    ratio: {},
  };
  if (native) {
    s.native = {
      tool: 'tool',
      how: 'native tool',
      commands: ['tool --x'],
      enqueue: { requested: n, count: n, rate: native[0], partial: false },
      dequeue: { requested: n, count: n, rate: native[1], partial: false },
    };
    s.ratio = { enqueue: ratio(ours[0], native[0]), dequeue: ratio(ours[1], native[1]) };
  }
  return s;
}

function fixture(): BenchReport {
  return {
    schema: 'mqop-bench/1',
    startedAt: '2026-01-02T03:04:05.000Z',
    finishedAt: '2026-01-02T03:14:05.000Z',
    host: {
      cpus: 2,
      cpuModel: 'Test CPU',
      memoryGiB: 8,
      node: 'v24.0.0',
      platform: 'linux/x64',
      loadAverageAtStart: [1, 1, 1],
    },
    options: { messages: 1000, sizes: [128, 10240], maxSeconds: 60, native: true, quick: false },
    notes: ['A run note.'],
    engines: [
      {
        engine: 'redis',
        url: 'redis://127.0.0.1:1',
        brokerVersion: '7.0.15',
        nativeTool: 'redis-benchmark',
        notes: ['a note | with a pipe'],
        sizes: [
          sizeResult(128, [120000, 150000], [300000, 200000]),
          sizeResult(10240, [20000, 30000], [25000, 90000]),
        ],
      },
      {
        engine: 'kafka',
        url: 'kafka://127.0.0.1:2',
        notes: [],
        sizes: [sizeResult(128, [30000, 60000])],
      },
    ],
  };
}

describe('report: markdown', () => {
  it('labels sizes and rates', () => {
    assert.equal(sizeLabel(128), '128 B');
    assert.equal(sizeLabel(1024), '1 KB');
    assert.equal(sizeLabel(10240), '10 KB');
    assert.equal(sizeLabel(1500), '1500 B');
    assert.equal(fmtRate(1234567.4), '1,234,567');
    assert.equal(fmtRate(0), '—');
    assert.equal(historical('redis', 'enqueue', 10240), 25);
    assert.equal(historical('rabbitmq', 'dequeue', 128), 3219);
    assert.equal(historical('kafka', 'dequeue', 128), undefined);
  });

  it('has a row per engine × size × phase with ours, native, ratio and the 2013 figure', () => {
    const md = renderMarkdown(fixture(), 'Preamble here.');
    assert.match(md, /^# mqop bench: seed experiment \(2026-01-02\)/);
    assert.match(md, /A run note\.\n\nPreamble here\./);
    assert.match(md, /\| 128 B \| enqueue \| 1,000 \| 120,000 \| 300,000 \| \*\*40%\*\* \| 16,088 \| {2}\|/);
    assert.match(md, /\| 128 B \| dequeue \| 1,000 \| 150,000 \| 200,000 \| 75% \| 15,955 \| {2}\|/);
    assert.match(md, /\| 10 KB \| enqueue \| 1,000 \| 20,000 \| 25,000 \| 80% \| 25 \|/);
    assert.match(md, /\| 10 KB \| dequeue \| 1,000 \| 30,000 \| 90,000 \| \*\*33%\*\* \| 9,355 \|/);
    // Kafka: no native run, no 2013 figure.
    assert.match(md, /\| 128 B \| enqueue \| 1,000 \| 30,000 \| not run \| — \| — \|/);
    assert.match(md, /a note \| with a pipe/);
    assert.match(md, /met in 2 of 4 phases/);
    assert.deepEqual(goalCount(fixture()), { met: 2, total: 4 });
  });

  it('marks partial phases', () => {
    const r = fixture();
    const s = r.engines[0]?.sizes[0] as SizeResult;
    s.ours.enqueue = phase(1000, 5, { count: 300, partial: true, error: 'stopped by the 60s guard' });
    assert.match(renderMarkdown(r), /ours partial 300\/1000/);
  });
});

describe('report: SVG chart', () => {
  it('log range covers every value in whole decades', () => {
    assert.deepEqual(logRange([25, 1_200_000]), { lo: 1, hi: 7 });
    assert.deepEqual(logRange([100]), { lo: 2, hi: 3 });
    assert.deepEqual(logRange([]), { lo: 0, hi: 1 });
  });

  it('has a bar per series and size with a value, and 2013 series for Redis and RabbitMQ', () => {
    const r = fixture();
    const series = chartSeries(r, 'enqueue');
    assert.deepEqual(
      series.map((s) => s.label),
      ['redis ours', 'redis native', 'kafka ours', 'redis 2013', 'rabbitmq 2013'],
    );
    const svg = renderSvg(r);
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.doesNotMatch(svg, /NaN|undefined|Infinity/);
    // Bars: per phase, redis ours 2 + native 2 + kafka 1 + 2013 2 + 2 = 9; two phases.
    const bars = svg.match(/<title>/g) ?? [];
    assert.equal(bars.length, 18);
    assert.match(svg, /<title>redis ours 128 B enqueue: 120,000 msg\/s<\/title>/);
    assert.match(svg, /<title>redis 2013 10 KB enqueue: 25 msg\/s<\/title>/);
    // Every bar stays inside the picture.
    const height = Number(/height="(\d+)"/.exec(svg)?.[1]);
    for (const m of svg.matchAll(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/g)) {
      assert.ok(Number(m[2]) >= 0 && Number(m[2]) + Number(m[4]) <= height, m[0]);
    }
  });

  it('escapes text', () => {
    const r = fixture();
    (r.engines[1] as { engine: string }).engine = 'a<b&c';
    assert.match(renderSvg(r), /a&lt;b&amp;c ours/);
  });
});

describe('report: files', () => {
  it('writes seed-<date>.json, seed.md and seed.svg', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqop-bench-'));
    try {
      const p = writeResults(fixture(), dir);
      assert.equal(p.json, join(dir, 'seed-2026-01-02.json'));
      assert.equal(JSON.parse(readFileSync(p.json, 'utf8')).schema, 'mqop-bench/1');
      assert.match(readFileSync(p.md, 'utf8'), /## redis 7\.0\.15/);
      assert.match(readFileSync(p.svg, 'utf8'), /<svg/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench helpers and flags', () => {
  it('payload has the size asked for', () => {
    assert.equal(benchPayload(128).length, 128);
    assert.equal(benchPayload(4).length, 4);
    assert.equal(benchPayload(10240).toString('latin1', 0, 10), 'mqop-bench');
    assert.equal(redactUrl('amqp://u:secret@h:1/'), 'amqp://u:***@h:1/');
  });

  it('defaults to the seed experiment', () => {
    const o = parseBenchArgs([]);
    assert.deepEqual(
      o.engines.map((e) => e.engine),
      ['redis', 'rabbitmq', 'kafka'],
    );
    assert.equal(o.messages, 1_000_000);
    assert.deepEqual(
      o.sizes.map((s) => s.bytes),
      [128, 512, 1024, 10240],
    );
    assert.equal(o.native, true);
    assert.equal(o.maxSeconds, 300);
    assert.equal(o.out, 'bench/results');
  });

  it('quick mode, per-engine and per-size N, flags', () => {
    const o = parseBenchArgs([
      '--quick',
      '--engines',
      'redis,kafka:5000',
      '--sizes',
      '128,10240:2000',
      '--no-native',
      '--url',
      'kafka=kafka://h:9092',
      '--out',
      '/tmp/x',
    ]);
    assert.equal(o.messages, 10_000);
    assert.equal(o.maxSeconds, 60);
    assert.equal(o.engines[1]?.messages, 5000);
    assert.match(o.engines[1]?.notes?.[0] ?? '', /N set to 5,000 for kafka/);
    assert.deepEqual(o.sizes, [{ bytes: 128 }, { bytes: 10240, messages: 2000 }]);
    assert.equal(o.native, false);
    assert.equal(o.urls.get('kafka'), 'kafka://h:9092');
    assert.equal(o.out, '/tmp/x');
  });

  it('rejects bad flags', () => {
    assert.throws(() => parseBenchArgs(['--engines', 'nats']), /no benchmark for "nats"/);
    assert.throws(() => parseBenchArgs(['--messages', '0']), /whole number/);
    assert.throws(() => parseBenchArgs(['--sizes', '12x']), /whole number/);
    assert.throws(() => parseBenchArgs(['--url', 'redis']), /ENGINE=URL/);
    assert.throws(() => parseBenchArgs(['--bogus']), /Unknown option/);
  });

  it('test beds get the benchmark own ports unless the env says otherwise', () => {
    const env = testbedEnv({ MQOP_CACHE: '/c', MQOP_KAFKA_PORT: '9999' });
    assert.equal(env.MQOP_REDIS_PORT, '16479');
    assert.equal(env.MQOP_REDIS_DIR, '/c/bench/brokers/redis');
    assert.equal(env.MQOP_KAFKA_PORT, '9999');
  });
});
