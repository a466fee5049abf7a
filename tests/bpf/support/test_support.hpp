#pragma once
// Helpers shared by the BPF tests: privilege checks and loopback traffic.
#include <unistd.h>

#include <gtest/gtest.h>

#define SKIP_UNLESS_ROOT()                                                              \
  do {                                                                                  \
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_BPF, CAP_PERFMON): skipped"; \
  } while (0)

namespace sniproxy::bpf::testing {

// Opens and closes one TCP connection on 127.0.0.1 (fires sock:inet_sock_set_state).
void make_loopback_connection();

}  // namespace sniproxy::bpf::testing
