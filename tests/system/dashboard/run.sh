#!/usr/bin/env bash
# run.sh RAFTD WORKDIR: installs playwright-core into WORKDIR (once), then runs the
# dashboard test there. Fails loudly if Chromium or Node.js is missing: scripts/setup
# installs both.
set -euo pipefail
raftd="$1"
work="$2"
here="$(cd "$(dirname "$0")" && pwd)"
command -v node >/dev/null || { echo "dashboard test: node not found (run scripts/setup)" >&2; exit 1; }
chromium="${CHROMIUM:-$(command -v chromium || true)}"
[ -x "$chromium" ] || { echo "dashboard test: chromium not found (run scripts/setup)" >&2; exit 1; }
mkdir -p "$work"
cp "$here/package.json" "$here/dashboard_test.mjs" "$work/"
cd "$work"
if [ ! -d node_modules/playwright-core ]; then
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi
exec node dashboard_test.mjs "$raftd" "$chromium" "$work"
