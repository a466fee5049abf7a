#pragma once
// Command-line parsing: pure, so it is unit-testable.
#include <optional>
#include <string>
#include <vector>

namespace sniproxy::app {

struct Options {
  enum class Command { run, check, version, help, probe, retrans };
  Command command = Command::run;
  std::string config_path;
  bool json = false;
  std::optional<double> interval_s;  // retrans --interval SEC
};

struct ParsedArgs {
  std::optional<Options> options;
  std::string error;  // set when options is empty
};

ParsedArgs parse_args(const std::vector<std::string>& args);
std::string usage();

}  // namespace sniproxy::app
