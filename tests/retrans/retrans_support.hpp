#pragma once
// Skips a retrans test when it cannot run here: without root, or on a kernel
// without a tracepoint the tracer needs (printing which). Anything else that
// fails is a test failure, not a skip.
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

namespace sniproxy::retrans_test {

// "" when every needed tracepoint exists, else the first one missing (or why
// tracefs is unusable).
std::string missing_tracepoint();

}  // namespace sniproxy::retrans_test

#define SKIP_UNLESS_RETRANS_POSSIBLE()                                                         \
  do {                                                                                         \
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_BPF, CAP_PERFMON, netns): skipped"; \
    if (auto missing = ::sniproxy::retrans_test::missing_tracepoint(); !missing.empty())       \
      GTEST_SKIP() << "kernel lacks " << missing << ": skipped";                               \
  } while (0)
