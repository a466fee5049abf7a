#include "bpf/retrans/capabilities.hpp"

#include <gtest/gtest.h>

namespace sniproxy::bpf {
namespace {

std::uint64_t bit(int capability) {
  return std::uint64_t{1} << capability;
}

TEST(TracingCapabilities, NoneNamesBoth) {
  EXPECT_EQ(missing_tracing_capabilities(0), (std::vector<std::string>{"CAP_BPF", "CAP_PERFMON"}));
}

TEST(TracingCapabilities, OneMissing) {
  EXPECT_EQ(missing_tracing_capabilities(bit(kCapBpf)), std::vector<std::string>{"CAP_PERFMON"});
  EXPECT_EQ(missing_tracing_capabilities(bit(kCapPerfmon)), std::vector<std::string>{"CAP_BPF"});
}

TEST(TracingCapabilities, BothOrSysAdminSuffice) {
  EXPECT_TRUE(missing_tracing_capabilities(bit(kCapBpf) | bit(kCapPerfmon)).empty());
  EXPECT_TRUE(missing_tracing_capabilities(bit(kCapSysAdmin)).empty());
}

TEST(TracingCapabilities, ReadsOwnSet) {
  EXPECT_TRUE(effective_capabilities().has_value());
}

}  // namespace
}  // namespace sniproxy::bpf
