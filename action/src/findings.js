'use strict';
// Turns a run's reports into annotations. The SARIF log is the source: its results are cgfw's
// findings (one per kind, destination and executable) with the exact rule line to add, or the
// rule to change, already computed as `cgfw policy suggest` does (docs/reports.md). The JSON
// report's events are the fallback when there is no SARIF log: each event's suggested_rule.
const fs = require('fs');
const path = require('path');

// The runner keeps 10 error and 10 warning annotations per step and drops the rest
// (Runner.Worker's _maxIssueCount), so more would be lost silently: 9 plus a note.
const MAX_PER_LEVEL = 10;

function levelOf(sarifLevel) {
  return sarifLevel === 'error' ? 'error' : 'warning';
}

// An annotation points at the line to edit when it is a file of the workspace that exists;
// locations outside it (the `allow` input's file under RUNNER_TEMP) or files still to create
// (.github/cgfw-allow.txt) would only show as a broken link.
function locationOf(result, workspace) {
  const physical = result.locations?.[0]?.physicalLocation;
  const uri = physical?.artifactLocation?.uri;
  if (!uri || physical.artifactLocation.uriBaseId !== '%SRCROOT%') return {};
  if (!fs.existsSync(path.join(workspace, uri))) return {};
  return { file: uri, startLine: physical.region?.startLine };
}

function fromSarif(sarif, workspace) {
  const results = sarif?.runs?.[0]?.results ?? [];
  return results.map((result) => {
    const properties = result.properties ?? {};
    return {
      level: levelOf(result.level),
      destination: properties.destination ?? '',
      fix: [...(properties.rulesToAdd ?? []), ...(properties.optionsToAdd ?? [])],
      message: result.message?.text ?? '',
      ...locationOf(result, workspace),
    };
  });
}

function fixText(event) {
  const suggested = event.suggested_rule;
  if (event.layer === 'unix') {
    return (
      `To allow it, run cgfw-sandbox with ${suggested} (unix sockets are opened by this ` +
      'option, not by allow rules).'
    );
  }
  if (event.layer === 'device') {
    return (
      'No rule or option allows it other than --allow-privileged, which turns every ' +
      'restriction of the sandbox off.'
    );
  }
  return suggested ? `To allow it, add the rule: ${suggested}` : '';
}

function destinationOf(event) {
  if (event.path) return event.path;
  if (event.url) return event.url;
  if (event.layer === 'dns' && event.domain) return event.domain;
  return `${event.ip}:${event.port}/${event.protocol}${event.domain ? ` (${event.domain})` : ''}`;
}

// Blocked events in both modes (unix sockets and devices are blocked in audit mode too), and the
// events an audit run would have blocked.
function fromReport(report) {
  const events = (report?.events ?? []).filter((e) => e.decision === 'blocked' || e.would_block);
  return events.map((event) => {
    const who = event.process?.exe ?? event.process?.comm ?? 'a process';
    const verb = event.decision === 'blocked' ? 'cgfw blocked' : 'cgfw would block (audit mode)';
    const destination = destinationOf(event);
    const reason = event.reason ? `: ${event.reason}` : '';
    const fix = fixText(event);
    return {
      level: event.decision === 'blocked' ? 'error' : 'warning',
      destination,
      fix: event.suggested_rule ? [event.suggested_rule] : [],
      message: `${verb} ${who} -> ${destination} (${event.layer} layer)${reason}. ${fix}`.trim(),
    };
  });
}

// One annotation per distinct (destination, fix): the same destination reached by several
// executables needs one rule, said once. Capped per level, the last slot saying how many more.
function toAnnotations(findings, { sarifPath }) {
  const seen = new Set();
  const byLevel = { error: [], warning: [] };
  for (const finding of findings) {
    const key = `${finding.destination}\n${finding.fix.join(' ')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    byLevel[finding.level].push(finding);
  }
  const annotations = [];
  for (const [level, list] of Object.entries(byLevel)) {
    const shown = list.length > MAX_PER_LEVEL ? list.slice(0, MAX_PER_LEVEL - 1) : list;
    for (const finding of shown) {
      annotations.push({
        level,
        message: finding.message,
        properties: {
          title: `cgfw: ${finding.destination}`,
          ...(finding.file ? { file: finding.file, startLine: finding.startLine } : {}),
        },
      });
    }
    if (shown.length < list.length) {
      annotations.push({
        level,
        message:
          `${list.length - shown.length} more cgfw findings of this level are not ` +
          `annotated (GitHub keeps 10 per step): the step summary and ${sarifPath} list them all.`,
        properties: { title: 'cgfw: more findings' },
      });
    }
  }
  return annotations;
}

module.exports = { fromSarif, fromReport, toAnnotations, MAX_PER_LEVEL };
