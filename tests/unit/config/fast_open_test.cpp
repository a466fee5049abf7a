// [[listener]] fast_open_queue: TCP Fast Open on a listener, off unless set.
#include <gtest/gtest.h>

#include <string>

#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using testing::errors_of;
using testing::must_load;

constexpr std::string_view kFastOpenTable = R"(
[[tables.t]]
match = "a.example"
backend = "127.0.0.1:9443"
)";

std::string fast_open_config(std::string_view listener) {
  return std::string(listener) + std::string(kFastOpenTable);
}

TEST(FastOpenQueue, OffUnlessSet) {
  Config c = must_load(fast_open_config(R"(
[[listener]]
address = "127.0.0.1:8443"
table = "t"

[[listener]]
address = "127.0.0.1:8444"
table = "t"
fast_open_queue = 16
)"));
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].fast_open_queue, 0u);
  EXPECT_EQ(c.listeners[1].fast_open_queue, 16u);
}

TEST(FastOpenQueue, OutOfRangeNamesWhere) {
  for (const char* value : {"0", "65536", "-1"}) {
    const auto errors = errors_of(fast_open_config(std::string(R"(
[[listener]]
address = "127.0.0.1:8443"
table = "t"
fast_open_queue = )") + value + "\n"));
    ASSERT_EQ(errors.size(), 1u) << value;
    EXPECT_EQ(errors[0],
              std::string("t.toml:5:19: 'fast_open_queue' must be from 1 to 65535, got ") + value);
  }
}

TEST(FastOpenQueue, MustBeAnInteger) {
  const auto errors = errors_of(fast_open_config(R"(
[[listener]]
address = "127.0.0.1:8443"
table = "t"
fast_open_queue = true
)"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("t.toml:5:19:"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("fast_open_queue"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace sniproxy::config
