'use strict';
// The sentence setFailed says for a cgfw-sandbox exit status (README.md, "Exit status").
// 3 is ambiguous in wrap mode (the command may exit 3 itself): the report tells the two apart.

function blockedText(report) {
  const blocked = report?.summary?.blocked;
  return blocked === undefined ? 'something' : `${blocked} event${blocked === 1 ? '' : 's'}`;
}

function describeExit(status, report, { job }) {
  const who = job ? 'the cgfw daemon' : 'cgfw-sandbox';
  if (status === 125) return `${who} itself failed (exit status 125): see its messages above`;
  if (status === 3 && (job || report?.exit_status === 0)) {
    return `cgfw blocked ${blockedText(report)} and 'fail-on-block' is set (exit status 3)`;
  }
  if (job) return `${who} exited with status ${status}`;
  if (status > 128)
    return `the command was killed by signal ${status - 128} (exit status ${status})`;
  return `the command failed with exit status ${status}`;
}

module.exports = { describeExit };
