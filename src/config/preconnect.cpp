#include "config/preconnect.hpp"

namespace sniproxy::config {

namespace {

std::optional<std::string> clash(std::uint32_t preconnect, bool fast_open,
                                 const std::optional<SourceAddress>& source) {
  if (preconnect == 0) return std::nullopt;
  if (fast_open)
    return "'preconnect' and 'fast_open' exclude each other: a preconnected socket has no SYN "
           "left for the hello to ride in";
  if (source && source->client)
    return "'preconnect' cannot be used with source_address = \"client\": the connect is made "
           "before the client is known";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> preconnect_clash(const Target& target) {
  return clash(target.preconnect, target.fast_open, target.source);
}

std::optional<std::string> preconnect_clash(const Pool& pool) {
  return clash(pool.preconnect, pool.fast_open, pool.source);
}

}  // namespace sniproxy::config
