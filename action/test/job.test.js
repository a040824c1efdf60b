'use strict';
// Job mode end to end: dist/main.js starts the (fake) daemon, dist/post.js stops it, on a
// simulated runner; state passes from main to post as the runner passes it (STATE_*).
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { makeRunner, fakeBin, repoRoot } = require('./helpers');
const { isAlive, poll } = require('../src/daemon-process');

const record = (runner) => JSON.parse(fs.readFileSync(runner.file('record.json'), 'utf8'));
const count = (text, part) => text.split(part).length - 1;

// main, then post with main's state, on one runner.
async function mainThenPost(runner, { inputs = {}, env = {} } = {}) {
  const stepEnv = { FAKE_CGFW_RECORD: runner.file('record.json'), ...env };
  const main = await runner.step('main', { inputs, env: stepEnv });
  const post =
    main.state.cgfw === undefined
      ? null
      : await runner.step('post', { inputs, env: stepEnv, state: main.state });
  return { main, post };
}

test('the daemon protects the job from main to post; post publishes its reports', async () => {
  const runner = makeRunner();
  const env = { CGFW_ACTION_WORKER_PID: '4242' };
  const main = await runner.step('main', {
    inputs: { allow: 'github.com:443' },
    env: { ...env, FAKE_CGFW_RECORD: runner.file('record.json') },
  });
  assert.strictEqual(main.status, 0, main.stdout + main.stderr);
  const { argv, env: daemonEnv, pid } = record(runner);
  const state = JSON.parse(main.state.cgfw);
  assert.strictEqual(state.pid, pid);
  assert.ok(isAlive(pid, state.startTime), 'the daemon outlives main');
  assert.deepStrictEqual(argv.slice(0, 4), [
    '--attach-pid',
    '4242',
    '--ready-file',
    state.layout.ready,
  ]);
  assert.ok(!argv.includes('--'));
  assert.deepStrictEqual(
    argv.filter((_, i) => argv[i - 1] === '--allow-file'),
    [state.layout.allowInput, path.join(repoRoot, 'action', 'runner-endpoints.txt')],
  );
  assert.strictEqual(daemonEnv.GITHUB_STEP_SUMMARY, undefined);
  assert.deepStrictEqual(main.exported, { SSL_CERT_FILE: '/tmp/fake-cgfw-ca.pem' });
  assert.deepStrictEqual(main.outputs, {});
  assert.match(main.stdout, /protecting the job: daemon pid \d+, cgroup \/fake\/cgfw/);

  const post = await runner.step('post', { env, state: main.state });
  assert.strictEqual(post.status, 0, post.stdout + post.stderr);
  assert.ok(!isAlive(pid, state.startTime));
  assert.match(
    post.stdout,
    /^::group::cgfw daemon log\nfake cgfw: protecting pid 4242\nfake cgfw: SIGTERM, writing the reports\n::endgroup::$/m,
  );
  assert.strictEqual(post.outputs['exit-code'], '0');
  assert.strictEqual(post.outputs['blocked-count'], '5');
  assert.match(post.outputs['suggested-policy'], /^# suggested from a block report/);
  assert.strictEqual(count(post.stdout, '::error '), 4);
  assert.strictEqual(count(post.summary, 'FAKE MARKDOWN block'), 1);
  assert.strictEqual(main.summary, '');
});

test('fail-on-block: the daemon exits 3 and post fails the job', async () => {
  const { main, post } = await mainThenPost(makeRunner(), {
    inputs: { allow: 'github.com', 'fail-on-block': 'true' },
  });
  assert.strictEqual(main.status, 0);
  assert.strictEqual(post.status, 1);
  assert.strictEqual(post.outputs['exit-code'], '3');
  assert.match(
    post.stdout,
    /^::error::cgfw blocked 5 events and 'fail-on-block' is set \(exit status 3\)$/m,
  );
});

test('a daemon that died during the job makes post fail loudly, with its log', async () => {
  const { main, post } = await mainThenPost(makeRunner(), { env: { FAKE_CGFW_JOB: 'die' } });
  assert.strictEqual(main.status, 0, main.stdout);
  assert.strictEqual(post.status, 1);
  assert.match(
    post.stdout,
    /^::error::cgfw daemon died during the job: later steps had no network \(fail closed\); it exited with status 1; the end of its log \(.*daemon\.log\):%0Afake cgfw: protecting pid \d+$/m,
  );
});

test('a daemon that cannot start fails main with the end of its log', async () => {
  const runner = makeRunner();
  const { main, post } = await mainThenPost(runner, { env: { FAKE_CGFW_JOB: 'fail' } });
  assert.strictEqual(main.status, 1);
  assert.match(
    main.stdout,
    /^::error::cgfw: cgfw-sandbox exited with status 125 before protecting the job; the end of its log \(.*\):%0Acgfw-sandbox: --attach-pid: no such process$/m,
  );
  assert.strictEqual(post, null, 'no state: post has nothing to stop');
});

test('a daemon that never gets ready: main gives up in time, stops it, and shows its log', async () => {
  const runner = makeRunner();
  const started = Date.now();
  const { main } = await mainThenPost(runner, {
    env: { FAKE_CGFW_JOB: 'hang', CGFW_ACTION_TIMEOUT_SECONDS: '1' },
  });
  assert.ok(Date.now() - started < 10000);
  assert.strictEqual(main.status, 1);
  assert.match(
    main.stdout,
    /^::error::cgfw: cgfw-sandbox did not say it was protecting the job within 1 s; the end of its log \(.*daemon\.log\):%0A\(empty\)$/m,
  );
  const { pid } = record(runner);
  assert.ok(await poll(() => (isAlive(pid) ? undefined : true), 5000), 'the daemon was stopped');
});

test('not root: the daemon starts and stops through sudo', async () => {
  const runner = makeRunner();
  const sudoLog = runner.file('sudo.log');
  const { main, post } = await mainThenPost(runner, {
    env: { CGFW_ACTION_SUDO: path.join(fakeBin, 'sudo'), FAKE_SUDO_LOG: sudoLog },
  });
  assert.strictEqual(main.status, 0, main.stdout);
  assert.strictEqual(post.status, 0, post.stdout);
  const { pid } = record(runner);
  const calls = fs.readFileSync(sudoLog, 'utf8').trim().split('\n');
  assert.match(calls[0], new RegExp(`^sudo -n -E ${fakeBin}/cgfw-sandbox --attach-pid \\d+ `));
  assert.strictEqual(calls[1], `sudo -n kill -TERM -- ${pid}`);
  assert.ok(calls[0].includes('--audit'));
});
