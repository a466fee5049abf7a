#pragma once
// [retrans]: attribute the proxy's TCP retransmits to its connections
// (server name, backend, side). Off unless the section is present: it costs
// a BCC compile (~0.7 s) at start-up.
#include <toml++/toml.h>

#include "config/config.hpp"
#include "config/table_reader.hpp"

namespace sniproxy::config {

Retrans read_retrans(const toml::table& table, DiagnosticSink& sink);

// Why a change of [retrans] needs a restart ("" when it does not).
std::string retrans_reload_blocker(const std::optional<Retrans>& running,
                                   const std::optional<Retrans>& next);

}  // namespace sniproxy::config
