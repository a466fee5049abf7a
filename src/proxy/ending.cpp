#include "proxy/ending.hpp"

namespace sniproxy::proxy {

void record_ending(observe::Metrics& metrics, const Runtime& runtime, std::size_t listener_index,
                   const observe::AccessRecord& record) {
  observe::ListenerMetrics& l = metrics.listener(listener_index);
  observe::bump(l.closed[static_cast<std::size_t>(record.outcome)]);
  observe::bump(l.bytes_from_client, record.bytes_in);
  observe::bump(l.bytes_from_backend, record.bytes_out);
  runtime.access_log->write(record);
}

}  // namespace sniproxy::proxy
