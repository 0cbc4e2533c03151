#!/usr/bin/env bash
# The whole test-suite on a fresh clone: install, type-check, then the engine's tests.
# The HTML-report tests drive Debian's Chromium; install it with `apt-get install chromium`.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f dist/cli/main.js ] || [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  ./install.sh
fi
npx tsc --noEmit
npm test -- "$@"
