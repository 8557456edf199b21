#!/bin/sh
# Remove virtual LANs (network namespaces "ipfl-...") left behind by crashed
# tests or benchmarks, killing what still runs in them. Pass -all to also
# remove labs of processes that are still running. Needs root.
set -eu
cd "$(dirname "$0")/.."
exec go run ./internal/lab/cmd/labclean "$@"
