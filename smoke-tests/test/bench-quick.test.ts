/**
 * `mqop bench` end to end, small: 2,000 messages of 128 B and 1 KB through Redis (the test bed,
 * started by the command itself on the benchmark's own port, and stopped again if it started it)
 * and through redis-benchmark; the JSON, markdown and SVG files must be written with sane numbers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { benchCommand } from '../../operator/src/cli/bench-command.ts';
import type { BenchReport } from '../src/bench.ts';

const N = 2000;
const SIZES = [128, 1024];

describe('mqop bench --quick (redis)', { timeout: 120_000 }, () => {
  let dir: string;
  let code: number;
  let stdout = '';
  let stderr = '';
  let millis = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqop-bench-quick-'));
    const t0 = performance.now();
    code = await benchCommand(
      ['--quick', '--engines', 'redis', '--messages', String(N), '--sizes', SIZES.join(','), '--out', dir],
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

  it('exits 0 within a minute and says where the files are', () => {
    assert.equal(code, 0, stderr.slice(-2000));
    assert.ok(millis < 60_000, `took ${Math.round(millis)} ms`);
    assert.match(stdout, /wrote .*seed-\d{4}-\d\d-\d\d\.json/);
    assert.deepEqual(readdirSync(dir).sort().slice(-2), ['seed.md', 'seed.svg']);
  });

  it('the JSON has every size with counts equal to N and rates > 0, ours and native', () => {
    const file = readdirSync(dir).find((f) => /^seed-\d{4}-\d\d-\d\d\.json$/.test(f));
    assert.ok(file);
    const report = JSON.parse(readFileSync(join(dir, file), 'utf8')) as BenchReport;
    assert.equal(report.schema, 'mqop-bench/1');
    assert.equal(report.options.quick, true);
    assert.equal(report.engines.length, 1);
    const redis = report.engines[0];
    assert.ok(redis);
    assert.equal(redis.engine, 'redis');
    assert.doesNotMatch(redis.url, /mqop-test-pw/);
    assert.deepEqual(
      redis.sizes.map((s) => s.messageBytes),
      SIZES,
    );
    for (const s of redis.sizes) {
      for (const phase of ['enqueue', 'dequeue'] as const) {
        const r = s.ours[phase];
        assert.equal(r.requested, N, `${s.messageBytes} ${phase}`);
        assert.equal(r.count, N, `${s.messageBytes} ${phase}`);
        assert.equal(r.partial, false);
        assert.ok(r.rate > 0 && Number.isFinite(r.rate), `${s.messageBytes} ${phase} rate ${r.rate}`);
        assert.ok(r.rate < 50_000_000, `${s.messageBytes} ${phase} rate ${r.rate} is not believable`);
        assert.equal(r.checkpoints.length, 10);
        assert.equal(r.checkpoints.at(-1)?.count, N);
        const nat = s.native?.[phase];
        assert.ok(nat, `native ${phase}`);
        assert.equal(nat.count, N, `native ${s.messageBytes} ${phase}`);
        assert.ok(nat.rate > 0, `native ${s.messageBytes} ${phase} rate ${nat.rate}`);
        assert.ok((s.ratio[phase] ?? 0) > 0);
      }
      assert.ok(s.native?.commands.every((c) => !c.includes('mqop-test-pw')));
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
    // ours + native + 2013 Redis + 2013 RabbitMQ, 2 sizes, 2 phases.
    assert.equal((svg.match(/<title>/g) ?? []).length, 16);
  });
});
