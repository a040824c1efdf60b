'use strict';
// The job-mode daemon seen from outside: it runs as root, started by an earlier process (main)
// than the one that stops it (post), so it is watched through its pid, /proc and two files: the
// ready file it writes, and the status file its wrapper shell writes when it exits.
const fs = require('fs');
const { spawnSync } = require('child_process');
const { setTimeout: sleep } = require('timers/promises');

// The shell between the action and the daemon: it outlives `main` and records the daemon's exit
// status (which `post`, not being its parent, could not wait for). Written by rename: a status
// file that exists is complete. $0 is the status file, "$@" the daemon's command line.
const STATUS_WRAPPER = '"$@"; status=$?; echo "$status" > "$0.tmp" && mv "$0.tmp" "$0"';

// Field 22 of /proc/PID/stat, the start time: with the pid it names one process for good, so a
// recycled pid is not taken for the daemon. The command name (field 2) may hold spaces and
// parentheses, hence the split at the last ')'.
function procStat(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], startTime: fields[19] };
  } catch {
    return null;
  }
}

// Signal 0 probes without signalling; EPERM means alive but root's (the daemon when we are not).
function isAlive(pid, startTime) {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (error.code !== 'EPERM') return false;
  }
  const stat = procStat(pid);
  if (!stat) return true; // no /proc to ask: the kill probe has the last word
  return stat.state !== 'Z' && (!startTime || stat.startTime === startTime);
}

// A negative pid signals the process group (the daemon's wrapper shell leads one).
function sendSignal(pid, signal, sudo) {
  if (!sudo) {
    try {
      process.kill(pid, `SIG${signal}`);
    } catch {
      // already gone
    }
    return;
  }
  spawnSync(sudo, ['-n', 'kill', `-${signal}`, '--', String(pid)], { stdio: 'ignore' });
}

function readStatus(file) {
  try {
    const status = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    return Number.isNaN(status) ? null : status;
  } catch {
    return null;
  }
}

function tail(file, count = 30) {
  try {
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    return lines.slice(-count).join('\n') || '(empty)';
  } catch (error) {
    return `(cannot read ${file}: ${error.message})`;
  }
}

// Polls CHECK every POLL ms until it returns something other than undefined, or TIMEOUT passes
// (then undefined). Polling: the daemon is no child of the waiting process in `post`.
async function poll(check, timeoutMs, pollMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await sleep(pollMs);
  }
}

module.exports = { STATUS_WRAPPER, procStat, isAlive, sendSignal, readStatus, tail, poll };
