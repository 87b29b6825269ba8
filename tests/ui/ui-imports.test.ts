import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = process.cwd();
const uiDir = join(root, 'src', 'ui');
const storeDir = join(root, 'src', 'store');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** Every module a file names: static imports and re-exports (type-only too) and dynamic import() calls. */
function importedSpecifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of source.matchAll(/\bimport\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of source.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out;
}

test('the import scan sees static, type-only, re-exported and dynamic imports', () => {
  const sample = `import { a } from './a.js';\nimport type {\n  B,\n} from "../b.js";\nexport { c } from './c.js';\nimport './d.js';\nconst e = await import('../e.js');`;
  assert.deepEqual(importedSpecifiers(sample).sort(), ['../b.js', '../e.js', './a.js', './c.js', './d.js']);
});

test('src/ui never imports the run store: it reaches runs through the injected RunAccess (src/review/run-access.ts)', () => {
  const files = sourceFiles(uiDir);
  assert.ok(files.length > 10, `expected the UI sources under ${uiDir}`);
  const offending: string[] = [];
  for (const file of files) {
    for (const spec of importedSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      if (target === storeDir || target.startsWith(storeDir + '/')) offending.push(`${relative(root, file)} imports ${spec}`);
    }
  }
  assert.deepEqual(offending, []);
});
