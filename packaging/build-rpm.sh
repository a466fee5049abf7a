#!/usr/bin/env bash
# Builds the RPM from this tree into OUTDIR:
#   packaging/build-rpm.sh OUTDIR [RPMBUILD-ARGS...]
# e.g. on Debian, whose rpm database knows none of the BuildRequires:
#   packaging/build-rpm.sh /tmp/rpms --nodeps
# The tree is packed as the spec's Source0 (sniproxy-uring-VERSION.tar.gz);
# rpmbuild works in a temporary _topdir, the checkout is never written to.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [RPMBUILD-ARGS...]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
shift
spec="$root/packaging/rpm/sniproxy.spec"

version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$root/meson.build" | head -n 1)
spec_version=$(rpmspec -q --srpm --qf '%{version}' "$spec")
name=$(rpmspec -q --srpm --qf '%{name}' "$spec")
if [ "$spec_version" != "$version" ]; then
  echo "build-rpm: packaging/rpm/sniproxy.spec has $spec_version, meson.build $version" >&2
  exit 1
fi

top=$(mktemp -d "${TMPDIR:-/tmp}/sniproxy-rpm.XXXXXX")
trap 'rm -rf "$top"' EXIT
mkdir -p "$top/SOURCES" "$top/src"
"$root/packaging/copy-tree.sh" "$top/src/$name-$version"
tar -C "$top/src" -czf "$top/SOURCES/$name-$version.tar.gz" "$name-$version"

rpmbuild -bb --define "_topdir $top" "$@" "$spec"
find "$top/RPMS" -name '*.rpm' -exec cp -t "$out" {} +
ls -1 "$out"/*.rpm
