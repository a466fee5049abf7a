# shellcheck shell=bash
# Sourced by run-pool.sh and run-pingpong.sh: the parts of a bench config and
# of the load client's output they share.

# bench_toml_head MODE PORT [FORWARDING_LINES]: the top of a config with
# WORKERS workers, a quiet log, no access log, forwarding MODE (and any more
# [forwarding] lines) and one TLS listener on
# 127.0.0.1:PORT routing through table "bench"; the caller appends its
# [[tables.bench]] routes (and pools).
bench_toml_head() {
  cat <<TOML
workers = $WORKERS
log_level = "warn"

[process]
allow_root = true

[forwarding]
mode = "$1"
${3:-}

[access_log]
path = "off"

[[listener]]
name = "bench"
address = "127.0.0.1:$2"
table = "bench"

TOML
}

# kv KEY TEXT: the value of KEY=VALUE in one line of the load client's output.
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
