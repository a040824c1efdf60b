'use strict';
// Job mode, `post`: stops the daemon `main` started (SIGTERM: it then writes its reports and
// exits), publishes the reports, and fails the job loudly if the daemon had died on the way:
// from that moment the kernel side cut the job's network (fail closed), so the later steps
// failed for a reason their own logs do not give.
const core = require('@actions/core');
const { publish, readJson } = require('./publish');
const { describeExit } = require('./exit-status');
const { isAlive, sendSignal, readStatus, tail, poll } = require('./daemon-process');

async function stopDaemon(state, ctx) {
  const { layout } = state;
  const died = readStatus(layout.status) !== null || !isAlive(state.pid, state.startTime);
  let status = readStatus(layout.status);
  if (!died) {
    sendSignal(state.pid, 'TERM', state.sudo);
    status = await poll(() => readStatus(layout.status) ?? undefined, ctx.timeoutMs);
  }

  core.startGroup('cgfw daemon log');
  core.info(tail(layout.log, 1000));
  core.endGroup();

  let failure = '';
  if (died) {
    failure =
      'cgfw daemon died during the job: later steps had no network (fail closed)' +
      `${status === null ? '' : `; it exited with status ${status}`}; the end of its log ` +
      `(${layout.log}):\n${tail(layout.log)}`;
  } else if (status === undefined) {
    failure =
      `the cgfw daemon (pid ${state.pid}) did not stop within ${ctx.timeoutMs / 1000} s ` +
      `of SIGTERM; the end of its log (${layout.log}):\n${tail(layout.log)}`;
  } else if (status !== 0) {
    failure = describeExit(status, readJson(layout.report), { job: true });
  }
  if (status !== null && status !== undefined) core.setOutput('exit-code', String(status));
  publish({ layout, tool: state.tool, workspace: ctx.workspace, failure });
  if (failure) core.setFailed(failure);
}

module.exports = { stopDaemon };
