'use strict';
// After cgfw-sandbox has written its reports (wrap mode: when the command ends; job mode: when
// the daemon stops in `post`): outputs, annotations, the suggested policy and the step summary.
const fs = require('fs');
const { spawnSync } = require('child_process');
const core = require('@actions/core');
const { fromSarif, fromReport, toAnnotations } = require('./findings');

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

// `cgfw policy suggest --include-blocked`: for an audit run, the allow list it needed; for a
// block run, the lines it lacked (the flag changes nothing for audit runs).
function suggestPolicy(tool, reportPath) {
  if (!tool) {
    core.warning(
      "cgfw: the report tool 'cgfw' was not found next to cgfw-sandbox or on PATH: " +
        "no 'suggested-policy' output",
    );
    return null;
  }
  const result = spawnSync(tool, ['policy', 'suggest', '--include-blocked', reportPath], {
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    core.warning(`cgfw: '${tool} policy suggest' failed: ${(result.stderr || '').trim()}`);
    return null;
  }
  return result.stdout;
}

// The action, not cgfw-sandbox, appends the Markdown report to the step summary: cgfw-sandbox
// is started without GITHUB_STEP_SUMMARY (see cgfwEnvironment), so it is appended exactly once,
// and in job mode to the `post` step's summary rather than to the long-finished `main` step's.
function appendSummary(markdownPath, fallback) {
  const summary = process.env.GITHUB_STEP_SUMMARY;
  if (!summary) return;
  let text;
  try {
    text = fs.readFileSync(markdownPath, 'utf8');
  } catch {
    text = `**cgfw: no report**: ${fallback}\n`;
  }
  fs.appendFileSync(summary, text.endsWith('\n') ? `${text}\n` : `${text}\n\n`);
}

function publish({ layout, tool, workspace, failure }) {
  core.setOutput('report', layout.report);
  core.setOutput('sarif', layout.sarif);
  const report = readJson(layout.report);
  const sarif = readJson(layout.sarif);
  if (report) {
    // Distinct blocked events (docs/report.md, summary.blocked): in audit mode only unix sockets
    // and devices, which audit mode blocks too; what audit mode let through is would-block-count.
    core.setOutput('blocked-count', String(report.summary?.blocked ?? 0));
    core.setOutput('would-block-count', String(report.summary?.would_block ?? 0));
    const policy = suggestPolicy(tool, layout.report);
    if (policy !== null) core.setOutput('suggested-policy', policy);
  } else {
    core.warning(
      `cgfw: no JSON report at ${layout.report}: ${failure || 'cgfw-sandbox wrote none'}`,
    );
  }
  const findings = sarif ? fromSarif(sarif, workspace) : fromReport(report);
  for (const { level, message, properties } of toAnnotations(findings, {
    sarifPath: layout.sarif,
  })) {
    core[level](message, properties);
  }
  appendSummary(layout.markdown, failure || 'cgfw-sandbox wrote no Markdown report');
}

// cgfw-sandbox's environment: the step's, less GITHUB_STEP_SUMMARY (see appendSummary).
function cgfwEnvironment(env) {
  const copy = { ...env };
  delete copy.GITHUB_STEP_SUMMARY;
  return copy;
}

module.exports = { publish, appendSummary, suggestPolicy, cgfwEnvironment, readJson };
