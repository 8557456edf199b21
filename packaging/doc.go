// Package packaging holds the files of the Debian package that
// scripts/package.sh builds: the systemd units (systemd/), the
// /etc/default files (default/) and the maintainer scripts and control
// file (debian/). Its tests build the package, check its contents,
// install it with dpkg into a throwaway root and verify the units.
package packaging
