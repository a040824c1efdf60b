'use strict';
// A simulated GitHub runner for the action's process tests: the files and variables a runner
// gives a step (GITHUB_OUTPUT, GITHUB_ENV, GITHUB_STATE, GITHUB_STEP_SUMMARY, RUNNER_TEMP,
// GITHUB_WORKSPACE, INPUT_*), the fake cgfw binaries first on PATH, and readers for the file
// commands @actions/core writes (`name<<DELIMITER ... DELIMITER`).
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const repoRoot = path.resolve(__dirname, '..', '..');
const fakeBin = path.join(__dirname, 'fake');
const fixtures = {
  blockReport: path.join(repoRoot, 'tests', 'unit', 'data', 'report-block.json'),
  auditReport: path.join(repoRoot, 'tests', 'unit', 'data', 'report-audit.json'),
  blockSarif: path.join(__dirname, 'fixtures', 'report-block.sarif'),
  auditSarif: path.join(__dirname, 'fixtures', 'report-audit.sarif'),
};

// A temporary directory removed when the test file's process exits.
const made = [];
process.on('exit', () => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

// Parses a file-command file into {name: value}; a later line for the same name wins.
function parseFileCommands(text) {
  const values = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i]);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2], i + 1);
      values[heredoc[1]] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (lines[i].includes('=')) {
      const at = lines[i].indexOf('=');
      values[lines[i].slice(0, at)] = lines[i].slice(at + 1);
    }
  }
  return values;
}

// One runner: a workspace and a temp directory shared by the job's steps; each step gets fresh
// output, env, state and summary files, as the runner gives it.
function makeRunner() {
  const root = tempDir('cgfw-action-test-');
  const dirs = { workspace: path.join(root, 'workspace'), temp: path.join(root, 'temp') };
  for (const dir of Object.values(dirs)) fs.mkdirSync(dir);
  let steps = 0;

  function stepFiles() {
    const dir = path.join(root, `step-${++steps}`);
    fs.mkdirSync(dir);
    const files = {};
    for (const name of ['output', 'env', 'state', 'summary']) {
      files[name] = path.join(dir, name);
      fs.writeFileSync(files[name], '');
    }
    return files;
  }

  // Runs dist/ENTRY.js (what ships) as the runner would; resolves with its status, output and
  // the file commands it wrote.
  function step(entry, { inputs = {}, env = {}, state = {} } = {}) {
    const files = stepFiles();
    const stepEnv = {
      PATH: `${fakeBin}${path.delimiter}${process.env.PATH}`,
      HOME: process.env.HOME || root,
      GITHUB_OUTPUT: files.output,
      GITHUB_ENV: files.env,
      GITHUB_STATE: files.state,
      GITHUB_STEP_SUMMARY: files.summary,
      GITHUB_WORKSPACE: dirs.workspace,
      RUNNER_TEMP: dirs.temp,
      GITHUB_ACTION_PATH: repoRoot,
      CGFW_ACTION_WORKER_PID: String(process.pid),
      FAKE_CGFW_REPORT: fixtures.blockReport,
      FAKE_CGFW_SARIF: fixtures.blockSarif,
      ...env,
    };
    for (const [name, value] of Object.entries(inputs)) {
      stepEnv[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
    }
    for (const [name, value] of Object.entries(state)) stepEnv[`STATE_${name}`] = value;
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(repoRoot, 'dist', `${entry}.js`)], {
        cwd: dirs.workspace,
        env: stepEnv,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (data) => (stdout += data));
      child.stderr.on('data', (data) => (stderr += data));
      child.on('close', (status) => {
        const read = (name) => parseFileCommands(fs.readFileSync(files[name], 'utf8'));
        resolve({
          status,
          stdout,
          stderr,
          outputs: read('output'),
          exported: read('env'),
          state: read('state'),
          summary: fs.readFileSync(files.summary, 'utf8'),
        });
      });
    });
  }

  return { root, ...dirs, step, file: (name) => path.join(root, name) };
}

module.exports = { makeRunner, parseFileCommands, tempDir, fixtures, repoRoot, fakeBin };
