import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { fileTemplate, fillPlaceholders } from './files.ts';

describe('fillPlaceholders', () => {
  test('replaces every @NAME@, numbers included, and leaves shell syntax alone', () => {
    const text = `port=@PORT@ host="$POD_NAME.@HOST@" again=@PORT@ \${x#*@} +@all user@host\n`;
    assert.equal(
      fillPlaceholders(text, { PORT: 9092, HOST: 'svc.local' }),
      `port=9092 host="$POD_NAME.svc.local" again=9092 \${x#*@} +@all user@host\n`,
    );
  });

  test('inserts values literally: no $-patterns, no second pass', () => {
    assert.equal(fillPlaceholders('a=@A@ b=@B@', { A: "$& $' @B@", B: '$1' }), "a=$& $' @B@ b=$1");
  });

  test('a placeholder without a value throws, naming it and the source', () => {
    assert.throws(
      () => fillPlaceholders('x=@PORT@ y=@HOST@', { PORT: 1 }, 'f.sh'),
      /^Error: f\.sh: placeholder @HOST@ has no value$/,
    );
  });

  test('a value without a placeholder throws, naming it', () => {
    assert.throws(
      () => fillPlaceholders('x=@PORT@', { PORT: 1, PROT: 2 }, 'f.sh'),
      /^Error: f\.sh: no placeholder for @PROT@$/,
    );
  });

  test('inherited object keys are not values', () => {
    assert.throws(() => fillPlaceholders('@TOSTRING@ @CONSTRUCTOR@', {}), /@TOSTRING@ has no value/);
  });
});

describe('fileTemplate', () => {
  test('reads the file once, then fills it without I/O', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqop-files-'));
    const file = join(dir, 'start.sh');
    writeFileSync(file, '#!/bin/sh\nexec server --port @PORT@\n');
    const t = fileTemplate(pathToFileURL(file));
    writeFileSync(file, 'changed after loading\n');
    assert.equal(t.fill({ PORT: 80 }), '#!/bin/sh\nexec server --port 80\n');
    assert.equal(t.path, file);
    assert.throws(() => t.fill(), new RegExp(`^Error: ${file}: placeholder @PORT@ has no value$`));
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
      // Anything between @s that looks meant as a placeholder but is not one (lower case, a dash).
      assert.doesNotMatch(text, /@[A-Za-z][\w-]*[a-z-][\w-]*@/, `${f.name}: malformed placeholder`);
    }
  });
});
