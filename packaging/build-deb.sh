#!/usr/bin/env bash
# Builds the Debian package from this tree into OUTDIR:
#   packaging/build-deb.sh OUTDIR
# dpkg-buildpackage wants debian/ at the source root, so the tree (tracked
# files plus new, not ignored ones, as they are in the work tree) is copied
# to a temporary directory with packaging/debian as debian/. The checkout
# itself is never written to. Needs the Build-Depends of
# packaging/debian/control (scripts/install-deps.sh installs them).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)

# The package version is the project's: refuse to build a .deb whose
# changelog disagrees with meson.build.
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$root/meson.build" | head -n 1)
deb_version=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Version)
source=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Source)
if [ "${deb_version%-*}" != "$version" ]; then
  echo "build-deb: packaging/debian/changelog has $deb_version, meson.build $version" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sniproxy-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/$source-$version"
"$root/packaging/copy-tree.sh" "$src"
rm -rf "$src/debian"
cp -a "$root/packaging/debian" "$src/debian"

# Binary packages only, unsigned; nocheck: the package build registers no
# tests (-Dtests=false), tests/packaging tests the result instead.
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-nocheck}
(cd "$src" && dpkg-buildpackage -b -us -uc -J"$(nproc)")

cp "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out"/
ls -1 "$out"/*.deb
