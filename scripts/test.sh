#!/usr/bin/env bash
# test.sh runs every test: formatting, vet, staticcheck, unit tests with the
# race detector, and (as root) the lab and interop tests against real
# avahi-daemon, erl, dnsmasq and memberlist nodes inside throwaway network
# namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="/usr/local/go/bin:$PATH"

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [[ -n $unformatted ]]; then
	echo "gofmt: these files need formatting (run gofmt -w):" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
.tools/staticcheck ./...
go test -race -count=1 -timeout 9m ./...
