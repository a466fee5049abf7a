#pragma once
// How many worker threads a config asks for: `workers`, or one per CPU when
// it is 0. The master binds one listening socket per thread with it.
#include "config/config.hpp"

namespace sniproxy::app {

unsigned worker_threads(const config::Config& config);

}  // namespace sniproxy::app
