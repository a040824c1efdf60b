'use strict';
// Wrap mode end to end: dist/main.js and dist/post.js as real processes on a simulated runner,
// with the fake cgfw-sandbox (action/test/fake) first on PATH.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { makeRunner, fixtures, fakeBin, repoRoot } = require('./helpers');

const record = (runner) => JSON.parse(fs.readFileSync(runner.file('record.json'), 'utf8'));
const count = (text, part) => text.split(part).length - 1;

test('block mode: output streams through, outputs, annotations at the allow file line, summary once', async () => {
  const runner = makeRunner();
  fs.copyFileSync(
    path.join(repoRoot, 'tests', 'unit', 'data', 'egress.txt'),
    path.join(runner.workspace, 'egress.txt'),
  );
  const result = await runner.step('main', {
    inputs: {
      run: 'echo "hello from the step"',
      allow: '# build\ngithub.com:443',
      'allow-file': 'egress.txt',
    },
    env: { FAKE_CGFW_RECORD: runner.file('record.json') },
  });
  assert.strictEqual(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /^hello from the step$/m);

  const { argv, env } = record(runner);
  const allowInput = argv[argv.indexOf(path.join(runner.workspace, 'egress.txt')) + 2];
  assert.deepStrictEqual(argv.slice(0, 4), [
    '--allow-file',
    path.join(runner.workspace, 'egress.txt'),
    '--allow-file',
    allowInput,
  ]);
  assert.strictEqual(fs.readFileSync(allowInput, 'utf8'), '# build\ngithub.com:443\n');
  assert.ok(allowInput.startsWith(runner.temp));
  assert.ok(!argv.includes('--audit') && !argv.includes('--attach-pid'));
  assert.deepStrictEqual(argv.slice(argv.indexOf('--')), [
    '--',
    'bash',
    '--noprofile',
    '--norc',
    '-eo',
    'pipefail',
    '-c',
    'echo "hello from the step"',
  ]);
  assert.strictEqual(env.GITHUB_STEP_SUMMARY, undefined);

  assert.deepStrictEqual(result.outputs, {
    'exit-code': '0',
    report: path.join(runner.workspace, 'cgfw-report.json'),
    sarif: path.join(runner.workspace, 'cgfw.sarif'),
    'blocked-count': '5',
    'would-block-count': '0',
    'suggested-policy': '# suggested from a block report\nevil.test:443\n198.51.100.11:80\n',
  });
  assert.match(
    result.stdout,
    /^::error title=cgfw%3A evil\.test,file=egress\.txt,line=3::cgfw blocked \/usr\/bin\/curl .*add the rule: evil\.test:443$/m,
  );
  assert.strictEqual(count(result.stdout, '::error '), 4);
  assert.strictEqual(count(result.summary, 'FAKE MARKDOWN block'), 1);
  assert.strictEqual(result.state.cgfw, undefined);

  const post = await runner.step('post', {});
  assert.deepStrictEqual([post.status, post.outputs, post.summary, post.stdout], [0, {}, '', '']);
});

test('audit mode by default: --audit, warnings, the suggested allow list, report directories made', async () => {
  const runner = makeRunner();
  const again = await runner.step('main', {
    inputs: { run: 'true', report: 'out/audit.json' },
    env: {
      FAKE_CGFW_RECORD: runner.file('record.json'),
      FAKE_CGFW_REPORT: fixtures.auditReport,
      FAKE_CGFW_SARIF: fixtures.auditSarif,
    },
  });
  assert.strictEqual(again.status, 0, again.stdout + again.stderr);
  const { argv } = record(runner);
  assert.deepStrictEqual(argv.slice(0, 3), [
    '--audit',
    '--report-json',
    path.join(runner.workspace, 'out', 'audit.json'),
  ]);
  assert.strictEqual(count(again.stdout, '::warning '), 4);
  assert.strictEqual(count(again.stdout, '::error'), 0);
  assert.strictEqual(again.outputs['would-block-count'], '9');
  assert.match(again.outputs['suggested-policy'], /^# suggested from a audit report/);
});

test('fail-on-block: exit status 3 fails the step and says why', async () => {
  const runner = makeRunner();
  const result = await runner.step('main', {
    inputs: { run: 'true', allow: 'github.com', 'fail-on-block': 'true' },
  });
  assert.strictEqual(result.status, 1);
  assert.strictEqual(result.outputs['exit-code'], '3');
  assert.match(
    result.stdout,
    /^::error::cgfw blocked 5 events and 'fail-on-block' is set \(exit status 3\)$/m,
  );
});

test("the command's own failure is the step's, reports still published", async () => {
  const runner = makeRunner();
  const result = await runner.step('main', { inputs: { run: 'echo before; exit 7; echo after' } });
  assert.strictEqual(result.status, 1);
  assert.match(result.stdout, /^before$/m);
  assert.doesNotMatch(result.stdout, /^after$/m);
  assert.strictEqual(result.outputs['exit-code'], '7');
  assert.match(result.stdout, /^::error::the command failed with exit status 7$/m);
  assert.strictEqual(count(result.summary, 'FAKE MARKDOWN'), 1);
});

test('cgfw failing (125) without reports: a clear failure, and the summary says there is no report', async () => {
  const runner = makeRunner();
  const result = await runner.step('main', {
    inputs: { run: 'true' },
    env: { FAKE_CGFW_EXIT: '125', FAKE_CGFW_NO_REPORTS: '1' },
  });
  assert.strictEqual(result.status, 1);
  assert.match(
    result.stdout,
    /^::error::cgfw-sandbox itself failed \(exit status 125\): see its messages above$/m,
  );
  assert.match(result.summary, /^\*\*cgfw: no report\*\*: cgfw-sandbox itself failed/);
  assert.strictEqual(result.outputs['blocked-count'], undefined);
});

test('not root: through sudo -n -E, with PATH put back for the command', async () => {
  const runner = makeRunner();
  const result = await runner.step('main', {
    inputs: { run: 'true' },
    env: {
      CGFW_ACTION_SUDO: path.join(fakeBin, 'sudo'),
      FAKE_SUDO_LOG: runner.file('sudo.log'),
      FAKE_CGFW_RECORD: runner.file('record.json'),
    },
  });
  assert.strictEqual(result.status, 0, result.stdout + result.stderr);
  const sudo = fs.readFileSync(runner.file('sudo.log'), 'utf8');
  assert.match(
    sudo,
    new RegExp(
      `^sudo -n -E /usr/bin/env PATH=${fakeBin}:\\S* ${fakeBin}/cgfw-sandbox --audit `,
      'm',
    ),
  );
  const { env } = record(runner);
  assert.strictEqual(env.SUDO_UID, String(process.getuid()));
  assert.ok(env.PATH.startsWith(fakeBin));
});

test('bad inputs and a missing or wrong binary fail before anything runs, saying what to do', async () => {
  const runner = makeRunner();
  const badMode = await runner.step('main', {
    inputs: { run: 'true', mode: 'enforce' },
    env: { FAKE_CGFW_RECORD: runner.file('r.json') },
  });
  assert.strictEqual(badMode.status, 1);
  assert.match(
    badMode.stdout,
    /^::error::cgfw: input 'mode' must be 'audit' or 'block', not 'enforce'$/m,
  );
  assert.ok(!fs.existsSync(runner.file('r.json')));

  const missing = await runner.step('main', {
    inputs: { run: 'true' },
    env: { PATH: '/usr/bin:/bin' },
  });
  assert.match(
    missing.stdout,
    /^::error::cgfw: cgfw-sandbox is not installed on this runner .*build-from-source: true/m,
  );

  const wrongVersion = await runner.step('main', { inputs: { run: 'true', version: 'v9.9.9' } });
  assert.strictEqual(wrongVersion.status, 1);
  assert.match(
    wrongVersion.stdout,
    /^::error::cgfw: cgfw-sandbox 9\.9\.9 was asked for .* is version 0\.1\.0\. Downloading a release is not implemented yet/m,
  );

  const rightVersion = await runner.step('main', { inputs: { run: 'true', version: 'v0.1.0' } });
  assert.strictEqual(rightVersion.status, 0, rightVersion.stdout);
});

test('build-from-source: install-deps.sh through sudo, build.sh as the user, the built binaries used', async () => {
  const runner = makeRunner();
  // A stand-in action checkout whose scripts record how they were run and "build" the fakes.
  const actionRoot = runner.file('action');
  fs.mkdirSync(path.join(actionRoot, 'scripts'), { recursive: true });
  const log = runner.file('scripts.log');
  const script = (name, body) =>
    fs.writeFileSync(path.join(actionRoot, 'scripts', name), `#!/bin/sh\n${body}\n`, {
      mode: 0o755,
    });
  script('install-deps.sh', `echo "install-deps $* SUDO_UID=\${SUDO_UID:-none}" >> ${log}`);
  script(
    'build.sh',
    `echo "build.sh $* SUDO_UID=\${SUDO_UID:-none}" >> ${log}\n` +
      `mkdir -p "$1" && cp ${fakeBin}/cgfw-sandbox ${fakeBin}/cgfw "$1"/`,
  );
  const nodeDir = path.dirname(process.execPath);
  const result = await runner.step('main', {
    inputs: { run: 'true', 'build-from-source': 'true' },
    env: {
      GITHUB_ACTION_PATH: actionRoot,
      PATH: `${nodeDir}:/usr/bin:/bin`, // no cgfw-sandbox on PATH: the built one must be used
      CGFW_ACTION_SUDO: path.join(fakeBin, 'sudo'),
      FAKE_SUDO_LOG: runner.file('sudo.log'),
    },
  });
  assert.strictEqual(result.status, 0, result.stdout + result.stderr);
  const build = path.join(runner.temp, 'cgfw-build');
  assert.deepStrictEqual(fs.readFileSync(log, 'utf8').trim().split('\n'), [
    `install-deps --build-only SUDO_UID=${process.getuid()}`,
    `build.sh ${build} -DCGFW_TESTS=OFF SUDO_UID=none`,
  ]);
  const sudo = fs.readFileSync(runner.file('sudo.log'), 'utf8');
  assert.match(sudo, new RegExp(`^sudo -n -E /usr/bin/env PATH=\\S+ ${build}/cgfw-sandbox `, 'm'));
  assert.match(result.outputs['suggested-policy'], /^# suggested from a block report/);
});
