'use strict';
// Reads the action's inputs (action.yml) once, checks them, and returns a plain object: the rest
// of the action never calls core.getInput, so every rule about inputs lives here and is tested
// here. Each input is read by a getInput call naming it literally: a test matches those names
// against action.yml.
const core = require('@actions/core');

const MODES = ['audit', 'block'];

// One value per line; blank lines dropped. Used for the inputs that map to repeatable options.
function lines(text) {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

// YAML 1.2 core-schema booleans, as core.getBooleanInput takes them, but an empty input (the
// input not given, e.g. in a test without INPUT_ variables) means the default instead of an error.
function parseBoolean(name, text, fallback) {
  if (text === '') return fallback;
  if (['true', 'True', 'TRUE'].includes(text)) return true;
  if (['false', 'False', 'FALSE'].includes(text)) return false;
  throw new Error(`input '${name}' must be true or false, not '${text}'`);
}

// Block when the workflow gave an allow list (it means to enforce it), audit when it gave none
// (an empty allow list in block mode would block everything: nobody means that by default).
function chooseMode(text, hasAllowList) {
  const mode = text.trim().toLowerCase();
  if (mode === '') return hasAllowList ? 'block' : 'audit';
  if (!MODES.includes(mode)) {
    throw new Error(`input 'mode' must be 'audit' or 'block', not '${text.trim()}'`);
  }
  return mode;
}

function readInputs() {
  // Untrimmed: written out verbatim, so that line N of the allow file is line N of the input.
  const allowText = core.getInput('allow', { trimWhitespace: false });
  const allowFiles = lines(core.getInput('allow-file'));
  const hasAllowText = allowText.trim() !== '';
  return {
    mode: chooseMode(core.getInput('mode'), hasAllowText || allowFiles.length > 0),
    allowText: hasAllowText ? allowText : '',
    allowFiles,
    run: core.getInput('run'),
    failOnBlock: parseBoolean('fail-on-block', core.getInput('fail-on-block'), false),
    sarif: core.getInput('sarif') || 'cgfw.sarif',
    report: core.getInput('report') || 'cgfw-report.json',
    dnsUpstreams: lines(core.getInput('dns-upstream')),
    version: core.getInput('version'),
    buildFromSource: parseBoolean('build-from-source', core.getInput('build-from-source'), false),
  };
}

module.exports = { readInputs, chooseMode, parseBoolean, lines };
