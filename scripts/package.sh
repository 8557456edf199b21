#!/usr/bin/env bash
# package.sh builds dist/ipfinder_VERSION_ARCH.deb: ipfinder and sdjoin
# in /usr/bin, their man pages and bash/zsh/fish completions (docs/), the
# systemd units and /etc/default files (packaging/) and the maintainer
# scripts that create the system users and grant ipfinder CAP_NET_RAW.
#
#   scripts/package.sh && sudo apt install ./dist/ipfinder_*.deb
#
# VERSION (default: 0.0~gitDATE.REV from the checkout), GOARCH (default:
# this machine's) and DIST (default: dist) override.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

for tool in go dpkg-deb gzip; do
	command -v "$tool" >/dev/null || { echo "package: $tool not found: install it (go: https://go.dev/dl/)" >&2; exit 1; }
done

arch=${GOARCH:-$(go env GOARCH)}
if [[ -z ${VERSION:-} ]]; then
	rev=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
	date=$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date -u +%Y%m%d)
	VERSION="0.0~git$date.$rev"
	if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then VERSION+="+dirty"; fi
fi
if [[ ! $VERSION =~ ^[0-9][A-Za-z0-9.+~-]*$ ]]; then
	echo "package: bad VERSION $VERSION: want a Debian version starting with a digit, such as 1.2.0" >&2
	exit 2
fi
dist=${DIST:-dist}
mkdir -p "$dist"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

# Binaries: static, reproducible paths, stripped, the version stamped,
# without urfave/cli's unused doc generators (README, Install).
mkdir -p "$root/usr/bin"
CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -tags urfave_cli_no_docs \
	-ldflags "-s -w -X github.com/ipfinder-go/ipfinder/internal/version.version=$VERSION" \
	-o "$root/usr/bin/" ./cmd/ipfinder ./cmd/sdjoin

# Documentation and completions, as generated (TestDocsFresh keeps them fresh).
install -d "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" \
	"$root/usr/share/zsh/vendor-completions" "$root/usr/share/fish/vendor_completions.d" \
	"$root/usr/share/doc/ipfinder"
for cmd in ipfinder sdjoin; do
	gzip -9n <"docs/man/$cmd.1" >"$root/usr/share/man/man1/$cmd.1.gz"
	install -m 644 "docs/completion/$cmd.bash" "$root/usr/share/bash-completion/completions/$cmd"
	install -m 644 "docs/completion/_$cmd" "$root/usr/share/zsh/vendor-completions/_$cmd"
	install -m 644 "docs/completion/$cmd.fish" "$root/usr/share/fish/vendor_completions.d/$cmd.fish"
done
gzip -9n <README.md >"$root/usr/share/doc/ipfinder/README.md.gz"

# Units and their options.
install -d "$root/usr/lib/systemd/system" "$root/etc/default"
install -m 644 packaging/systemd/sdjoin.service packaging/systemd/ipfinder.service \
	packaging/systemd/ipfinder.timer "$root/usr/lib/systemd/system/"
install -m 644 packaging/default/sdjoin packaging/default/ipfinder "$root/etc/default/"

# Control file and maintainer scripts.
install -d "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	packaging/debian/control >"$root/DEBIAN/control"
install -m 644 packaging/debian/conffiles "$root/DEBIAN/"
install -m 755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"

chmod -R u=rwX,go=rX "$root"
deb="$dist/ipfinder_${VERSION}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
