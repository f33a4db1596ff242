import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { activemqCommitted, activemqConnections, activemqProducerCount, splitEven } from './activemq.ts';
import { benchCommand, parseBenchArgs, testbedEnv, testbedExtra } from './cli.ts';
import { checkpointMarks, PhaseMeter, ratePerSecond } from './meter.ts';
import {
  parseActivemqConsumer,
  parseActivemqProducer,
  parseConsumerPerformance,
  parsePerfTest,
  parseProducerPerformance,
  parseRedisBenchmarkCsv,
} from './native.ts';
import {
  chartSeries,
  fmtRate,
  goalCount,
  historical,
  logRange,
  mergeReports,
  renderMarkdown,
  renderSvg,
  resultFileNames,
  runLabel,
  sizeLabel,
  writeResults,
} from './report.ts';
import { rocketmqShape } from './rocketmq.ts';
import { BENCH_ENGINES, engineMessages, messagesFor, ratio, runBench } from './seed.ts';
import type { BenchEngine, BenchReport, PhaseResult, SizeResult } from './types.ts';
import { benchPayload, redactUrl } from './util.ts';
import { zeromqEndpoints, zeromqWindow } from './zeromq.ts';

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
    // Kafka: no native tool, no 2013 figure.
    assert.match(md, /\| 128 B \| enqueue \| 1,000 \| 30,000 \| none \| — \| — \|/);
    // A native tool that was not run for a size.
    const r = fixture();
    (r.engines[1] as { nativeTool?: string }).nativeTool = 'kafka-perf';
    assert.match(renderMarkdown(r), /\| 128 B \| enqueue \| 1,000 \| 30,000 \| not run \| — \| — \|/);
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
      ['redis', 'rabbitmq', 'kafka', 'activemq', 'rocketmq', 'zeromq'],
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

// ---------------------------------------------------------------------------------------------
// ActiveMQ, RocketMQ, ZeroMQ; variants, caps, concurrent phases; --merge

/** Captured from `activemq producer` / `consumer` (6.1.7) through bench/native/activemq-perf.sh. */
const AMQ_PRODUCER = `1795787115470 Connecting to URL: tcp://127.0.0.1:26161 as user: mqop
1795787115643 producer-1 Committing transaction: 17
1795787115648 producer-1 Committing transaction: 18
1795787115667 producer-1 Produced: 2000 messages
1795787115672 producer-1 Elapsed time in second : 1 s
1795787115673 producer-1 Elapsed time in milli second : 1124 milli seconds
`;
const AMQ_CONSUMER = `1795787116714 Connecting to URL: tcp://127.0.0.1:26161 as user: mqop
1795787116716 Consuming queue://t1
1795787116719 Running 1 parallel threads
1795787116958 consumer-1 wait until 1901 messages are consumed
1795787117458 consumer-1 Consumed: 1901 messages
1795787117459 consumer-1 Consumer thread finished
`;

describe('ActiveMQ native tool and shapes', () => {
  it('reads the producer: messages over its own elapsed milliseconds', () => {
    const p = parseActivemqProducer(AMQ_PRODUCER);
    assert.ok(p);
    assert.equal(p.messages, 2000);
    assert.equal(p.millis, 1124);
    assert.equal(Math.round(p.rate), 1779);
    // Two threads: messages add up, the slower thread's time counts.
    const two = parseActivemqProducer(
      `${AMQ_PRODUCER}1 producer-2 Produced: 1000 messages\n2 producer-2 Elapsed time in milli second : 2000 milli seconds\n`,
    );
    assert.equal(two?.messages, 3000);
    assert.equal(two?.millis, 2000);
    assert.equal(parseActivemqProducer('Connecting to URL: tcp://x\njava.net.ConnectException'), undefined);
  });

  it('reads the consumer: from "wait until" to "Consumed" in log time', () => {
    const c = parseActivemqConsumer(AMQ_CONSUMER);
    assert.ok(c);
    assert.equal(c.messages, 1901);
    assert.equal(c.millis, 500);
    assert.equal(Math.round(c.rate), 3802);
    // Stopped before it consumed everything: no "Consumed" line, no figure.
    assert.equal(parseActivemqConsumer(AMQ_CONSUMER.split('\n').slice(0, 4).join('\n')), undefined);
  });

  it('counts what the transacted producer commits (its last partial transaction is rolled back)', () => {
    // Seen: 2000 sent with transactions of 100 → commits 0..18, 1901 messages consumable.
    assert.equal(activemqCommitted(2000, 100), 1901);
    assert.equal(activemqCommitted(101, 100), 101);
    assert.equal(activemqCommitted(100, 100), 0);
    assert.equal(activemqCommitted(5000, 0), 5000);
    for (const n of [1, 99, 100, 101, 10_000, 30_000, 100_000]) {
      const m = activemqProducerCount(n, 100);
      assert.ok(activemqCommitted(m, 100) >= n, `n=${n} m=${m}`);
      assert.ok(activemqCommitted(m - 1, 100) < n, `n=${n}: m=${m} is not the least`);
    }
    assert.equal(activemqProducerCount(10_000, 100), 10_001);
  });

  it('splits sends over connections (durable: several, non-durable: one)', () => {
    assert.deepEqual(splitEven(10, 4), [3, 3, 2, 2]);
    assert.deepEqual(splitEven(3, 8), [1, 1, 1, 0, 0, 0, 0, 0]);
    assert.equal(
      splitEven(100_001, 8).reduce((a, b) => a + b, 0),
      100_001,
    );
    assert.ok(activemqConnections('durable') > 1);
    assert.equal(activemqConnections('nondurable'), 1);
  });
});

describe('RocketMQ and ZeroMQ shapes', () => {
  it('RocketMQ: sends in flight bounded by bytes, receive batches at the proxy cap', () => {
    assert.deepEqual(rocketmqShape(128), { inflight: 1024, batch: 32 });
    assert.equal(rocketmqShape(10240).inflight, 1024);
    assert.equal(rocketmqShape(100 * 1024).inflight, 163);
    assert.ok(rocketmqShape(1024 * 1024).inflight >= 1);
    assert.equal(rocketmqShape(8 * 1024 * 1024).inflight, 2);
  });

  it('ZeroMQ: a window of messages in flight, below the high-water marks', () => {
    assert.equal(zeromqWindow(128), 500);
    assert.equal(zeromqWindow(10240), 500);
    assert.equal(zeromqWindow(1024 * 1024), 8);
    assert.equal(zeromqWindow(64 * 1024 * 1024), 1);
  });

  it('ZeroMQ: frontend from the URL, backend from extra or port + 1', () => {
    assert.deepEqual(zeromqEndpoints({ url: 'tcp://127.0.0.1:25555' }), {
      frontend: 'tcp://127.0.0.1:25555',
      backend: 'tcp://127.0.0.1:25556',
    });
    assert.deepEqual(zeromqEndpoints({ url: 'tcp://h:1/', extra: { backend: 'tcp://k:7' } }), {
      frontend: 'tcp://h:1',
      backend: 'tcp://k:7',
    });
    assert.throws(() => zeromqEndpoints({ url: 'amqp://h:1' }), /tcp:\/\/host:port/);
    assert.throws(() => zeromqEndpoints({ url: 'tcp://h:1', extra: { backend: 'h:2' } }), /backend/);
  });

  it('engines without a native tool say why, and ZeroMQ runs both phases at once', () => {
    for (const e of ['rocketmq', 'zeromq']) {
      const engine = BENCH_ENGINES.get(e);
      assert.ok(engine);
      assert.equal(engine.native, undefined);
      assert.match((engine.notes ?? []).join(' '), /No native ceiling/);
    }
    assert.equal(BENCH_ENGINES.get('zeromq')?.concurrentPhases, true);
    assert.ok(BENCH_ENGINES.get('activemq')?.native);
    assert.deepEqual(
      BENCH_ENGINES.get('activemq')?.variants?.map((v) => v.label),
      ['durable', 'non-durable'],
    );
  });
});

/** An in-memory engine: a queue of counts, for the runner's own logic. */
function fakeEngine(extra: Partial<BenchEngine> = {}): { engine: BenchEngine; events: string[] } {
  const events: string[] = [];
  const engine: BenchEngine = {
    engine: 'fake',
    describeOurs: ({ variant }) => `fake ${variant ?? ''}`.trim(),
    async open(_t, ctx) {
      let stored = 0;
      events.push(`open ${ctx.name} ${ctx.messages} ${ctx.variant ?? '-'}`);
      return {
        async enqueue(n, meter) {
          events.push('enqueue start');
          for (let i = 0; i < n; i++) {
            stored++;
            meter.add(1);
            if (i % 100 === 0) await new Promise((r) => setImmediate(r));
          }
          events.push('enqueue end');
        },
        async dequeue(n, meter, signal) {
          events.push('dequeue start');
          let got = 0;
          while (got < n && !signal.aborted) {
            if (stored > 0) {
              stored--;
              got++;
              meter.add(1);
            } else {
              await new Promise((r) => setImmediate(r));
            }
          }
          events.push('dequeue end');
        },
        async close() {
          events.push('close');
        },
      };
    },
    ...extra,
  };
  return { engine, events };
}

async function withFake<T>(engine: BenchEngine, fn: () => Promise<T>): Promise<T> {
  const m = BENCH_ENGINES as Map<string, BenchEngine>;
  m.set('fake', engine);
  try {
    return await fn();
  } finally {
    m.delete('fake');
  }
}

const runFake = () =>
  runBench({
    engines: [{ engine: 'fake', target: { url: 'fake://u:pw@h' } }],
    sizes: [{ bytes: 128 }, { bytes: 1024, messages: 300 }],
    messages: 2000,
    maxSeconds: 10,
    native: false,
    quick: true,
    repoRoot: '/nonexistent',
    runId: 'r1',
  });

describe('runner: variants, caps, concurrent phases', () => {
  it('caps N per engine (said in the notes), a size cap on top, a row per variant', async () => {
    const { engine, events } = fakeEngine({
      maxMessages: { messages: 500, why: 'slow broker' },
      variants: [
        { id: 'a', label: 'A' },
        { id: 'b', label: 'B' },
      ],
    });
    const r = await withFake(engine, runFake);
    assert.deepEqual(
      r.engines.map((e) => e.variant),
      ['A', 'B'],
    );
    for (const e of r.engines) {
      assert.deepEqual(
        e.sizes.map((s) => [s.messages, s.ours.enqueue.count, s.ours.dequeue.count]),
        [
          [500, 500, 500],
          [300, 300, 300],
        ],
      );
      assert.match(
        e.notes.join(' '),
        /N = 500 per size for fake \(its cap; the run's N is 2,000\): slow broker/,
      );
      assert.doesNotMatch(e.url, /pw/);
    }
    assert.ok(events.includes('open mqop-bench-r1-fake-b-1024 300 b'));
    // Sequential engines: all enqueued before the dequeue starts.
    assert.deepEqual(events.slice(1, 5), ['enqueue start', 'enqueue end', 'dequeue start', 'dequeue end']);
    assert.match(renderMarkdown(r), /## fake \(B\)/);
  });

  it('an N set for the engine wins over its cap, without the cap note', () => {
    const { engine } = fakeEngine({ maxMessages: { messages: 500, why: 'slow' } });
    assert.equal(engineMessages(2000, engine, { engine: 'fake', target: { url: '' } }), 500);
    assert.equal(engineMessages(200, engine, { engine: 'fake', target: { url: '' } }), 200);
    assert.equal(engineMessages(2000, engine, { engine: 'fake', target: { url: '' }, messages: 900 }), 900);
  });

  it('concurrent phases: the consumer starts first and both run at once', async () => {
    const { engine, events } = fakeEngine({ concurrentPhases: true });
    const r = await withFake(engine, runFake);
    assert.deepEqual(events.slice(1, 3), ['dequeue start', 'enqueue start']);
    assert.ok(events.indexOf('enqueue end') > events.indexOf('dequeue start'));
    const s = r.engines[0]?.sizes[0];
    assert.equal(s?.ours.enqueue.count, 2000);
    assert.equal(s?.ours.dequeue.count, 2000);
    assert.equal(s?.ours.dequeue.partial, false);
  });
});

describe('runner: concurrent phases when the sender fails', () => {
  it('the dequeue stops a few seconds after the enqueue ended short, not at the guard', async () => {
    const { engine } = fakeEngine({ concurrentPhases: true });
    const open = engine.open.bind(engine);
    engine.open = async (t, ctx) => {
      const q = await open(t, ctx);
      return {
        ...q,
        async enqueue(_n, meter) {
          meter.add(10);
          throw new Error('broker went away');
        },
      };
    };
    const t0 = performance.now();
    const r = await withFake(engine, () =>
      runBench({
        engines: [{ engine: 'fake', target: { url: 'fake://h' } }],
        sizes: [{ bytes: 128 }],
        messages: 1000,
        maxSeconds: 60,
        native: false,
        quick: true,
        repoRoot: '/nonexistent',
      }),
    );
    const s = r.engines[0]?.sizes[0];
    assert.match(s?.ours.enqueue.error ?? '', /broker went away/);
    assert.equal(s?.ours.dequeue.partial, true);
    assert.match(s?.ours.dequeue.error ?? '', /after the enqueue phase ended short/);
    assert.ok(performance.now() - t0 < 15_000);
  });
});

describe('--merge and result files', () => {
  const earlier = (): BenchReport => {
    const r = fixture();
    r.startedAt = '2025-12-31T10:00:00.000Z';
    r.notes = ['Earlier note.'];
    return r;
  };
  const current = (): BenchReport => {
    const r = fixture();
    r.engines = [
      { ...(r.engines[0] as BenchReport['engines'][number]), engine: 'zeromq', nativeTool: undefined },
    ];
    r.notes = ['This run.'];
    return r;
  };

  it("adds the earlier run's other engines, each marked with its run; this run's engines win", () => {
    const cur = current();
    cur.engines.push({ engine: 'kafka', url: 'kafka://new', notes: [], sizes: [] });
    const m = mergeReports(cur, earlier(), '/x/bench/results/seed-2025-12-31.json');
    assert.deepEqual(
      m.engines.map((e) => [e.engine, e.run?.file]),
      [
        ['redis', 'seed-2025-12-31.json'],
        ['kafka', undefined],
        ['zeromq', undefined],
      ],
    );
    assert.equal(m.engines.find((e) => e.engine === 'kafka')?.url, 'kafka://new');
    assert.deepEqual(
      m.merged?.map((x) => [x.file, x.engines]),
      [['seed-2025-12-31.json', ['redis']]],
    );
    assert.deepEqual(m.notes.slice(0, 1), ['This run.']);
    assert.ok(m.notes.includes('Earlier note.'));
    // The inputs are not changed.
    assert.equal(cur.engines.length, 2);
  });

  it('shows the run of each row in the summary and says what was merged', () => {
    const m = mergeReports(current(), earlier(), 'seed-2025-12-31.json');
    const md = renderMarkdown(m);
    assert.match(md, /\| zeromq \| 128 B \| 1,000 \| 120,000 \|.*\| 2026-01-02 03:04 UTC \|/);
    assert.match(
      md,
      /\| redis \| 128 B \| 1,000 \| 120,000 \| 300,000 \| \*\*40%\*\* \|.*\| 2025-12-31 10:00 UTC \|/,
    );
    assert.match(md, /Merged for display \(`--merge`\): redis, kafka from `seed-2025-12-31.json`/);
    assert.match(md, /From an earlier run: `seed-2025-12-31.json` \(started 2025-12-31T10:00:00.000Z/);
    assert.equal(runLabel('2026-11-27T13:05:10.123Z'), '2026-11-27 13:05 UTC');
    // Twice merged: an engine keeps the run it came from.
    const again = mergeReports(fixture(), m, 'seed-2026-01-02.json');
    assert.equal(again.engines.find((e) => e.engine === 'zeromq')?.run?.file, 'seed-2026-01-02.json');
  });

  it('the JSON keeps only this run; md and svg show the merged view; an earlier JSON is not overwritten', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqop-bench-merge-'));
    try {
      const first = writeResults(fixture(), dir);
      const cur = current();
      const p = writeResults(cur, dir, '', mergeReports(cur, earlier(), 'seed-2025-12-31.json'));
      assert.notEqual(p.json, first.json);
      assert.equal(p.json, join(dir, 'seed-2026-01-02-0304.json'));
      const raw = JSON.parse(readFileSync(p.json, 'utf8')) as BenchReport;
      assert.deepEqual(
        raw.engines.map((e) => e.engine),
        ['zeromq'],
      );
      assert.match(readFileSync(p.md, 'utf8'), /## redis 7\.0\.15/);
      assert.match(readFileSync(p.svg, 'utf8'), /redis ours/);
      const taken = new Set(['seed-2026-01-02.json', 'seed-2026-01-02-0304.json']);
      assert.equal(resultFileNames(fixture(), (n) => taken.has(n)).json, 'seed-2026-01-02-0304-2.json');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--render rewrites seed.md and seed.svg from JSON files without running anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqop-bench-render-'));
    try {
      const cur = current();
      writeFileSync(join(dir, 'run.json'), JSON.stringify(cur));
      writeFileSync(join(dir, 'old.json'), JSON.stringify(earlier()));
      let out = '';
      let err = '';
      const io = {
        stdout: (t: string) => {
          out += t;
        },
        stderr: (t: string) => {
          err += t;
        },
        env: {},
      };
      const code = await benchCommand(
        [
          '--render',
          join(dir, 'run.json'),
          '--merge',
          join(dir, 'old.json'),
          '--out',
          dir,
          '--note',
          'Addendum.',
        ],
        io,
      );
      assert.equal(code, 0, err);
      assert.match(out, /wrote .*seed\.md/);
      assert.deepEqual(readdirSync(dir).sort(), ['old.json', 'run.json', 'seed.md', 'seed.svg']);
      const md = readFileSync(join(dir, 'seed.md'), 'utf8');
      assert.match(md, /\| redis \| 128 B \|.*\| 2025-12-31 10:00 UTC \|/);
      assert.match(md, /\| zeromq \| 128 B \|.*\| 2026-01-02 03:04 UTC \|/);
      assert.match(md, /This run\.\n\n[\s\S]*Addendum\./);
      assert.doesNotMatch(readFileSync(join(dir, 'run.json'), 'utf8'), /Addendum/);
      writeFileSync(join(dir, 'bad.json'), '{"schema":"other"}');
      assert.equal(await benchCommand(['--render', join(dir, 'bad.json'), '--out', dir], io), 2);
      assert.match(err, /not an mqop bench report/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--merge takes a JSON file; the test beds of the new engines get their own ports', () => {
    assert.deepEqual(parseBenchArgs(['--merge', 'a/seed-x.json', '--merge', 'seed-y.json']).merge, [
      'a/seed-x.json',
      'seed-y.json',
    ]);
    assert.deepEqual(parseBenchArgs([]).merge, []);
    assert.throws(() => parseBenchArgs(['--merge', 'seed.md']), /seed-\*\.json/);
    const env = testbedEnv({ MQOP_CACHE: '/c' });
    assert.equal(env.MQOP_ACTIVEMQ_PORT, '25673');
    assert.equal(env.MQOP_ROCKETMQ_DIR, '/c/bench/brokers/rocketmq');
    assert.deepEqual(testbedExtra('activemq', env), { 'openwire.url': 'tcp://127.0.0.1:26161' });
    assert.deepEqual(testbedExtra('rocketmq', env), { 'namesrv.addr': '127.0.0.1:29876' });
    assert.equal(testbedExtra('redis', env), undefined);
  });
});
