#!/bin/bash
# alternate first builds: CI=1 vs interactive (daemon starts itself); daemon stopped before each
cd /tmp/batchfile-bench/projects/command-n1000-k10/batchfile-interactive
B=/work/main/bin/batch.js
for i in 1 2 3 4; do
  for mode in ci int; do
    node $B daemon stop >/dev/null 2>&1
    rm -rf .cache logs out && mkdir out
    s=$(date +%s%N)
    if [ $mode = ci ]; then CI=1 node $B -j 2 --no-tests >/dev/null 2>&1; else env -u CI -u BATCH_DAEMON node $B -j 2 --no-tests >/dev/null 2>&1; fi
    e=$(date +%s%N)
    echo "$mode $(( (e-s)/1000000 )) ms"
  done
done
node $B daemon stop >/dev/null 2>&1
