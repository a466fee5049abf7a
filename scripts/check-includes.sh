#!/usr/bin/env bash
# Checks the include rules of docs/design.md: dependencies point down, BPF
# features use the loader and never each other, pure folders include no I/O
# header, and only src/reactor/ knows io_uring. Prints each breach as
# FILE:LINE: rule, and exits 1 if there is one. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/../src"

# What each folder may include from src/ (besides itself).
declare -A allowed=(
  [common]="common"
  [protocol]="common protocol"
  [config]="common config"
  [routing]="common config routing"
  [upstream]="common config protocol upstream"
  [dns]="common config dns"
  [reactor]="common reactor"
  [bpf/loader]="common reactor bpf/loader"
  [bpf/sockmap]="common bpf/loader bpf/sockmap"
  [bpf/xdp]="common config bpf/loader bpf/xdp"
  [bpf/retrans]="common bpf/loader bpf/retrans"
  [bpf/dns_mirror]="common dns bpf/dns_mirror"
  [bpf/quic_fast_path]="common bpf/loader bpf/quic_fast_path"
  [bpf/local_redirect]="common bpf/loader bpf/local_redirect"
  [observe]="common config protocol reactor observe"
  [proxy]="common config protocol routing upstream dns reactor bpf observe proxy"
  [app]="common config protocol routing upstream dns reactor bpf observe proxy app"
)
# Pure folders: functions of bytes and config, no system I/O headers.
pure_dirs="protocol routing upstream"
io_headers='<(sys/[a-z_]+|unistd|fcntl|poll|netdb|arpa/inet|netinet/[a-z_]+|liburing)\.h>'

breaches=0
breach() { echo "src/$1: $2"; breaches=$((breaches + 1)); }

folder_of() {  # the rule folder of a path: bpf/<sub> or the first component
  case $1 in
    bpf/*) echo "$1" | cut -d/ -f1-2 ;;
    *) echo "${1%%/*}" ;;
  esac
}

while IFS= read -r file; do
  folder=$(folder_of "$file")
  rules=${allowed[$folder]:-}
  if [ -z "$rules" ]; then
    breach "$file" "folder $folder has no include rule in scripts/check-includes.sh"
    continue
  fi
  while IFS=: read -r line target; do
    target_folder=$(folder_of "$target")
    ok=0
    for a in $rules; do
      case $target_folder in "$a" | "$a"/*) ok=1 ;; esac
    done
    [ $ok = 1 ] || breach "$file:$line" "$folder may not include $target"
  done < <(grep -noE '^#include "[a-z_]+/[^"]+"' "$file" | sed -E 's/:#include "/:/; s/"$//')
  for p in $pure_dirs; do
    if [ "$folder" = "$p" ]; then
      grep -nE "^#include $io_headers" "$file" | while IFS=: read -r line text; do
        echo "src/$file:$line: pure folder $folder includes $text"
      done | grep . && breaches=$((breaches + 1))
    fi
  done
  if [ "$folder" != reactor ]; then
    uring=$(grep -nE 'liburing\.h|io_uring_(prep_|sqe|cqe|get_sqe|submit)' "$file" | head -1 | cut -d: -f1 || true)
    [ -z "$uring" ] || breach "$file:$uring" "only src/reactor/ may use io_uring"
  fi
done < <(find . -name '*.cpp' -o -name '*.hpp' | sed 's|^\./||' | sort)

if [ $breaches -gt 0 ]; then
  echo "check-includes: $breaches breach(es)"
  exit 1
fi
echo "check-includes: every include follows the rules"
