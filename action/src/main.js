'use strict';
// The action's `main` step (action.yml): wrap mode when `run` is given, else job mode.
const core = require('@actions/core');
const { readInputs } = require('./inputs');
const { runnerContext } = require('./context');
const { makeLayout, allowFiles } = require('./layout');
const { resolveBinaries } = require('./binary');
const { runWrapped } = require('./wrap');
const { startDaemon } = require('./job-start');

async function main() {
  const inputs = readInputs();
  const ctx = runnerContext();
  const binaries = resolveBinaries(inputs, ctx);
  const layout = makeLayout(inputs, ctx);
  const jobMode = inputs.run === '';
  const files = allowFiles(inputs, ctx, layout, { runnerEndpoints: jobMode });
  const plan = { inputs, ctx, layout, allowFiles: files, binaries };
  await (jobMode ? startDaemon(plan) : runWrapped(plan));
}

main().catch((error) => core.setFailed(`cgfw: ${error.message}`));
