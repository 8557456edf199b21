#!/usr/bin/env bash
# setup.sh installs what the tests, benchmarks and the lab demo need on a
# fresh Debian machine: Debian packages (when root), Go modules and
# staticcheck (into .tools/, where test.sh runs it from).
# Daemons installed here are never started on this machine's own network:
# policy-rc.d blocks service starts during the install, and the lab runs its
# own avahi-daemon, dnsmasq and nmbd (samba) inside network namespaces only.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="/usr/local/go/bin:$PATH"
# groff-base renders the man pages, bash, zsh and fish run the completion
# scripts (internal/gendocs) and systemd brings systemd-analyze for the
# unit checks (packaging/); installing systemd starts nothing here.
packages=(avahi-daemon erlang-base dnsmasq-base nftables arp-scan ieee-data groff-base systemd bash zsh fish
	busybox curl dnsutils iproute2 procps time python3 python3-zeroconf samba nbtscan nmap chromium)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "setup: missing Debian packages: ${missing[*]}; run as root (sudo $0) to install them" >&2
	else
		echo "setup: installing ${missing[*]}" >&2
		policy=/usr/sbin/policy-rc.d
		saved=""
		if [[ -e $policy ]]; then saved=$(mktemp); cp -p "$policy" "$saved"; fi
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
		trap 'if [[ -n $saved ]]; then mv "$saved" '"$policy"'; else rm -f '"$policy"'; fi' EXIT
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
		if [[ " ${missing[*]} " == *" samba "* ]]; then
			# samba enables smbd, nmbd and samba-ad-dc at install: they would
			# start on this machine's network at the next boot. The lab runs
			# nmbd itself, inside its namespaces.
			for unit in smbd nmbd samba-ad-dc; do
				systemctl disable "$unit" >/dev/null 2>&1 || true
				update-rc.d "$unit" disable >/dev/null 2>&1 || true
			done
		fi
	fi
fi

if ! command -v go >/dev/null; then
	echo "setup: go not found: install Go 1.26 to /usr/local/go (https://go.dev/dl/)" >&2
	exit 1
fi
go mod download

# staticcheck, pinned, built from the module proxy into .tools/ so that it
# leaves any other staticcheck on this machine alone.
staticcheck=v0.8.2
if ! .tools/staticcheck -version 2>/dev/null | grep -qF "(${staticcheck#v})"; then
	echo "setup: installing staticcheck $staticcheck into .tools/" >&2
	GOBIN="$PWD/.tools" go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck"
fi
