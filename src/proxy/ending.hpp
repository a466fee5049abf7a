#pragma once
// The one path by which every connection ends, whether refused at accept or
// closed after forwarding: its outcome and bytes counted for its listener,
// and its one access-log line.
#include <cstddef>

#include "observe/access_log.hpp"
#include "observe/metrics.hpp"
#include "proxy/runtime.hpp"

namespace sniproxy::proxy {

void record_ending(observe::Metrics& metrics, const Runtime& runtime, std::size_t listener_index,
                   const observe::AccessRecord& record);

}  // namespace sniproxy::proxy
