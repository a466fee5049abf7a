#pragma once
// `source_address` of a listener, a route or a pool: the address upstream
// connects are bound to, an IP literal or "client" (the client's own, for a
// transparent proxy). A route's wins over its pool's, a pool's over the
// listener's.
#include <optional>

#include "config/config.hpp"
#include "config/table_reader.hpp"

namespace sniproxy::config {

// The `source_address` of the table `r` reads; nullopt when it is absent,
// or wrong (reported at its value).
std::optional<SourceAddress> read_source_address(TableReader& r);

// Whether any listener, route, fallback or pool binds upstream connects to
// the client's address (and so needs IP_TRANSPARENT).
bool uses_client_source(const Config& config);

}  // namespace sniproxy::config
