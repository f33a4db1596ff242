/**
 * The seed benchmark CLI (bench/src/cli.ts, formerly `mqop bench`) end to end, small, for all six
 * engines: 2,000 messages of 128 B and 1 KB through each engine's real broker (the test beds,
 * started by the command itself on the benchmark's own ports and stopped again if it started them;
 * for ZeroMQ a `mqop zmq-proxy` it starts) and through each native tool there is; the JSON,
 * markdown and SVG files must be written with sane numbers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { benchCommand } from '../src/cli.ts';
import type { BenchReport } from '../src/seed.ts';

const N = 2000;
const SIZES = [128, 1024];
const ENGINES = ['redis', 'rabbitmq', 'kafka', 'activemq', 'rocketmq', 'zeromq'];
/** Rows of the report: ActiveMQ has two variants. */
const ROWS = ['redis', 'rabbitmq', 'kafka', 'activemq durable', 'activemq non-durable', 'rocketmq', 'zeromq'];
const NO_NATIVE = new Set(['rocketmq', 'zeromq']);

describe('mqop bench --quick (all six engines)', { timeout: 600_000 }, () => {
  let dir: string;
  let code: number;
  let stdout = '';
  let stderr = '';
  let millis = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqop-bench-quick-'));
    const t0 = performance.now();
    code = await benchCommand(
      [
        '--quick',
        '--engines',
        ENGINES.join(','),
        '--messages',
        String(N),
        '--sizes',
        SIZES.join(','),
        '--out',
        dir,
      ],
      {
        stdout: (s) => {
          stdout += s;
        },
        stderr: (s) => {
          stderr += s;
        },
        env: process.env,
      },
    );
    millis = performance.now() - t0;
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0 within a few minutes and says where the files are', () => {
    assert.equal(code, 0, stderr.slice(-3000));
    assert.ok(millis < 480_000, `took ${Math.round(millis)} ms`);
    assert.match(stdout, /wrote .*seed-\d{4}-\d\d-\d\d\.json/);
    assert.deepEqual(readdirSync(dir).sort().slice(-2), ['seed.md', 'seed.svg']);
    assert.doesNotMatch(stdout + stderr, /mqop-test-pw/);
  });

  it('the JSON has every engine and size with counts equal to N and rates > 0, ours and native', () => {
    const file = readdirSync(dir).find((f) => /^seed-\d{4}-\d\d-\d\d\.json$/.test(f));
    assert.ok(file);
    const report = JSON.parse(readFileSync(join(dir, file), 'utf8')) as BenchReport;
    assert.equal(report.schema, 'mqop-bench/1');
    assert.equal(report.options.quick, true);
    assert.deepEqual(
      report.engines.map((e) => (e.variant ? `${e.engine} ${e.variant}` : e.engine)),
      ROWS,
    );
    for (const e of report.engines) {
      const row = e.variant ? `${e.engine} ${e.variant}` : e.engine;
      assert.equal(e.error, undefined, `${row}: ${e.error}`);
      assert.doesNotMatch(e.url, /mqop-test-pw/);
      assert.deepEqual(
        e.sizes.map((s) => s.messageBytes),
        SIZES,
        row,
      );
      for (const s of e.sizes) {
        for (const phase of ['enqueue', 'dequeue'] as const) {
          const what = `${row} ${s.messageBytes} ${phase}`;
          const r = s.ours[phase];
          assert.equal(r.requested, N, what);
          assert.equal(r.count, N, what);
          assert.equal(r.partial, false, what);
          assert.ok(r.rate > 0 && Number.isFinite(r.rate), `${what} rate ${r.rate}`);
          assert.ok(r.rate < 50_000_000, `${what} rate ${r.rate} is not believable`);
          // Every tenth is a checkpoint; a consumer that gets a whole batch at once (Kafka's
          // fetch holds all 2,000) passes several marks in one step.
          if (phase === 'enqueue') assert.equal(r.checkpoints.length, 10, what);
          else assert.ok(r.checkpoints.length >= 1 && r.checkpoints.length <= 10, what);
          assert.equal(r.checkpoints.at(-1)?.count, N, what);
          if (NO_NATIVE.has(e.engine)) {
            assert.equal(s.native, undefined, what);
            assert.equal(s.ratio[phase], undefined, what);
            continue;
          }
          const nat = s.native?.[phase];
          assert.ok(nat, `native ${what}`);
          // ActiveMQ's transacted producer commits a few more than N (see bench/activemq.ts).
          assert.ok(nat.count >= N && nat.count <= N + 200, `native ${what}: ${nat.count}`);
          assert.equal(nat.partial, false, `native ${what}: ${nat.error}`);
          assert.ok(nat.rate > 0, `native ${what} rate ${nat.rate}`);
          assert.ok((s.ratio[phase] ?? 0) > 0, what);
        }
        assert.ok(s.native?.commands.every((c) => !c.includes('mqop-test-pw')) ?? true);
      }
      if (NO_NATIVE.has(e.engine)) assert.match(e.notes.join(' '), /No native ceiling/, row);
    }
  });

  it('the markdown has a row per size and phase, and the SVG a bar for each', () => {
    const md = readFileSync(join(dir, 'seed.md'), 'utf8');
    for (const size of ['128 B', '1 KB']) {
      for (const phase of ['enqueue', 'dequeue']) {
        assert.match(
          md,
          new RegExp(`\\| ${size} \\| ${phase} \\| 2,000 \\| [\\d,]+ \\| [\\d,]+ \\| (\\*\\*)?\\d+%`),
        );
      }
    }
    assert.match(md, /\| 128 B \| enqueue \| 2,000 \|.*\| 16,088 \|/);
    const svg = readFileSync(join(dir, 'seed.svg'), 'utf8');
    assert.match(svg, /^<svg /);
    assert.doesNotMatch(svg, /NaN|undefined/);
    // Per size and phase: ours for 7 rows, native for 5 (not RocketMQ, ZeroMQ), 2013 for 2.
    assert.equal((svg.match(/<title>/g) ?? []).length, (7 + 5 + 2) * 2 * 2);
    for (const row of ['activemq (durable)', 'activemq (non-durable)', 'rocketmq', 'zeromq']) {
      assert.match(
        md,
        new RegExp(`\\| ${row.replace(/[()]/g, '\\$&')} \\| 128 B \\| 2,000 \\| [\\d,]+ \\|`),
        row,
      );
    }
  });
});
