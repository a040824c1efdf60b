'use strict';
// Finds (or builds) cgfw-sandbox and its report tool `cgfw` on this runner. Release downloads
// are not implemented: asking for a version that is not installed fails with what to do instead
// (docs/action.md, "Getting the binary").
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const core = require('@actions/core');

function findOnPath(name, searchPath) {
  for (const dir of (searchPath || '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.resolve(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}

// "cgfw-sandbox 0.1.0" -> "0.1.0"; a leading v in the input is accepted ("v0.1.0").
function installedVersion(binary) {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  const match = /(\d+\.\d+\.\d+\S*)/.exec(result.stdout || '');
  return match ? match[1] : null;
}

function wantsVersion(version) {
  return version !== '' && version !== 'installed';
}

function run(argv, what) {
  core.info(`cgfw: ${what}: ${argv.join(' ')}`);
  const result = spawnSync(argv[0], argv.slice(1), { stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(
      `${what} failed (${result.error ? result.error.message : `exit status ${result.status}`})`,
    );
  }
}

// build-from-source: the action's own checkout has the sources and scripts. Dependencies are apt
// packages (root); the build itself runs as the runner user, so actions/cache can save the
// directory. CGFW_BUILD_DIR moves it (the default is what docs/action.md tells actions/cache).
function buildFromSource(ctx) {
  const dir = ctx.env.CGFW_BUILD_DIR || path.join(ctx.temp, 'cgfw-build');
  const deps = path.join(ctx.actionRoot, 'scripts', 'install-deps.sh');
  // --build-only and CGFW_TESTS=OFF: a runner needs cgfw, not its test suite.
  run(
    ctx.sudo ? [ctx.sudo, '-n', deps, '--build-only'] : [deps, '--build-only'],
    'installing the build dependencies',
  );
  run([path.join(ctx.actionRoot, 'scripts', 'build.sh'), dir, '-DCGFW_TESTS=OFF'], 'building cgfw');
  return path.join(dir, 'cgfw-sandbox');
}

function resolveBinaries(inputs, ctx) {
  const sandbox = inputs.buildFromSource
    ? buildFromSource(ctx)
    : findOnPath('cgfw-sandbox', ctx.env.PATH);
  if (!sandbox) {
    throw new Error(
      'cgfw-sandbox is not installed on this runner (not found on PATH). Set ' +
        "'build-from-source: true' to build it from this action's sources, or install it in an " +
        'earlier step (docs/action.md, "Getting the binary").',
    );
  }
  if (wantsVersion(inputs.version)) {
    const wanted = inputs.version.replace(/^v/, '');
    const found = installedVersion(sandbox);
    if (found !== wanted) {
      throw new Error(
        `cgfw-sandbox ${wanted} was asked for (input 'version'), but ${sandbox} is ` +
          `${found ? `version ${found}` : 'of an unknown version'}. Downloading a release is not ` +
          "implemented yet: install that version before this step, or leave 'version' empty " +
          "and set 'build-from-source: true' to build the action's own version.",
      );
    }
  }
  // The report tool ships next to cgfw-sandbox (same build, same version); PATH is a fallback.
  const sibling = path.join(path.dirname(sandbox), 'cgfw');
  const tool = fs.existsSync(sibling) ? sibling : findOnPath('cgfw', ctx.env.PATH);
  return { sandbox, tool };
}

module.exports = { resolveBinaries, findOnPath, installedVersion, wantsVersion };
