#!/usr/bin/env bash
# Installs everything sniproxy needs to build, run and test on Debian 12, and
# gives BCC a kernel header tree when the running kernel has none. Idempotent:
# safe to run before every build.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
  build-essential g++ meson ninja-build pkg-config
  clang libclang-rt-14-dev
  liburing-dev libtomlplusplus-dev libc-ares-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libbpfcc-dev bpfcc-tools libbpf-dev bpftool
  iproute2 iptables openssl curl procps
  libcap2-bin  # capsh: the tests start the proxy with ambient capabilities
  libseccomp-dev  # the tests start the proxy where io_uring is blocked, as containers do
  libsystemd-dev logrotate
  libssl-dev  # libcrypto: QUIC Initial keys and AEAD (src/protocol/quic/)
  ngtcp2-client ngtcp2-server  # a real HTTP/3 client and server through the QUIC listener
  dpkg-dev debhelper rpm python3-yaml groff-base man-db systemd
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# ngtcp2-server ships a daemon (ngtcp2d, UDP 7777) that the tests do not
# want running beside them; they start their own servers.
if [ -d /run/systemd/system ] && systemctl is-enabled ngtcp2d >/dev/null 2>&1; then
  systemctl disable --now ngtcp2d >/dev/null 2>&1 || true
fi

# BCC compiles BPF C against /lib/modules/$(uname -r)/build. Kernels built
# outside Debian (as on our CI machines) have no such tree: point it at
# Debian's headers, which is enough for programs that read no kernel struct
# fields (see docs/kernel.md).
kdir="/lib/modules/$(uname -r)"
if [ ! -e "$kdir/build/include" ]; then
  if ! ls -d /usr/src/linux-headers-*-amd64 >/dev/null 2>&1; then
    echo "install-deps: installing linux-headers-amd64 for BCC"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends linux-headers-amd64 >/dev/null
  fi
  build=$(ls -d /usr/src/linux-headers-*-amd64 | sort -V | tail -n 1)
  common=$(ls -d /usr/src/linux-headers-*-common | sort -V | tail -n 1)
  mkdir -p "$kdir"
  ln -sfn "$build" "$kdir/build"
  ln -sfn "$common" "$kdir/source"
  echo "install-deps: BCC header tree $kdir/build -> $build"
fi

# Filesystems a fresh machine may lack (tracepoints and pinned maps need them).
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
mountpoint -q /sys/fs/bpf 2>/dev/null || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
