import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { readSources, renderFile } from './render-command.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const example = (engine: string) => join(root, 'examples', `${engine}.yaml`);
const tmp = mkdtempSync(join(tmpdir(), 'mqop-render-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** `mqop render` as a process, with `input` on its standard input. */
function mqopRender(args: string[], input = '') {
  return spawnSync(process.execPath, [join(root, 'operator/src/runtime/main.ts'), 'render', ...args], {
    input,
    encoding: 'utf8',
  });
}

const noStdin = () => assert.fail('standard input read without -f -');

describe('mqop render -f', () => {
  test('- reads standard input: the same output as the file itself', () => {
    const run = mqopRender(['-f', '-'], readFileSync(example('redis'), 'utf8'));
    assert.equal(run.stderr, '');
    assert.equal(run.status, 0);
    assert.equal(run.stdout, renderFile({ files: [example('redis')] }, noStdin));
    assert.match(run.stdout, /kind: StatefulSet/);
  });

  test('- is handed to readSources as standard input, once at most', () => {
    assert.deepEqual(
      readSources(['-'], () => 'text'),
      [{ name: 'standard input', text: 'text' }],
    );
    assert.throws(() => readSources(['-', '-'], () => ''), /-f - \(standard input\) can be given once/);
  });

  test('a folder: its .yaml, .yml and .json files in name order, nothing else', () => {
    const dir = join(tmp, 'folder');
    mkdirSync(join(dir, 'sub.yaml'), { recursive: true });
    writeFileSync(join(dir, 'sub.yaml', 'ignored.yaml'), readFileSync(example('kafka')));
    writeFileSync(join(dir, 'b-redis.yaml'), readFileSync(example('redis')));
    writeFileSync(join(dir, 'a-rabbitmq.yml'), readFileSync(example('rabbitmq')));
    writeFileSync(join(dir, 'c-zeromq.json'), JSON.stringify(parse(readFileSync(example('zeromq'), 'utf8'))));
    writeFileSync(join(dir, 'notes.txt'), 'not a manifest');
    assert.deepEqual(
      readSources([dir], noStdin).map((s) => s.name),
      ['a-rabbitmq.yml', 'b-redis.yaml', 'c-zeromq.json'].map((n) => join(dir, n)),
    );
    const files = [example('rabbitmq'), example('redis'), example('zeromq')];
    assert.equal(renderFile({ files: [dir] }, noStdin), renderFile({ files }, noStdin));
  });

  test('a folder without manifests is an error naming it', () => {
    const dir = join(tmp, 'empty');
    mkdirSync(dir);
    assert.throws(() => readSources([dir], noStdin), new RegExp(`^Error: ${dir}: the folder holds no .yaml`));
  });

  test('repeated -f: documents in the order of the flags', () => {
    const [kafka, redis] = [example('kafka'), example('redis')];
    const both = renderFile({ files: [redis, kafka] }, noStdin);
    assert.equal(both, `${renderFile({ files: [redis] })}---\n${renderFile({ files: [kafka] })}`);
    assert.notEqual(both, renderFile({ files: [kafka, redis] }, noStdin));
    const run = mqopRender(['-f', redis, '--file', '-'], readFileSync(kafka, 'utf8'));
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, both);
  });

  test('a missing file: a clear error naming it, exit code 1', () => {
    const missing = join(tmp, 'no-such-queues.yaml');
    assert.throws(
      () => readSources([example('redis'), missing], noStdin),
      new RegExp(`^Error: cannot read ${missing}: no such file or directory$`),
    );
    const run = mqopRender(['-f', missing]);
    assert.equal(run.status, 1);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, `mqop render: cannot read ${missing}: no such file or directory\n`);
  });

  test('an invalid document names its file', () => {
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
    assert.throws(
      () => renderFile({ files: [example('redis'), bad] }, noStdin),
      new RegExp(`^Error: ${bad}: document 1: expected mqop.dev/v1alpha1 MessageQueue, got v1 ConfigMap$`),
    );
  });

  test('without -f: a usage error', () => {
    const run = mqopRender([]);
    assert.equal(run.status, 1);
    assert.equal(run.stderr, 'mqop render: render needs -f <file|folder|->\n');
  });
});
