'use strict';
// Wrap mode (`run` given): the command runs inside cgfw-sandbox in this step; its output streams
// through, its exit status becomes the step's, and the reports are published when it ends.
const os = require('os');
const { spawn } = require('child_process');
const core = require('@actions/core');
const { wrapCommand, shellQuote } = require('./command');
const { publish, readJson, cgfwEnvironment } = require('./publish');
const { describeExit } = require('./exit-status');

// Resolves with the exit status, 128+N for a signal as a shell reports it. A cancelled step gets
// SIGINT/SIGTERM from the runner: passed on, so cgfw-sandbox ends the command and still writes
// its reports.
function runInherited(argv, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit', env });
    const forward = (signal) => child.kill(signal);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    // Only a failed spawn is fatal; a signal that could not be passed on is not.
    child.on('error', (error) => child.pid === undefined && reject(error));
    child.on('close', (code, signal) => {
      process.off('SIGINT', forward).off('SIGTERM', forward);
      resolve(signal ? 128 + os.constants.signals[signal] : code);
    });
  });
}

async function runWrapped({ inputs, ctx, layout, allowFiles, binaries }) {
  const argv = wrapCommand({
    inputs,
    layout,
    allowFiles,
    binary: binaries.sandbox,
    sudo: ctx.sudo,
    path: ctx.env.PATH || '',
  });
  core.info(`cgfw: ${inputs.mode} mode: ${shellQuote(argv)}`);
  const status = await runInherited(argv, cgfwEnvironment(ctx.env));
  core.setOutput('exit-code', String(status));
  const report = readJson(layout.report);
  const failure = status === 0 ? '' : describeExit(status, report, { job: false });
  publish({ layout, tool: binaries.tool, workspace: ctx.workspace, failure });
  if (status !== 0) core.setFailed(failure);
}

module.exports = { runWrapped, runInherited };
