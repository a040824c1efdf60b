'use strict';
// Where things are on this runner, read from the variables the runner sets, so a test or a
// simulation gives the action a whole runner by setting the same variables. The CGFW_ACTION_*
// variables exist for tests and simulations only (docs/action.md).
const fs = require('fs');
const os = require('os');
const path = require('path');

// The directory holding action.yml: scripts/ and action/runner-endpoints.txt are found from it.
// Walked up to from this file, so it is the same from dist/ (the bundle) and action/src/.
function findActionRoot(env) {
  if (env.GITHUB_ACTION_PATH) return env.GITHUB_ACTION_PATH;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'action.yml'))) return dir;
    if (dir === path.dirname(dir)) return path.resolve(__dirname, '..');
  }
}

// How the action becomes root for cgfw-sandbox: not at all when it is root already (a container
// job), else `sudo -n` (never prompt: nobody can type a password on a runner).
function sudoProgram(env, uid) {
  if (env.CGFW_ACTION_SUDO) return env.CGFW_ACTION_SUDO;
  return uid === 0 ? null : 'sudo';
}

function runnerContext(env = process.env, uid = process.getuid()) {
  const seconds = Number(env.CGFW_ACTION_TIMEOUT_SECONDS);
  return {
    env,
    workspace: env.GITHUB_WORKSPACE || process.cwd(),
    temp: env.RUNNER_TEMP || os.tmpdir(),
    actionRoot: findActionRoot(env),
    sudo: sudoProgram(env, uid),
    isRoot: uid === 0,
    // Bounds both waits for the daemon: its start (ready file) and its stop (exit after SIGTERM).
    timeoutMs: (seconds > 0 ? seconds : 60) * 1000,
  };
}

module.exports = { runnerContext, sudoProgram, findActionRoot };
