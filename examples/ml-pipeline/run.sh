#!/usr/bin/env sh
# Runs the example with this checkout's batch: ./run.sh [batch arguments], e.g. ./run.sh metrics
here="$(cd "$(dirname "$0")" && pwd)"
exec node "$here/../../bin/batch.js" -C "$here" "$@"
