#pragma once
// [quic]: the bounds of the QUIC listeners' pending flows and sessions, and
// the checks that only apply to a listener with protocol = "quic" (what a
// UDP listener and its routes cannot do).
#include <toml++/toml.h>

#include <map>
#include <string>

#include "config/config.hpp"
#include "config/table_reader.hpp"

namespace sniproxy::config {

Quic read_quic(const toml::table& table, DiagnosticSink& sink);

// Why a reload cannot apply `next` (fast_path switched, or its devices
// changed: the classifier is attached at start-up), or "".
std::string quic_reload_blocker(const Quic& running, const Quic& next);

// Errors (at the key or route concerned) for what a quic listener cannot
// honour: the TCP-only listener keys, a wildcard address (replies must leave
// from the address the client sent to), and what a datagram cannot carry
// (PROXY headers, Fast Open, a route's own source address, a pool whose
// servers are health-checked over TCP). `listener_table` is the
// [[listener]] table as written, for the key locations. Returns whether all
// was well.
bool check_quic_listener(const toml::table& listener_table, const Listener& listener,
                         const std::map<std::string, RouteTable>& tables,
                         const std::map<std::string, Pool>& pools, DiagnosticSink& sink);

}  // namespace sniproxy::config
