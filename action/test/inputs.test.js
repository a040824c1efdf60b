'use strict';
// Inputs: mode defaults, checks, and the `allow` input written out as an allow file.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { readInputs, chooseMode, parseBoolean, lines } = require('../src/inputs');
const { makeLayout, allowFiles } = require('../src/layout');
const { tempDir } = require('./helpers');

// Runs FN with exactly these INPUT_* variables set (as the runner sets them).
function withInputs(inputs, fn) {
  const clear = () => {
    for (const name of Object.keys(process.env))
      if (name.startsWith('INPUT_')) delete process.env[name];
  };
  clear();
  for (const [name, value] of Object.entries(inputs))
    process.env[`INPUT_${name.toUpperCase()}`] = value;
  try {
    return fn();
  } finally {
    clear();
  }
}

test('mode defaults to audit without an allow list and to block with one', () => {
  assert.strictEqual(withInputs({}, readInputs).mode, 'audit');
  assert.strictEqual(withInputs({ allow: 'github.com:443' }, readInputs).mode, 'block');
  assert.strictEqual(withInputs({ 'allow-file': '.github/egress.txt' }, readInputs).mode, 'block');
  assert.strictEqual(withInputs({ allow: '  \n\n ' }, readInputs).mode, 'audit');
  assert.strictEqual(withInputs({ allow: 'a.example', mode: 'audit' }, readInputs).mode, 'audit');
  assert.strictEqual(chooseMode(' BLOCK ', false), 'block');
});

test('a bad mode is refused with a clear message', () => {
  assert.throws(() => withInputs({ mode: 'enforce' }, readInputs), {
    message: "input 'mode' must be 'audit' or 'block', not 'enforce'",
  });
});

test('booleans take the YAML core forms; empty means the default; anything else is an error', () => {
  assert.strictEqual(parseBoolean('x', 'True', false), true);
  assert.strictEqual(parseBoolean('x', 'false', true), false);
  assert.strictEqual(parseBoolean('x', '', true), true);
  assert.throws(() => parseBoolean('fail-on-block', 'yes', false), {
    message: "input 'fail-on-block' must be true or false, not 'yes'",
  });
  assert.strictEqual(withInputs({ 'fail-on-block': 'true' }, readInputs).failOnBlock, true);
});

test('defaults: report and sarif paths, no run, nothing to build', () => {
  const inputs = withInputs({}, readInputs);
  assert.deepStrictEqual(
    { sarif: inputs.sarif, report: inputs.report, run: inputs.run, build: inputs.buildFromSource },
    { sarif: 'cgfw.sarif', report: 'cgfw-report.json', run: '', build: false },
  );
});

test('multi-line inputs: one value per line, blanks dropped', () => {
  assert.deepStrictEqual(lines(' a.txt \n\n b.txt\r\n'), ['a.txt', 'b.txt']);
  const inputs = withInputs({ 'dns-upstream': '1.1.1.1\n[2606:4700::1111]:53' }, readInputs);
  assert.deepStrictEqual(inputs.dnsUpstreams, ['1.1.1.1', '[2606:4700::1111]:53']);
});

test('the allow input becomes a file whose line N is line N of the input; files keep their order', () => {
  const temp = tempDir('cgfw-inputs-');
  const ctx = { temp, workspace: '/ws', actionRoot: '/action' };
  const text = '\n# the build\ngithub.com:443\n  *.example.com   # docs\n';
  const inputs = withInputs({ allow: text, 'allow-file': 'egress.txt\n/abs/more.txt' }, readInputs);
  const layout = makeLayout(inputs, ctx);
  const files = allowFiles(inputs, ctx, layout, { runnerEndpoints: true });
  assert.deepStrictEqual(files, [
    '/ws/egress.txt',
    '/abs/more.txt',
    layout.allowInput,
    '/action/action/runner-endpoints.txt',
  ]);
  const written = fs.readFileSync(layout.allowInput, 'utf8').split('\n');
  assert.strictEqual(written[2], 'github.com:443');
  assert.strictEqual(written[3], '  *.example.com   # docs');
  assert.ok(layout.allowInput.startsWith(path.join(temp, 'cgfw-')));
  assert.strictEqual(layout.report, '/ws/cgfw-report.json');
  assert.deepStrictEqual(
    allowFiles({ ...inputs, allowText: '', allowFiles: [] }, ctx, layout, {
      runnerEndpoints: false,
    }),
    [],
  );
});
