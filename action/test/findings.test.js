'use strict';
// Annotations from the sample reports of tests/unit/data (JSON) and their SARIF logs
// (action/test/fixtures, made from them by `cgfw report sarif`).
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { fromSarif, fromReport, toAnnotations, MAX_PER_LEVEL } = require('../src/findings');
const { fixtures, repoRoot } = require('./helpers');

const load = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const dataDir = path.join(repoRoot, 'tests', 'unit', 'data'); // holds egress.txt
const sarifPath = '/ws/cgfw.sarif';

test('block run, from SARIF: errors with the exact rule to add or to change, at its line', () => {
  const annotations = toAnnotations(fromSarif(load(fixtures.blockSarif), dataDir), { sarifPath });
  assert.strictEqual(annotations.length, 4);
  assert.ok(annotations.every((a) => a.level === 'error'));
  const byTitle = Object.fromEntries(annotations.map((a) => [a.properties.title, a]));
  const evil = byTitle['cgfw: evil.test'];
  assert.match(evil.message, /To allow it, add the rule: evil\.test:443$/);
  assert.deepStrictEqual(
    { file: evil.properties.file, line: evil.properties.startLine },
    { file: 'egress.txt', line: 3 },
  );
  const widened = byTitle['cgfw: 198.51.100.11:8080/tcp'];
  assert.match(
    widened.message,
    /change the rule '\*\.allowed\.test:80' at egress\.txt:2:1 to: \*\.allowed\.test:80,8080/,
  );
  assert.strictEqual(widened.properties.startLine, 2);
});

test('locations outside the workspace, or of files that do not exist, are left out', () => {
  const [first] = toAnnotations(fromSarif(load(fixtures.blockSarif), '/nonexistent'), {
    sarifPath,
  });
  assert.strictEqual(first.properties.file, undefined);
  const [audit] = toAnnotations(fromSarif(load(fixtures.auditSarif), dataDir), { sarifPath });
  assert.strictEqual(audit.properties.file, undefined); // .github/cgfw-allow.txt: to be created
});

test('audit run, from SARIF: warnings naming what block mode would need', () => {
  const annotations = toAnnotations(fromSarif(load(fixtures.auditSarif), dataDir), { sarifPath });
  assert.deepStrictEqual(
    annotations.map((a) => a.level),
    ['warning', 'warning', 'warning', 'warning'],
  );
  assert.ok(annotations.some((a) => a.message.endsWith('add the rule: other.test:8080')));
});

test('block run, from the JSON events: one per distinct (destination, suggested rule)', () => {
  const annotations = toAnnotations(fromReport(load(fixtures.blockReport)), { sarifPath });
  // 5 blocked events; the two lookups of evil.test are one annotation.
  assert.strictEqual(annotations.length, 4);
  assert.deepStrictEqual(annotations[0], {
    level: 'error',
    message:
      'cgfw blocked /usr/bin/curl -> evil.test (dns layer): no rule allows this name. ' +
      'To allow it, add the rule: evil.test',
    properties: { title: 'cgfw: evil.test' },
  });
  assert.ok(
    annotations.some((a) => a.properties.title === 'cgfw: 198.51.100.11:8080/tcp (y.allowed.test)'),
  );
});

test('audit run, from the JSON events: would-block events are warnings', () => {
  const annotations = toAnnotations(fromReport(load(fixtures.auditReport)), { sarifPath });
  assert.ok(annotations.length > 0 && annotations.every((a) => a.level === 'warning'));
  assert.match(annotations[0].message, /^cgfw would block \(audit mode\)/);
  assert.strictEqual(new Set(annotations.map((a) => a.properties.title)).size, annotations.length);
});

test('a unix socket gets the --allow-unix option, a device the only way out, never a rule', () => {
  const report = {
    events: [
      {
        decision: 'blocked',
        layer: 'unix',
        path: '/run/docker.sock',
        reason: 'docker daemon',
        suggested_rule: '--allow-unix /run/docker.sock',
        process: { exe: '/usr/bin/docker' },
      },
      { decision: 'blocked', layer: 'device', path: '/dev/net/tun', process: { comm: 'openvpn' } },
    ],
  };
  const [unix, device] = toAnnotations(fromReport(report), { sarifPath });
  assert.match(
    unix.message,
    /run cgfw-sandbox with --allow-unix \/run\/docker\.sock \(unix sockets are opened by this option, not by allow rules\)/,
  );
  assert.doesNotMatch(unix.message, /add the rule/);
  assert.match(device.message, /^cgfw blocked openvpn -> \/dev\/net\/tun/);
  assert.match(device.message, /--allow-privileged/);
});

test('at most 10 per level: 9 findings and a note saying how many more', () => {
  const findings = [];
  for (let i = 0; i < 25; i++)
    findings.push({
      level: 'error',
      destination: `h${i}.test`,
      fix: [`h${i}.test:443`],
      message: `m${i}`,
    });
  findings.push({ level: 'warning', destination: 'w.test', fix: [], message: 'w' });
  const annotations = toAnnotations(findings, { sarifPath });
  const errors = annotations.filter((a) => a.level === 'error');
  assert.strictEqual(errors.length, MAX_PER_LEVEL);
  assert.match(errors.at(-1).message, /^16 more cgfw findings .* \/ws\/cgfw\.sarif list them all/);
  assert.strictEqual(annotations.filter((a) => a.level === 'warning').length, 1);
});
