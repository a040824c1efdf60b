'use strict';
// Watching the job-mode daemon from outside: liveness, status files, log tails, bounded waits.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const {
  STATUS_WRAPPER,
  procStat,
  isAlive,
  readStatus,
  tail,
  poll,
} = require('../src/daemon-process');
const { describeExit } = require('../src/exit-status');
const { tempDir } = require('./helpers');

const temp = () => tempDir('cgfw-daemon-');

test('a live process is alive; a recycled pid (another start time) or an exited one is not', async () => {
  const child = spawn('sleep', ['30']);
  const { startTime } = procStat(child.pid);
  assert.ok(isAlive(child.pid, startTime));
  assert.ok(!isAlive(child.pid, `${startTime}1`));
  child.kill();
  await new Promise((resolve) => child.on('close', resolve));
  assert.ok(!isAlive(child.pid, startTime));
});

test('the status wrapper records the exit status atomically', () => {
  const status = path.join(temp(), 'status');
  spawnSync('/bin/sh', ['-c', STATUS_WRAPPER, status, 'sh', '-c', 'exit 7']);
  assert.strictEqual(readStatus(status), 7);
  assert.ok(!fs.existsSync(`${status}.tmp`));
  assert.strictEqual(readStatus(path.join(temp(), 'none')), null);
});

test('the tail of a log is its last lines; a missing log says so', () => {
  const log = path.join(temp(), 'log');
  fs.writeFileSync(log, Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n') + '\n');
  assert.strictEqual(tail(log, 3), 'line 47\nline 48\nline 49');
  assert.match(tail(path.join(temp(), 'nope')), /^\(cannot read .*nope: ENOENT/);
});

test('poll returns the first value, or undefined once the time is up', async () => {
  let calls = 0;
  assert.strictEqual(await poll(() => (++calls === 3 ? 'ready' : undefined), 5000, 10), 'ready');
  const started = Date.now();
  assert.strictEqual(await poll(() => undefined, 200, 20), undefined);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 200 && elapsed < 2000, `waited ${elapsed} ms`);
});

test('exit statuses are explained; 3 is fail-on-block only when the command succeeded', () => {
  const report = { exit_status: 0, summary: { blocked: 2 } };
  assert.strictEqual(
    describeExit(3, report, { job: false }),
    "cgfw blocked 2 events and 'fail-on-block' is set (exit status 3)",
  );
  assert.strictEqual(
    describeExit(3, { exit_status: 3 }, { job: false }),
    'the command failed with exit status 3',
  );
  assert.match(describeExit(125, null, { job: true }), /^the cgfw daemon itself failed/);
  assert.strictEqual(
    describeExit(137, { signal: 9 }, { job: false }),
    'the command was killed by signal 9 (exit status 137)',
  );
});
