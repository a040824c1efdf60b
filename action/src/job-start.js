'use strict';
// Job mode, `main`: starts cgfw-sandbox as a daemon that moves the runner's worker process into
// the sandbox, so every later step of the job (the worker's later children) is policed. Returns
// once the daemon says protection is in force, after exporting what later steps need; `post`
// (job-stop.js) stops it.
const fs = require('fs');
const { spawn } = require('child_process');
const core = require('@actions/core');
const { daemonCommand, shellQuote } = require('./command');
const { cgfwEnvironment } = require('./publish');
const {
  STATUS_WRAPPER,
  procStat,
  sendSignal,
  readStatus,
  tail,
  poll,
} = require('./daemon-process');

// The worker is this step's parent: the runner starts a JavaScript action's node directly.
// CGFW_ACTION_WORKER_PID replaces it in tests and simulations (docs/action.md).
function workerPid(env) {
  if (env.CGFW_ACTION_WORKER_PID) return Number(env.CGFW_ACTION_WORKER_PID);
  let comm = '';
  try {
    comm = fs.readFileSync(`/proc/${process.ppid}/comm`, 'utf8').trim();
  } catch {
    // unknown; warned below
  }
  if (comm !== 'Runner.Worker') {
    core.warning(
      `cgfw: this step's parent (pid ${process.ppid}) is '${comm}', not the runner's ` +
        "'Runner.Worker': later steps are protected only if they are its children",
    );
  }
  return process.ppid;
}

function readReady(file) {
  try {
    const ready = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (Number.isInteger(ready.pid) && ready.pid > 0) return ready;
  } catch {
    // not there yet (it is written by rename, so never half-written)
  }
  return undefined;
}

// Spawned detached (its own session and process group, which outlives this step) with its
// output in a log file: nothing ties this process to it, so `main` can end.
function spawnDaemon(argv, layout, env) {
  const log = fs.openSync(layout.log, 'a');
  const child = spawn('/bin/sh', ['-c', STATUS_WRAPPER, layout.status, ...argv], {
    detached: true,
    stdio: ['ignore', log, log],
    env,
  });
  fs.closeSync(log);
  child.unref();
  return child.pid;
}

async function startDaemon({ inputs, ctx, layout, allowFiles, binaries }) {
  const worker = workerPid(ctx.env);
  const argv = daemonCommand({
    inputs,
    layout,
    allowFiles,
    binary: binaries.sandbox,
    sudo: ctx.sudo,
    workerPid: worker,
  });
  core.info(`cgfw: ${inputs.mode} mode for the rest of the job: ${shellQuote(argv)}`);
  const group = spawnDaemon(argv, layout, cgfwEnvironment(ctx.env));

  const outcome = await poll(() => {
    const ready = readReady(layout.ready);
    if (ready) return { ready };
    const status = readStatus(layout.status);
    return status === null ? undefined : { status };
  }, ctx.timeoutMs);
  if (!outcome?.ready) {
    sendSignal(-group, 'TERM', ctx.sudo); // a late start must not police a job that failed
    const why = outcome
      ? `cgfw-sandbox exited with status ${outcome.status} before protecting the job`
      : `cgfw-sandbox did not say it was protecting the job within ${ctx.timeoutMs / 1000} s`;
    throw new Error(`${why}; the end of its log (${layout.log}):\n${tail(layout.log)}`);
  }

  const { ready } = outcome;
  core.info(`cgfw: protecting the job: daemon pid ${ready.pid}, cgroup ${ready.cgroup}`);
  for (const [name, value] of Object.entries(ready.env ?? {})) core.exportVariable(name, value);
  core.saveState(
    'cgfw',
    JSON.stringify({
      pid: ready.pid,
      startTime: procStat(ready.pid)?.startTime ?? null,
      sudo: ctx.sudo,
      tool: binaries.tool,
      layout,
    }),
  );
}

module.exports = { startDaemon, workerPid, readReady };
