#!/usr/bin/env bash
# Isolated environment: node_modules pinned by package-lock.json, engine built once (dist/).
set -euo pipefail
cd "$(dirname "$0")"
need_major=20; need_minor=19
v=$(node -p 'process.versions.node' 2>/dev/null || true)
if [ -z "$v" ]; then echo "install.sh: Node.js >= ${need_major}.${need_minor} is required (https://nodejs.org)" >&2; exit 1; fi
maj=${v%%.*}; rest=${v#*.}; min=${rest%%.*}
if [ "$maj" -lt "$need_major" ] || { [ "$maj" -eq "$need_major" ] && [ "$min" -lt "$need_minor" ]; }; then
  echo "install.sh: Node.js >= ${need_major}.${need_minor} is required, found $v" >&2; exit 1
fi
# `npm ci` installs exactly the lock file (no dependency needs its install script: the
# prebuilt platform packages suffice; package.json's allowScripts says so), then the build.
npm ci --no-audit --no-fund
npm run build --silent
