#!/usr/bin/env bash
# demo.sh runs ipfinder (and sdjoin) in a built-in virtual LAN of 20 hosts
# inside network namespaces, prints what they find and tears the LAN down.
# Nothing is sent on this machine's own network. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="/usr/local/go/bin:$PATH"
go build -o bin/ ./cmd/...
exec go run ./internal/lab/cmd/labdemo -bin bin "$@"
