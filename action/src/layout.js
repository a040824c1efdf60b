'use strict';
// Where one use of the action keeps its files. Reports go where the inputs say (relative to the
// workspace); everything else goes in a fresh directory under RUNNER_TEMP, which the runner
// empties after the job.
const fs = require('fs');
const path = require('path');

function makeLayout(inputs, ctx) {
  const dir = fs.mkdtempSync(path.join(ctx.temp, 'cgfw-'));
  const report = path.resolve(ctx.workspace, inputs.report);
  const sarif = path.resolve(ctx.workspace, inputs.sarif);
  // cgfw-sandbox writes its reports when the run ends: a missing directory would lose them then.
  for (const file of [report, sarif]) fs.mkdirSync(path.dirname(file), { recursive: true });
  return {
    dir,
    report,
    sarif,
    markdown: path.join(dir, 'report.md'),
    allowInput: path.join(dir, 'allow.txt'),
    ready: path.join(dir, 'ready.json'),
    log: path.join(dir, 'daemon.log'),
    status: path.join(dir, 'daemon.status'),
  };
}

// The allow files cgfw-sandbox gets, in this order: the workflow's own files (so SARIF locations,
// "the last line of the first allow file", point into the repository), the `allow` input written
// out verbatim (line N of the file is line N of the input, so a report's FILE:LINE can be found
// in the workflow), and in job mode the runner's own endpoints, a separate file so the reports
// say which rules are the runner's.
function allowFiles(inputs, ctx, layout, { runnerEndpoints }) {
  const files = inputs.allowFiles.map((file) => path.resolve(ctx.workspace, file));
  if (inputs.allowText !== '') {
    fs.writeFileSync(layout.allowInput, `${inputs.allowText}\n`);
    files.push(layout.allowInput);
  }
  if (runnerEndpoints) files.push(path.join(ctx.actionRoot, 'action', 'runner-endpoints.txt'));
  return files;
}

module.exports = { makeLayout, allowFiles };
