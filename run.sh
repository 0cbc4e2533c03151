#!/usr/bin/env bash
# Single point of execution: installs on first use, then runs the pipeline. Arguments go to `batch`.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f dist/cli/main.js ] || [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  ./install.sh
fi
exec node bin/batch.js "$@"
