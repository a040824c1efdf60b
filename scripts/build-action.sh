#!/usr/bin/env bash
# Builds the GitHub Action's committed bundles dist/main.js and dist/post.js from action/src,
# with exactly the npm packages of action/package-lock.json (npm ci). Deterministic: the same
# sources and lock file give byte-identical bundles, on Debian 12's node 18 / npm 9 as on node 20,
# so scripts/test-action.sh can check that the committed dist/ is what this script builds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/action"

# --ignore-scripts: esbuild's postinstall only checks its platform binary, which npm installs as
# the optional dependency @esbuild/<platform>; no package gets to run code at install time.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

# Run from action/ with relative paths: the paths esbuild writes into the bundle's comments
# (node_modules/@actions/core/lib/core.js) are then the same on every machine.
# --target=node18: the bundle runs on the runner's node20 and on Debian's node 18 in CI.
for entry in main post; do
  node_modules/.bin/esbuild "src/$entry.js" --bundle --platform=node --target=node18 \
    --format=cjs --charset=utf8 --legal-comments=eof --log-level=warning \
    --outfile="../dist/$entry.js"
done
echo "build-action: dist/main.js dist/post.js"
