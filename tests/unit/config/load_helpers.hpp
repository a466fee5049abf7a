#pragma once
// Small helpers shared by the config tests.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/loader.hpp"

namespace sniproxy::config::testing {

// The smallest valid config; tests append what they exercise.
inline constexpr std::string_view kMinimal = R"(
[[listener]]
address = "127.0.0.1:8443"
table = "t"

[[tables.t]]
match = "a.example"
backend = "127.0.0.1:9443"
)";

// Every diagnostic as "FILE:LINE:COL: message", file named "t.toml".
inline std::vector<std::string> errors_of(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& d : load_string(text, "t.toml").errors) out.push_back(d.to_string());
  return out;
}

// Loads text that must be valid and returns its Config.
inline Config must_load(std::string_view text) {
  auto r = load_string(text, "t.toml");
  for (const auto& d : r.errors) ADD_FAILURE() << d.to_string();
  if (!r.config) return Config{};
  return *r.config;
}

}  // namespace sniproxy::config::testing
