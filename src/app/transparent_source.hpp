#pragma once
// source_address = "client" sets IP_TRANSPARENT on every upstream socket,
// which the kernel allows only with CAP_NET_RAW or CAP_NET_ADMIN. Tried once
// on a throwaway socket with the capabilities the workers run with, so that
// a missing one fails the start (or the reload that turns it on) with what
// to grant, not every connection with EPERM.
#include <string>

#include "config/config.hpp"

namespace sniproxy::app {

// "" when `config` uses no "client" source or the calling thread may set
// IP_TRANSPARENT; else why not and what to do.
std::string transparent_source_refusal(const config::Config& config);

}  // namespace sniproxy::app
