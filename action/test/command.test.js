'use strict';
// The cgfw-sandbox command lines of both modes, as root and through sudo.
const test = require('node:test');
const assert = require('node:assert');
const { wrapCommand, daemonCommand, shellQuote } = require('../src/command');
const { sudoProgram } = require('../src/context');

const layout = {
  report: '/ws/cgfw-report.json',
  sarif: '/ws/cgfw.sarif',
  markdown: '/tmp/cgfw-x/report.md',
  ready: '/tmp/cgfw-x/ready.json',
};
const inputs = {
  mode: 'block',
  run: 'make test && echo "done"',
  failOnBlock: true,
  dnsUpstreams: ['1.1.1.1'],
};
const files = ['/ws/egress.txt', '/tmp/cgfw-x/allow.txt'];
const reports = [
  '--report-json',
  layout.report,
  '--report-sarif',
  layout.sarif,
  '--report-md',
  layout.markdown,
];

test('wrap mode as root: no sudo, the command after --, as `shell: bash` runs it', () => {
  const argv = wrapCommand({
    inputs,
    layout,
    allowFiles: files,
    binary: '/bin/cgfw-sandbox',
    sudo: null,
    path: '/x',
  });
  assert.deepStrictEqual(argv, [
    '/bin/cgfw-sandbox',
    '--allow-file',
    '/ws/egress.txt',
    '--allow-file',
    '/tmp/cgfw-x/allow.txt',
    '--dns-upstream',
    '1.1.1.1',
    '--fail-on-block',
    ...reports,
    '--',
    'bash',
    '--noprofile',
    '--norc',
    '-eo',
    'pipefail',
    '-c',
    'make test && echo "done"',
  ]);
});

test('wrap mode through sudo keeps the environment and puts PATH back after secure_path', () => {
  const argv = wrapCommand({
    inputs: { ...inputs, mode: 'audit', failOnBlock: false, dnsUpstreams: [] },
    layout,
    allowFiles: [],
    binary: '/bin/cgfw-sandbox',
    sudo: 'sudo',
    path: '/opt/node/bin:/usr/bin',
  });
  assert.deepStrictEqual(argv.slice(0, 7), [
    'sudo',
    '-n',
    '-E',
    '/usr/bin/env',
    'PATH=/opt/node/bin:/usr/bin',
    '/bin/cgfw-sandbox',
    '--audit',
  ]);
  assert.ok(!argv.includes('--fail-on-block'));
});

test('job mode: the worker pid and the ready file, no command', () => {
  const argv = daemonCommand({
    inputs: { ...inputs, failOnBlock: false, dnsUpstreams: [] },
    layout,
    allowFiles: files.slice(0, 1),
    binary: '/bin/cgfw-sandbox',
    sudo: 'sudo',
    workerPid: 4242,
  });
  assert.deepStrictEqual(argv, [
    'sudo',
    '-n',
    '-E',
    '/bin/cgfw-sandbox',
    '--attach-pid',
    '4242',
    '--ready-file',
    layout.ready,
    '--allow-file',
    '/ws/egress.txt',
    ...reports,
  ]);
});

test('sudo only when not root, or the test stand-in when one is named', () => {
  assert.strictEqual(sudoProgram({}, 0), null);
  assert.strictEqual(sudoProgram({}, 1001), 'sudo');
  assert.strictEqual(sudoProgram({ CGFW_ACTION_SUDO: '/t/sudo' }, 0), '/t/sudo');
});

test('commands are logged shell-quoted', () => {
  assert.strictEqual(
    shellQuote(['bash', '-c', "echo 'hi' $HOME"]),
    `bash -c 'echo '\\''hi'\\'' $HOME'`,
  );
});
