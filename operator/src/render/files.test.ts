import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { fileTemplate, fillPlaceholders } from './files.ts';

describe('fillPlaceholders', () => {
  test('replaces every __NAME__, numbers included, and leaves shell syntax alone', () => {
    const text = `port=__PORT__ host="$POD_NAME.__HOST_NAME__" again=__PORT__ n=$((X * __PORT__)) user___HOST_NAME__ __x__ __a_b__ \${x#*@}\n`;
    assert.equal(
      fillPlaceholders(text, { PORT: 9092, HOST_NAME: 'svc.local' }),
      `port=9092 host="$POD_NAME.svc.local" again=9092 n=$((X * 9092)) user_svc.local __x__ __a_b__ \${x#*@}\n`,
    );
  });

  test('inserts values literally: no $-patterns, no second pass', () => {
    assert.equal(fillPlaceholders('a=__A__ b=__B__', { A: "$& $' __B__", B: '$1' }), "a=$& $' __B__ b=$1");
  });

  test('a placeholder without a value throws, naming it and the source', () => {
    assert.throws(
      () => fillPlaceholders('x=__PORT__ y=__HOST__', { PORT: 1 }, 'f.sh'),
      /^Error: f\.sh: placeholder __HOST__ has no value$/,
    );
  });

  test('a value without a placeholder throws, naming it', () => {
    assert.throws(
      () => fillPlaceholders('x=__PORT__', { PORT: 1, PROT: 2 }, 'f.sh'),
      /^Error: f\.sh: no placeholder for __PROT__$/,
    );
  });

  test('inherited object keys are not values', () => {
    assert.throws(() => fillPlaceholders('__TOSTRING__ __CONSTRUCTOR__', {}), /__TOSTRING__ has no value/);
  });
});

describe('fileTemplate', () => {
  test('reads the file once, then fills it without I/O', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqop-files-'));
    const file = join(dir, 'start.sh');
    writeFileSync(file, '#!/bin/sh\nexec server --port __PORT__\n');
    const t = fileTemplate(pathToFileURL(file));
    writeFileSync(file, 'changed after loading\n');
    assert.equal(t.fill({ PORT: 80 }), '#!/bin/sh\nexec server --port 80\n');
    assert.equal(t.path, file);
    assert.throws(() => t.fill(), new RegExp(`^Error: ${file}: placeholder __PORT__ has no value$`));
  });

  test('a missing file fails when the template is created', () => {
    assert.throws(() => fileTemplate(new URL('./no-such-file.sh', import.meta.url)), /ENOENT/);
  });

  test('engine template files use only well-formed placeholders', () => {
    const root = new URL('../engines/files/', import.meta.url);
    const files = readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    assert.ok(files.length > 0);
    for (const f of files) {
      const text = readFileSync(join(f.parentPath, f.name), 'utf8');
      // Meant as a placeholder but not one: lower case, a double underscore inside, the old @NAME@.
      assert.doesNotMatch(
        text,
        /__\w*[a-z]\w*__|__[A-Z0-9]+___+[A-Z]|@[A-Z][A-Z0-9_]*@/,
        `${f.name}: malformed placeholder`,
      );
    }
  });
});
