#include "retrans_support.hpp"

#include "bpf/loader/tracefs.hpp"

namespace sniproxy::retrans_test {

std::string missing_tracepoint() {
  auto tracefs = bpf::ensure_tracefs();
  if (!tracefs.ok()) return "a usable tracefs (" + tracefs.error().message + ")";
  for (const char* name : {"tcp:tcp_retransmit_skb", "sock:inet_sock_set_state",
                           "tcp:tcp_destroy_sock", "sock:sock_send_length"}) {
    if (!bpf::tracepoint_exists(tracefs->path, name)) return std::string("tracepoint ") + name;
  }
  return "";
}

}  // namespace sniproxy::retrans_test
