#!/bin/sh
# Container entry point: check the baked-in models' sha256 before running, then become edgeanon itself (exec,
# so it is PID 1 and receives docker stop's SIGTERM, which flushes the current bucket).
set -eu
if [ "${1:-}" = "run" ]; then
  if ! report=$(edgeanon models --verify 2>&1); then
    printf '%s\n' "$report" >&2
    echo "edgeanon-entrypoint: the models in this image fail their sha256 check; not starting" >&2
    exit 1
  fi
fi
exec edgeanon "$@"
