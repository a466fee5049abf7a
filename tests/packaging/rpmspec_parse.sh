#!/usr/bin/env bash
# packaging/rpm/sniproxy.spec parses (rpmspec -P expands every macro; the
# %meson fallbacks must work where Fedora's macro packages are missing),
# its version is meson.build's, and it installs what the .deb does. A full
# rpmbuild is left to packaging/build-rpm.sh: it compiles everything again.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
spec="$root/packaging/rpm/sniproxy.spec"
command -v rpmspec >/dev/null || "$root/scripts/install-deps.sh"

status=0
parsed=$(rpmspec -P "$spec" 2>&1) || { echo "FAIL: rpmspec -P:"; echo "$parsed"; exit 1; }
if grep -n '^\(warning\|error\):' <<<"$parsed"; then echo "FAIL: rpmspec -P warns"; status=1; fi
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$root/meson.build" | head -n 1)
spec_version=$(rpmspec -q --srpm --qf '%{version}' "$spec")
[ "$spec_version" = "$version" ] || { echo "FAIL: spec version $spec_version, meson.build $version"; status=1; }
# No macro may survive expansion in the build steps (an unknown %meson
# would be run by the shell as a command).
if sed -n '/^%build/,/^%files/p' <<<"$parsed" | grep -n '%{\?\(meson\|_unitdir\|_vpath\)'; then
  echo "FAIL: unexpanded macros in the build steps"; status=1
fi
for want in 'meson setup' '-Dtests=false' '-Dbenchmarks=false' '--buildtype=release' 'meson install' \
            '%config(noreplace) /etc/sniproxy/proxy.toml' '/usr/lib/systemd/system/sniproxy.service' \
            '/usr/share/man/man8/sniproxy.8*' '/usr/share/man/man5/sniproxy.toml.5*' 'useradd -r -g sniproxy' \
            '%config(noreplace) /etc/logrotate.d/sniproxy' 'packaging/logrotate/sniproxy'; do
  grep -qF -- "$want" <<<"$parsed" || { echo "FAIL: the expanded spec lacks: $want"; status=1; }
done
[ $status -eq 0 ] && echo "spec ok"
exit $status
