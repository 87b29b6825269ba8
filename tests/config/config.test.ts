import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText, loadConfig } from '../../src/config/load.js';
import { renderDefaultConfig } from '../../src/config/render-default.js';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';

function problems(text: string): string[] {
  try {
    parseConfigText(text, 'f.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

test('the commented default written by init parses back to exactly the defaults', () => {
  const text = renderDefaultConfig();
  assert.deepEqual(parseConfigText(text, 'forge.yaml'), forgeConfigSchema.parse({}));
  // Every setting is documented: each key line is preceded by a comment line.
  const lines = text.split('\n');
  lines.forEach((l, i) => {
    if (/^\s*[A-Za-z][\w-]*:\s*\S/.test(l) && !/^\s+(input|output):/.test(l)) assert.match(lines[i - 1] ?? '', /^\s*#|^\s*[\w.-]+:\s*$/, `undocumented: ${l}`);
  });
});

test('one error per problem, each with file, line, field path and what is expected', () => {
  const p = problems('generation:\n  target: 0\n  lang: fr\n  modle: x\nprices:\n  m:\n    input: cheap\n');
  assert.equal(p.length, 5, p.join('\n'));
  assert.ok(p.includes('f.yaml:2: generation.target: Too small: expected number to be >0'), p.join('\n'));
  assert.ok(p.some((x) => x.startsWith('f.yaml:3: generation.lang:') && x.includes('"en"|"zh"')));
  assert.ok(p.some((x) => x.startsWith('f.yaml:4: generation.modle: unknown setting')));
  assert.ok(p.some((x) => x.startsWith('f.yaml:7: prices.m.input:')));
  assert.ok(p.some((x) => x.startsWith('f.yaml:6: prices.m.output:')), 'a missing key points at its parent');
});

test('YAML syntax errors point at their line', () => {
  const p = problems('generation:\n  model: "unterminated\n  target: 3\n');
  assert.equal(p.length >= 1, true);
  assert.match(p[0]!, /^f\.yaml:\d+: YAML syntax/);
});

test('no ./forge.yaml means defaults; a missing --config file is an error naming it', () => {
  assert.deepEqual(loadConfig(undefined, () => false).config, forgeConfigSchema.parse({}));
  assert.throws(() => loadConfig('/nonexistent/forge.yaml'), /\/nonexistent\/forge.yaml: cannot read/);
});

test('`init` writes forge.yaml once and refuses to overwrite it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'forge-init-'));
  const first = await runCli(['init', dir]);
  assert.equal(first.code, 0, first.stderr);
  const text = readFileSync(join(dir, 'forge.yaml'), 'utf8');
  assert.match(text, /apiKeyEnv: OPENAI_API_KEY/);
  const second = await runCli(['init', dir]);
  assert.equal(second.code, 2);
  assert.match(second.stderr, /already exists/);
  writeFileSync(join(dir, 'forge.yaml'), 'x');
  assert.equal((await runCli(['init', dir, '--force'])).code, 0);
  assert.equal(readFileSync(join(dir, 'forge.yaml'), 'utf8'), text);
});
